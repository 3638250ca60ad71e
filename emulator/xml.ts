// EC2 Query-protocol helpers for the emulated behaviours (references,
// builders): the proxy's envelopes, the InvalidAction answer, and reading
// elements out of moto's (regular) XML with string operations.
import { ec2Error, type Reply, xmlUnescape } from "./ec2-xml";

// The envelopes and escaping are the proxy's own (ec2-xml.ts), written once.
export { API_VERSION, ec2Error, ec2Success, xmlEscape, xmlUnescape } from "./ec2-xml";

/**
 * What an endpoint that lacks an action answers (real EC2 in a partition or
 * Region where the action is not released, or an older emulator): HTTP 400
 * `InvalidAction`, "The action or operation requested is invalid" (EC2 API
 * reference, "Common client error codes").
 */
export function invalidAction(action: string): Reply {
    return ec2Error(400, "InvalidAction", `The action ${action} is not valid for this web service.`);
}

/** The top-level `<item>`s inside `<set>...</set>`; nested items stay inside theirs. */
export function itemsOf(xml: string, set: string): string[] {
    const open = xml.indexOf(`<${set}>`);
    if (open < 0) return [];
    const from = open + set.length + 2;
    const items: string[] = [];
    let depth = 0;
    let start = 0;
    for (const m of xml.slice(from).matchAll(/<(\/?)item(?:\s[^>]*?)?(\/?)>/g)) {
        const at = m.index ?? 0;
        if (m[2] === "/") {
            if (depth === 0) items.push(m[0]);
        } else if (m[1] !== "/") {
            if (depth === 0) start = at;
            depth++;
        } else if (depth === 0) {
            break; // the set's own end was passed
        } else if (--depth === 0) {
            items.push(xml.slice(from + start, from + at + m[0].length));
        }
    }
    return items;
}

/** The text of the first `<tag>` in `xml`. */
export function textOf(xml: string, tag: string): string | undefined {
    const m = new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(xml);
    return m ? xmlUnescape(m[1]) : undefined;
}

/** `[index, value]` of the parameters whose key matches `pattern` (its first group the index), in index order. */
export function indexed(params: URLSearchParams, pattern: RegExp): [string, string][] {
    return [...params.entries()]
        .map(([k, v]) => [pattern.exec(k)?.[1], v] as const)
        .filter((e): e is [string, string] => e[0] !== undefined)
        .sort(([a], [b]) => Number(a) - Number(b));
}
