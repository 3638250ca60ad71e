// What an emulated behaviour sees of a request, and what it answers: the hook
// `ProxyOptions.handlers` of ec2-proxy.ts runs each handler before the
// proxy's built-in behaviours; the first one to answer wins, `undefined`
// passes the request on.
import type * as http from "node:http";

// One context type for every handler: the proxy's (a type-only import, so no
// module cycle at run time).
export type { HandlerContext, ProxyHandler as Handler, Reply } from "./ec2-proxy";

/** Region and service from `Authorization: AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/ec2/aws4_request, ...`. */
export function credentialScope(headers: http.IncomingHttpHeaders): { region: string; service?: string } {
    const m = /Credential=[^/,\s]+\/\d{8}\/([^/,\s]+)\/([^/,\s]+)\/aws4_request/.exec(String(headers.authorization ?? ""));
    return m ? { region: m[1], service: m[2] } : { region: "us-east-1" };
}

/** mulberry32: a tiny seeded PRNG with uniform output in [0, 1) (the same as the proxy's fault draws). */
export function mulberry32(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}
