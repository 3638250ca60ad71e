// The benchmark's EC2: per region, one moto_server behind one EC2 proxy
// (emulator/ec2-proxy.ts, with token buckets and latency), and in front of
// them one loopback router that clients see as the EC2 endpoint. The router
// sends each request to its region's proxy (by the region of its SigV4
// credential scope) and counts what it sees: requests per region and per
// token bucket, RequestLimitExceeded answers, the first and last request.
//
// One moto per region, because moto serves one request at a time per process
// (Python): real EC2 regions are independent, and on a 2-core machine three
// regions in one moto would serialise what EC2 does in parallel.
//
// Between each proxy and its moto sits a small answer cache for
// DescribeImages (see startDescribeCache): the proxy pages DescribeImages by
// asking moto for everything and slicing, and moto spends ~2 ms per image
// rendering its answer, so without the cache a 3,000-image inventory paged
// by 1,000 would cost moto three full renders: emulator time no EC2 has.
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { Ec2Proxy, ProxyOptions, startEc2Proxy } from "../emulator/ec2-proxy";
import { startMoto } from "../scripts/lib/moto";
import { bucketKey } from "./ec2-buckets";
import { joinImages, splitImages, tagText } from "../emulator/ec2-xml";

export type Moto = Awaited<ReturnType<typeof startMoto>>;

export interface RegionCounts {
    /** Requests EC2 accepted (answered anything but RequestLimitExceeded), per bucket key (see ec2-buckets.ts). */
    accepted: Record<string, number>;
    throttled: number;
    requests: number;
}

export interface RouterStats {
    requests: number;
    throttled: number;
    byAction: Record<string, number>;
    byRegion: Record<string, RegionCounts>;
    /** Per action: its first request and last answer (Date.now()), and the summed time the router waited for its answers. */
    timeline: Record<string, { first: number; last: number; waitedMs: number }>;
    /** Date.now() of the first request and of the last answer (undefined before any). */
    first?: number;
    last?: number;
}

export interface Ec2Emulator {
    /** Give this to clients as the EC2 endpoint (AWS_ENDPOINT_URL_EC2). */
    endpoint: string;
    regions: string[];
    /** The moto of a region. */
    moto(region: string): Moto;
    /** An endpoint straight to the region's moto (through its answer cache), for fixtures and sweeps that must not be counted. */
    direct(region: string): string;
    proxy(region: string): Ec2Proxy;
    stats(): RouterStats;
    resetStats(): void;
    /** Wipes every region's moto. */
    reset(): Promise<void>;
    setProxyOptions(patch: Partial<ProxyOptions>): void;
    stop(): Promise<void>;
}

/** The region of a SigV4-signed request: `Credential=AKID/20261201/us-east-1/ec2/aws4_request`. */
function scopeOf(headers: http.IncomingHttpHeaders): { region?: string; service?: string } {
    const m = /Credential=[^/]+\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/.exec(String(headers.authorization ?? ""));
    return m ? { region: m[1], service: m[2] } : {};
}

function pipe(target: URL, req: http.IncomingMessage, body: Buffer, res: http.ServerResponse): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
        const headers = { ...req.headers, host: target.host, "content-length": String(body.length) };
        delete headers["transfer-encoding"];
        const out = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers }, (answer) => {
            const chunks: Buffer[] = [];
            answer.on("data", (c: Buffer) => chunks.push(c));
            answer.on("error", reject);
            answer.on("end", () => {
                const text = Buffer.concat(chunks);
                const h = { ...answer.headers };
                delete h["transfer-encoding"];
                h["content-length"] = String(text.length);
                res.writeHead(answer.statusCode ?? 502, h);
                res.end(text);
                resolve({ status: answer.statusCode ?? 502, body: text.toString("utf8") });
            });
        });
        out.on("error", reject);
        out.end(body);
    });
}

async function listen(server: http.Server): Promise<string> {
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => resolve());
    });
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function close(server: http.Server): Promise<void> {
    return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
    });
}

type CachedAnswer = { status: number; headers: http.IncomingHttpHeaders; body: Buffer };

/**
 * The DescribeImages answers moto gave, by request, kept only while they are
 * still moto's answers:
 * - read-only actions change nothing;
 * - `DeleteSnapshot` changes no DescribeImages answer (an image's items name
 *   their snapshot ids whether the snapshot still exists or not);
 * - a successful `DeregisterImage` of X removes X's item from every answer
 *   to a request that names no image id and asks for no page (moto drops a
 *   deregistered image from its listings); answers to requests by id or by
 *   page are dropped. A listing moto answered while deregistrations were in
 *   flight may or may not hold their images: it is kept with those that
 *   succeeded since it was sent removed, which is moto's answer either way;
 * - anything else empties the cache, and no answer that such a write
 *   crossed is kept.
 * Without the `DeregisterImage` rule every retirement with
 * DeleteAssociatedSnapshots (the proxy lists every image to see which
 * snapshots another image still uses) would cost moto a full render of the
 * region: O(images) of emulator time per call, which no EC2 has.
 * test/integration/bench-describe-cache.test.ts checks the rules against
 * moto's own answers.
 */
export class DescribeAnswerCache {
    private readonly answers = new Map<string, CachedAnswer>();
    /** Bumped when a write the cache cannot follow is sent and when it is answered. */
    private generation = 0;
    private otherWritesInFlight = 0;
    /** Every image a DeregisterImage removed, in the order moto answered. */
    private readonly deregistered: string[] = [];

    private static readOnly(action: string): boolean {
        return /^(Describe|Get|List|Search)/.test(action);
    }

    private static followed(action: string): boolean {
        return action === "DeregisterImage" || action === "DeleteSnapshot";
    }

    /** `answer` to request `key` without image `imageId`; undefined when that cannot be told (drop it). */
    private static without(key: string, answer: CachedAnswer, imageId: string): CachedAnswer | undefined {
        if ([...new URLSearchParams(key).keys()].some((k) => /^(ImageId\.|MaxResults|NextToken)/.test(k))) return undefined;
        const parts = splitImages(answer.body.toString("utf8"));
        if (!parts) return undefined;
        const items = parts.items.filter((i) => tagText(i, "imageId") !== imageId);
        if (items.length === parts.items.length) return answer;
        const body = Buffer.from(joinImages({ ...parts, items }));
        return { ...answer, headers: { ...answer.headers, "content-length": String(body.length) }, body };
    }

    /** A cached answer to this request (only DescribeImages is cached), or the ticket to pass to `answered`. */
    begin(action: string, body: string): { hit: CachedAnswer } | { ticket: { generation: number; seen: number } | undefined } {
        const hit = action === "DescribeImages" ? this.answers.get(body) : undefined;
        if (hit) return { hit };
        if (DescribeAnswerCache.readOnly(action)) {
            return { ticket: this.otherWritesInFlight === 0 ? { generation: this.generation, seen: this.deregistered.length } : undefined };
        }
        if (!DescribeAnswerCache.followed(action)) {
            this.generation++;
            this.otherWritesInFlight++;
        }
        return { ticket: undefined };
    }

    /** Moto answered `body` with `status`: keep it (a DescribeImages no unfollowed write crossed) or follow what it changed. */
    answered(
        ticket: { generation: number; seen: number } | undefined,
        action: string,
        body: string,
        status: number,
        headers: http.IncomingHttpHeaders,
        text: Buffer,
    ): void {
        if (DescribeAnswerCache.readOnly(action)) {
            if (action !== "DescribeImages" || status !== 200 || !ticket || ticket.generation !== this.generation) return;
            let answer: CachedAnswer | undefined = { status, headers, body: text };
            for (const id of this.deregistered.slice(ticket.seen)) answer = answer && DescribeAnswerCache.without(body, answer, id);
            if (answer) this.answers.set(body, answer);
            return;
        }
        if (action === "DeleteSnapshot") return;
        const imageId = new URLSearchParams(body).get("ImageId");
        if (action === "DeregisterImage" && status === 200 && imageId) {
            this.deregistered.push(imageId);
            for (const [key, answer] of this.answers) {
                const kept = DescribeAnswerCache.without(key, answer, imageId);
                if (kept) this.answers.set(key, kept);
                else this.answers.delete(key);
            }
            return;
        }
        if (!DescribeAnswerCache.followed(action)) this.otherWritesInFlight--;
        this.clear();
    }

    /** A change this cache cannot follow (or moto was wiped) happened. */
    clear(): void {
        this.generation++;
        this.answers.clear();
    }
}

/**
 * A pass-through to moto that answers DescribeImages from a DescribeAnswerCache.
 * Identical DescribeImages requests in flight together go to moto once: the
 * others wait for that answer and are served from the cache when it was kept
 * (else they go to moto themselves). Thirty-two retirements starting at once
 * would otherwise each ask moto for the same full listing.
 */
async function startDescribeCache(moto: Moto): Promise<{ endpoint: string; clear(): void; stop(): Promise<void> }> {
    const target = new URL(moto.endpoint);
    const cache = new DescribeAnswerCache();
    const inFlight = new Map<string, Promise<void>>();

    function serve(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer, text: string, action: string, waited = false): void {
        const started = cache.begin(action, text);
        if ("hit" in started) {
            res.writeHead(started.hit.status, started.hit.headers);
            res.end(started.hit.body);
            return;
        }
        const leader = action === "DescribeImages" && !waited ? inFlight.get(text) : undefined;
        if (leader) {
            void leader.then(() => serve(req, res, body, text, action, true));
            return;
        }
        let done = () => {};
        if (action === "DescribeImages" && !inFlight.has(text))
            inFlight.set(
                text,
                new Promise<void>((resolve) => {
                    done = () => {
                        inFlight.delete(text);
                        resolve();
                    };
                }),
            );
        const headers = { ...req.headers, host: target.host, "content-length": String(body.length) };
        delete headers["transfer-encoding"];
        const out = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers }, (answer) => {
            const parts: Buffer[] = [];
            answer.on("data", (c: Buffer) => parts.push(c));
            answer.on("end", () => {
                const reply = Buffer.concat(parts);
                const h = { ...answer.headers, "content-length": String(reply.length) };
                delete h["transfer-encoding"];
                cache.answered(started.ticket, action, text, answer.statusCode ?? 502, h, reply);
                done();
                res.writeHead(answer.statusCode ?? 502, h);
                res.end(reply);
            });
        });
        out.on("error", (e) => {
            cache.answered(started.ticket, action, text, 502, {}, Buffer.alloc(0));
            done();
            res.writeHead(502);
            res.end(String(e));
        });
        out.end(body);
    }

    const server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
            const body = Buffer.concat(chunks);
            const text = body.toString("utf8");
            serve(req, res, body, text, new URLSearchParams(text).get("Action") ?? "");
        });
    });
    const endpoint = await listen(server);
    return { endpoint, clear: () => cache.clear(), stop: () => close(server) };
}

export async function startEc2Emulator(regions: string[], proxyOptions: Omit<ProxyOptions, "target">): Promise<Ec2Emulator> {
    const motos = new Map<string, Moto>();
    const caches = new Map<string, Awaited<ReturnType<typeof startDescribeCache>>>();
    const proxies = new Map<string, Ec2Proxy>();
    try {
        for (const region of regions) {
            const moto = await startMoto();
            motos.set(region, moto);
            const cache = await startDescribeCache(moto);
            caches.set(region, cache);
            proxies.set(region, await startEc2Proxy({ ...proxyOptions, target: cache.endpoint }));
        }
    } catch (e) {
        for (const p of proxies.values()) await p.stop();
        for (const c of caches.values()) await c.stop();
        for (const m of motos.values()) await m.stop();
        throw e;
    }

    const fresh = (): RouterStats => ({ requests: 0, throttled: 0, byAction: {}, byRegion: {}, timeline: {} });
    let stats = fresh();
    const server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", async () => {
            const body = Buffer.concat(chunks);
            const { region, service } = scopeOf(req.headers);
            const proxy = proxies.get(region ?? "") ?? proxies.get(regions[0])!;
            // Other services (Auto Scaling, STS for peers) go to moto as they are, uncounted.
            const isEc2 = service === "ec2";
            const params = new URLSearchParams(body.toString("utf8"));
            const action = params.get("Action") ?? "(none)";
            const s = stats;
            if (isEc2) {
                s.requests++;
                s.first ??= Date.now();
                s.byAction[action] = (s.byAction[action] ?? 0) + 1;
            }
            const sent = Date.now();
            const target = new URL(isEc2 ? proxy.endpoint : (motos.get(region ?? "")?.endpoint ?? motos.get(regions[0])!.endpoint));
            try {
                const answer = await pipe(target, req, body, res);
                if (!isEc2) return;
                s.last = Date.now();
                const t = (s.timeline[action] ??= { first: sent, last: s.last, waitedMs: 0 });
                t.last = s.last;
                t.waitedMs += s.last - sent;
                const r = (s.byRegion[region ?? "?"] ??= { accepted: {}, throttled: 0, requests: 0 });
                r.requests++;
                if (answer.status !== 200 && answer.body.includes("<Code>RequestLimitExceeded</Code>")) {
                    r.throttled++;
                    s.throttled++;
                } else {
                    const key = bucketKey(action, params);
                    r.accepted[key] = (r.accepted[key] ?? 0) + 1;
                }
            } catch (e) {
                if (!res.headersSent) res.writeHead(502);
                res.end(`bench router: ${(e as Error).message}`);
            }
        });
    });
    const endpoint = await listen(server);

    return {
        endpoint,
        regions,
        moto: (region) => motos.get(region) ?? motos.get(regions[0])!,
        direct: (region) => (caches.get(region) ?? caches.get(regions[0])!).endpoint,
        proxy: (region) => proxies.get(region) ?? proxies.get(regions[0])!,
        stats: () => structuredClone(stats),
        resetStats: () => {
            stats = fresh();
            for (const p of proxies.values()) p.resetStats();
        },
        reset: async () => {
            await Promise.all([...motos.values()].map((m) => m.reset()));
            for (const c of caches.values()) c.clear();
        },
        setProxyOptions: (patch) => {
            for (const p of proxies.values()) p.setOptions(patch);
        },
        stop: async () => {
            await close(server);
            for (const p of proxies.values()) await p.stop();
            for (const c of caches.values()) await c.stop();
            for (const m of motos.values()) await m.stop();
        },
    };
}
