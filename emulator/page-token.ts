// The emulator's pagination tokens: opaque to clients, bound to the action and
// to the request's other parameters, and resuming after the key of the last
// item handed out in an order by key (so that deleting what was read, as a
// sweep does, skips nothing, and new items never shift a page).
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

export function encodePageToken(action: string, digest: string, lastKey: string): string {
    const body: TokenBody = { a: action, h: digest, k: lastKey };
    return Buffer.from(PREFIX + JSON.stringify(body)).toString("base64url");
}

/** Orders items by their key, the order pages are handed out in. */
export function byKey<T>(items: T[], keyOf: (item: T) => string): T[] {
    return [...items].sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0));
}

/** Where the next page starts in `keys` (sorted), or undefined when the token is not one of this request's. */
export function resumeAt(token: string, action: string, digest: string, keys: string[]): number | undefined {
    const text = Buffer.from(token, "base64url").toString("utf8");
    if (!text.startsWith(PREFIX)) return undefined;
    let body: Partial<TokenBody>;
    try {
        body = JSON.parse(text.slice(PREFIX.length)) as Partial<TokenBody>;
    } catch {
        return undefined;
    }
    if (body.a !== action || body.h !== digest || typeof body.k !== "string") return undefined;
    const last = body.k;
    const at = keys.findIndex((k) => k > last);
    return at < 0 ? keys.length : at;
}

/** Cuts one page out of `items` (sorted by key) from `start`: the page and the token of the next one (undefined on the last page). */
export function cutPage<T>(
    items: T[],
    keyOf: (item: T) => string,
    start: number,
    limit: number,
    action: string,
    digest: string,
): { page: T[]; nextToken?: string } {
    const page = items.slice(start, start + limit);
    if (start + page.length >= items.length || page.length === 0) return { page };
    return { page, nextToken: encodePageToken(action, digest, keyOf(page[page.length - 1])) };
}
