// What an emulated behaviour sees of a request, and what it answers: the hook
// `ProxyOptions.handlers` of ec2-proxy.ts runs each handler before the
// proxy's built-in behaviours; the first one to answer wins, `undefined`
// passes the request on.
// The types live here, not in the proxy, so that handlers and the proxy both
// import this file and nothing imports back.
import type * as http from "node:http";
import type { Reply } from "./ec2-xml";

export type { Reply };

/** What an extra action handler (ProxyOptions.handlers) gets for each request. */
export interface HandlerContext {
    action: string;
    /** The request's Query parameters (Action and Version included). */
    params: URLSearchParams;
    /** The region in the request's SigV4 credential scope ("us-east-1" when unsigned). */
    region: string;
    /** The service of the request's SigV4 credential scope (`ec2`, `ssm`, `autoscaling`); undefined when unsigned. */
    service?: string;
    /** moto's endpoint, e.g. `http://127.0.0.1:5000`: it serves every service (SSM too) on that one port. */
    target: string;
    req: http.IncomingMessage;
    /** The raw request body. */
    body: string;
    /**
     * The proxy's options in force for this request (ProxyOptions of
     * ec2-proxy.ts, defaults filled in); typed loosely so that this file needs
     * nothing from the proxy. Handlers take their own options when made.
     */
    options: Readonly<object>;
    /** Forwards this request (or this body instead) to moto with the client's headers. */
    forward(body?: string): Promise<Reply>;
    /** Answers this request as the proxy would without this handler (the built-in emulation, the image service, then moto). */
    next(): Promise<Reply>;
    /** The proxy's own call to moto in the client's region and account; not counted in stats. */
    moto(action: string, params: Record<string, string>): Promise<Reply>;
    /** The emulator's clock in epoch milliseconds (ProxyOptions.now, moved by advanceClock). */
    now(): number;
    /** A PRNG in [0, 1) seeded from ProxyOptions.seed, separate from the fault draws. */
    random(): number;
}

/** An extra action handler: a Reply answers the request, undefined passes it on. */
export type ProxyHandler = (ctx: HandlerContext) => Promise<Reply | undefined>;
/** The name handlers use for ProxyHandler. */
export type Handler = ProxyHandler;

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
