// EC2 Query-protocol answers: the XML envelopes of a success and of an error
// (the same shapes as ec2-proxy.ts writes), and reading elements out of
// moto's (regular) XML with string operations.
import { randomUUID } from "node:crypto";
import type { Reply } from "./handler";

export const API_VERSION = "2016-11-15";
const XMLNS = `http://ec2.amazonaws.com/doc/${API_VERSION}/`;

export function xmlEscape(s: string): string {
    return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

export function xmlUnescape(s: string): string {
    return s
        .replace(/&lt;/g, "<")
        .replace(/&gt;/g, ">")
        .replace(/&quot;/g, '"')
        .replace(/&apos;/g, "'")
        .replace(/&amp;/g, "&");
}

function xmlReply(status: number, body: string): Reply {
    return { status, headers: { "content-type": "text/xml;charset=UTF-8" }, body };
}

/** EC2's error envelope for the Query protocol. */
export function ec2Error(status: number, code: string, message: string): Reply {
    return xmlReply(
        status,
        `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${xmlEscape(code)}</Code>` +
            `<Message>${xmlEscape(message)}</Message></Error></Errors><RequestID>${randomUUID()}</RequestID></Response>`,
    );
}

/** A successful answer to `action` with these elements after requestId. */
export function ec2Success(action: string, inner: string): Reply {
    return xmlReply(
        200,
        `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${XMLNS}"><requestId>${randomUUID()}</requestId>${inner}</${action}Response>`,
    );
}

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
