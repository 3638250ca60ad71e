// The benchmark's EC2: per region, one moto_server behind one EC2 proxy
// (emulator/ec2-proxy.ts, with token buckets and latency, and its image
// service: the emulator's own image table, as `golden-ami emulator` serves
// images), and in front of them one loopback router that clients see as the
// EC2 endpoint. The router sends each request to its region's proxy (by the
// region of its SigV4 credential scope) and counts what it sees: requests per
// region and per token bucket, RequestLimitExceeded answers, the first and
// last request.
//
// One moto per region, because moto serves one request at a time per process
// (Python): real EC2 regions are independent, and on a 2-core machine three
// regions in one moto would serialise what EC2 does in parallel. moto holds
// the volumes, snapshots, instances, launch templates and Auto Scaling
// groups; images live in the proxy's image service (one snapshot per volume,
// as EC2 makes them), so a DescribeImages never reaches moto.
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { Ec2Proxy, ProxyOptions, startEc2Proxy } from "../emulator/ec2-proxy";
import { startMoto } from "../scripts/lib/moto";
import { bucketKey } from "./ec2-buckets";

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
    /**
     * The region's proxy itself, not counted by the router: for fixtures (seeding, surveys) that must not be
     * counted. Images exist only there (its image service), so fixtures go through it, not straight to moto.
     */
    direct(region: string): string;
    proxy(region: string): Ec2Proxy;
    stats(): RouterStats;
    resetStats(): void;
    /** Wipes every region's moto and image table. */
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

export async function startEc2Emulator(regions: string[], proxyOptions: Omit<ProxyOptions, "target">): Promise<Ec2Emulator> {
    /** The proxies' options as last set: a reset's fresh proxies start with them. */
    let current: Omit<ProxyOptions, "target"> = { ...proxyOptions };
    const motos = new Map<string, Moto>();
    const proxies = new Map<string, Ec2Proxy>();
    try {
        for (const region of regions) {
            const moto = await startMoto();
            motos.set(region, moto);
            proxies.set(region, await startEc2Proxy({ ...current, target: moto.endpoint }));
        }
    } catch (e) {
        for (const p of proxies.values()) await p.stop();
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
        direct: (region) => (proxies.get(region) ?? proxies.get(regions[0])!).endpoint,
        proxy: (region) => proxies.get(region) ?? proxies.get(regions[0])!,
        stats: () => structuredClone(stats),
        resetStats: () => {
            stats = fresh();
            for (const p of proxies.values()) p.resetStats();
        },
        reset: async () => {
            await Promise.all([...motos.values()].map((m) => m.reset()));
            // A fresh image table per region: a new proxy (the router looks its region's proxy up per request).
            for (const region of regions) {
                const old = proxies.get(region)!;
                proxies.set(region, await startEc2Proxy({ ...current, target: motos.get(region)!.endpoint }));
                await old.stop();
            }
        },
        setProxyOptions: (patch) => {
            current = { ...current, ...patch };
            for (const p of proxies.values()) p.setOptions(patch);
        },
        stop: async () => {
            await close(server);
            for (const p of proxies.values()) await p.stop();
            for (const m of motos.values()) await m.stop();
        },
    };
}
