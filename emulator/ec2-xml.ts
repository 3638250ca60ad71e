// EC2's Query-protocol answers (XML) for the emulator: the envelope of a
// success and of an error, and string operations on moto's (regular) output.
// Shared by the proxy and by extra action handlers (ProxyOptions.handlers).
import { randomUUID } from "node:crypto";
import type * as http from "node:http";

export const API_VERSION = "2016-11-15";
export const XMLNS = `http://ec2.amazonaws.com/doc/${API_VERSION}/`;

/** An HTTP answer the proxy sends back to the client. */
export interface Reply {
    status: number;
    headers: http.OutgoingHttpHeaders;
    body: string;
}

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

export function xmlReply(status: number, body: string): Reply {
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

/** Real EC2's answer to an action on an image id it does not know. */
export function imageNotFound(imageId: string): Reply {
    return ec2Error(400, "InvalidAMIID.NotFound", `The image id '[${imageId}]' does not exist`);
}

/** The top-level `<item>`s of a set; nested items (block devices, tags) stay inside theirs. */
export function topLevelItems(inner: string): string[] {
    const items: string[] = [];
    let depth = 0;
    let start = 0;
    for (const m of inner.matchAll(/<(\/?)item(?:\s[^>]*?)?(\/?)>/g)) {
        const at = m.index ?? 0;
        if (m[2] === "/") {
            if (depth === 0) items.push(m[0]);
        } else if (m[1] !== "/") {
            if (depth === 0) start = at;
            depth++;
        } else if (--depth === 0) {
            items.push(inner.slice(start, at + m[0].length));
        }
    }
    return items;
}

/** The items of the first `<setName>` in xml (empty when absent or `<setName/>`). */
export function setItems(xml: string, setName: string): string[] {
    const open = xml.indexOf(`<${setName}>`);
    if (open < 0) return [];
    const close = xml.indexOf(`</${setName}>`, open);
    return topLevelItems(xml.slice(open + setName.length + 2, close < 0 ? undefined : close));
}

export interface ImagesParts {
    head: string;
    items: string[];
    tail: string;
}

/** Splits a DescribeImages answer into what precedes the images, the image items, and what follows. */
export function splitImages(xml: string): ImagesParts | undefined {
    const empty = xml.indexOf("<imagesSet/>");
    if (empty >= 0) return { head: xml.slice(0, empty), items: [], tail: xml.slice(empty + "<imagesSet/>".length) };
    const open = xml.indexOf("<imagesSet>");
    const close = xml.indexOf("</imagesSet>", open);
    if (open < 0 || close < 0) return undefined;
    return {
        head: xml.slice(0, open),
        items: topLevelItems(xml.slice(open + "<imagesSet>".length, close)),
        tail: xml.slice(close + "</imagesSet>".length),
    };
}

export function joinImages(parts: ImagesParts, nextToken?: string): string {
    let tail = parts.tail.replace(/<nextToken>[^<]*<\/nextToken>|<nextToken\/>/, "");
    if (nextToken) tail = tail.replace("</DescribeImagesResponse>", `<nextToken>${nextToken}</nextToken></DescribeImagesResponse>`);
    return `${parts.head}<imagesSet>${parts.items.join("")}</imagesSet>${tail}`;
}

/** The text of the first `<tag>` in an item (image-level tags such as imageId do not occur nested). */
export function tagText(item: string, tag: string): string | undefined {
    const m = new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(item);
    return m ? xmlUnescape(m[1]) : undefined;
}

/** Replaces an image-level element (removing it when `innerXml` is undefined). */
export function setElement(item: string, tag: string, innerXml: string | undefined): string {
    const without = item.replace(new RegExp(`<${tag}>[\\s\\S]*?</${tag}>|<${tag}/>`, "g"), "");
    if (innerXml === undefined) return without;
    const end = without.lastIndexOf("</item>");
    return `${without.slice(0, end)}<${tag}>${innerXml}</${tag}>${without.slice(end)}`;
}

export function snapshotIdsOf(item: string): string[] {
    return [...item.matchAll(/<snapshotId>([^<]+)<\/snapshotId>/g)].map((m) => m[1]);
}
