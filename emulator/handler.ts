// What an emulated behaviour sees of a request, and what it answers: the hook
// `ProxyOptions.handlers` of ec2-proxy.ts runs each handler before the
// proxy's built-in behaviours; the first one to answer wins, `undefined`
// passes the request on.
import type * as http from "node:http";

/** One HTTP answer, as the proxy writes it to the client. */
export interface Reply {
    status: number;
    headers: http.OutgoingHttpHeaders;
    body: string;
}

export interface HandlerContext {
    /** The Query-protocol `Action` (e.g. `RunInstances`); `(none)` for requests without one (JSON protocols such as SSM). */
    action: string;
    /** The form-encoded request body. */
    params: URLSearchParams;
    /** The region of the request's SigV4 credential scope. @default "us-east-1" when the request is unsigned */
    region: string;
    /** The service of the request's SigV4 credential scope (`ec2`, `ssm`, `autoscaling`); undefined when unsigned. */
    service?: string;
    /** moto's endpoint, e.g. `http://127.0.0.1:5000`: it serves every service (SSM too) on that one port. */
    target: string;
    /** Sends a Query-protocol body to moto with the client's headers and returns moto's answer. */
    forward(body: string): Promise<Reply>;
}

export type Handler = (ctx: HandlerContext) => Promise<Reply | undefined>;

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
