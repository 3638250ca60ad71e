// The emulator's pagination tokens: opaque to clients, bound to the action and
// to the request's other parameters, and resuming after the last item handed
// out (so that deleting what was read, as a sweep does, skips nothing).
//
// "Pagination continues from the end of the items returned by the previous
// request" (NextToken, e.g. DescribeSnapshots, Amazon EC2 API Reference,
// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeSnapshots.html).
// Whether EC2 refuses a token replayed with other filters the reference does
// not say; the emulator refuses it (the reading hardest on a client).
import { createHash } from "node:crypto";

const PREFIX = "golden-ami-page:";

interface TokenBody {
    /** The action the token belongs to. */
    a: string;
    /** A digest of the request's other parameters. */
    h: string;
    /** The offset of the next item when the token was made (used when the last item is gone). */
    o: number;
    /** The key of the last item handed out. */
    k: string;
}

/** A digest of a request's parameters other than the paging ones, independent of their order. */
export function requestDigest(entries: [string, string][], ignored: string[] = ["NextToken", "MaxResults"]): string {
    const kept = entries
        .filter(([k]) => !ignored.includes(k))
        .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0));
    return createHash("sha256").update(JSON.stringify(kept)).digest("base64url").slice(0, 16);
}

export function encodePageToken(action: string, digest: string, offset: number, lastKey: string): string {
    const body: TokenBody = { a: action, h: digest, o: offset, k: lastKey };
    return Buffer.from(PREFIX + JSON.stringify(body)).toString("base64url");
}

/** Where the next page starts in `keys`, or undefined when the token is not one of this request's. */
export function resumeAt(token: string, action: string, digest: string, keys: string[]): number | undefined {
    const text = Buffer.from(token, "base64url").toString("utf8");
    if (!text.startsWith(PREFIX)) return undefined;
    let body: Partial<TokenBody>;
    try {
        body = JSON.parse(text.slice(PREFIX.length)) as Partial<TokenBody>;
    } catch {
        return undefined;
    }
    if (body.a !== action || body.h !== digest || typeof body.o !== "number" || typeof body.k !== "string") return undefined;
    const at = keys.indexOf(body.k);
    return at >= 0 ? at + 1 : Math.min(body.o, keys.length);
}

/** Cuts one page out of `items` from `start`: the page and the token of the next one (undefined on the last page). */
export function cutPage<T>(
    items: T[],
    keyOf: (item: T) => string,
    start: number,
    limit: number,
    action: string,
    digest: string,
): { page: T[]; nextToken?: string } {
    const page = items.slice(start, start + limit);
    const end = start + page.length;
    if (end >= items.length || page.length === 0) return { page };
    return { page, nextToken: encodePageToken(action, digest, end, keyOf(page[page.length - 1])) };
}
