// A loopback HTTP proxy between the AWS SDK and moto_server. It injects the
// faults real EC2 produces (throttling, 5xx, dropped connections) from a
// seeded PRNG, so a failing run replays, and emulates the EC2 behaviour moto
// lacks and golden-ami depends on: images that stay `pending` or end `failed`,
// `InvalidSnapshot.InUse` right after deregistration, unique image names,
// DescribeImages pagination and the `block-device-mapping.snapshot-id` filter,
// deprecation and deregistration protection.
//
// EC2 speaks the AWS Query protocol: form-encoded POST bodies in, XML out.
// Moto does not check SigV4 signatures, so rewriting a request body is fine.
// XML is handled with string operations on moto's (regular) output.
import { randomUUID } from "node:crypto";
import * as http from "node:http";
import type { AddressInfo } from "node:net";

export type FaultKind = "throttle" | "500" | "503" | "reset" | "lost-response";

export interface ProxyOptions {
    /** The moto endpoint requests are forwarded to, e.g. `http://127.0.0.1:5000`. */
    target: string;
    /** Seed of the PRNG that draws faults: the same seed and the same requests give the same faults. @default 1 */
    seed?: number;
    /** Probability (0..1) that a request is answered by an injected fault instead of being forwarded. @default 0 */
    faultRate?: number;
    /** The faults `faultRate` draws from. @default ["throttle", "500", "503", "reset"] */
    faults?: FaultKind[];
    /** Delay added to every request, in milliseconds. @default 0 */
    latencyMs?: number;
    /** An image made while this is set reports `pending` in this many DescribeImages answers that include it. @default 0 */
    pendingPolls?: number;
    /** An image made while this is set ends `failed` with this state reason after its pending polls. @default undefined */
    failImages?: { reason: string; code?: string };
    /** After DeregisterImage, DeleteSnapshot of the image's snapshots answers InvalidSnapshot.InUse this many times. @default 0 */
    snapshotInUseCalls?: number;
    /** Refuse CreateImage/CopyImage/RegisterImage with a name an own image in the region already has. @default false */
    duplicateNames?: boolean;
    /** Page DescribeImages answers: at most min(MaxResults, pageSize) images and a NextToken. @default undefined (no paging) */
    pageSize?: number;
    /**
     * Report a creation date derived from the image's name (undefined keeps
     * moto's): real accounts hold images made over months, while moto stamps
     * each with the second it was made. For benchmarks and tests of retention
     * by age.
     */
    creationDateFromName?: (name: string) => string | undefined;
    /** Emulate the DescribeImages filter `block-device-mapping.snapshot-id` (moto answers 500). @default true */
    snapshotIdFilter?: boolean;
    /** Emulate Enable/DisableImageDeprecation (moto answers 500) and report DeprecationTime. @default true */
    deprecation?: boolean;
    /** Emulate Enable/DisableImageDeregistrationProtection and refuse DeregisterImage of a protected image. @default true */
    deregistrationProtection?: boolean;
    /**
     * Honour DeregisterImage's DeleteAssociatedSnapshots as EC2 does: delete
     * the image's snapshots, skip those another image uses, and report each
     * in DeleteSnapshotResults. Off by default: moto ignores the parameter,
     * which is the harder case for golden-ami (it must then delete each
     * snapshot itself, InUse retries included), and what the other tiers
     * exercise. @default false
     */
    deleteAssociatedSnapshots?: boolean;
}

export interface ProxyStats {
    /** Requests received from clients (the proxy's own look-ups at moto are not counted). */
    requests: number;
    byAction: Record<string, number>;
    faultsInjected: number;
    faultsByKind: Record<string, number>;
}

export interface Ec2Proxy {
    /** `http://127.0.0.1:<port>`: give it to `new EC2Client({ endpoint })`. */
    endpoint: string;
    stats(): ProxyStats;
    resetStats(): void;
    /** Changes behaviour from the next request on; a `seed` in the patch restarts the PRNG. */
    setOptions(patch: Partial<ProxyOptions>): void;
    stop(): Promise<void>;
}

type Settings = Required<Omit<ProxyOptions, "failImages" | "pageSize" | "creationDateFromName">> &
    Pick<ProxyOptions, "failImages" | "pageSize" | "creationDateFromName">;

/** The faults drawn by default. `lost-response` (the call happens, its answer is lost) is opt-in. */
const ALL_FAULTS: FaultKind[] = ["throttle", "500", "503", "reset"];
const API_VERSION = "2016-11-15";
const XMLNS = `http://ec2.amazonaws.com/doc/${API_VERSION}/`;
const SNAPSHOT_ID_FILTER = "block-device-mapping.snapshot-id";

/**
 * How EC2 answers each injected fault. Real EC2 answers RequestLimitExceeded
 * with HTTP 503 (e.g. "Status Code: 503; Error Code: RequestLimitExceeded" in
 * SDK errors); the SDK classes it as throttling by its code, whatever the status.
 */
const FAULT_REPLIES: Record<Exclude<FaultKind, "reset" | "lost-response">, { status: number; code: string; message: string }> = {
    throttle: { status: 503, code: "RequestLimitExceeded", message: "Request limit exceeded." },
    "500": { status: 500, code: "InternalError", message: "An internal error has occurred. Retry your request." },
    "503": { status: 503, code: "Unavailable", message: "The server is overloaded and can't handle the request." },
};

/** mulberry32: a tiny seeded PRNG with uniform output in [0, 1). */
function mulberry32(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

interface Reply {
    status: number;
    headers: http.OutgoingHttpHeaders;
    body: string;
}

function xmlEscape(s: string): string {
    return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function xmlUnescape(s: string): string {
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
function ec2Error(status: number, code: string, message: string): Reply {
    return xmlReply(
        status,
        `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${xmlEscape(code)}</Code>` +
            `<Message>${xmlEscape(message)}</Message></Error></Errors><RequestID>${randomUUID()}</RequestID></Response>`,
    );
}

/** A successful answer to `action` with these elements after requestId. */
function ec2Success(action: string, inner: string): Reply {
    return xmlReply(
        200,
        `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${XMLNS}"><requestId>${randomUUID()}</requestId>${inner}</${action}Response>`,
    );
}

// ---- Query-protocol parameters -------------------------------------------------

interface Filter {
    name: string;
    values: string[];
}

/** Removes every `Filter.N.*` parameter and returns the filters in order. */
function takeFilters(params: URLSearchParams): Filter[] {
    const byIndex = new Map<number, { name?: string; values: [number, string][] }>();
    for (const [key, value] of [...params.entries()]) {
        const m = /^Filter\.(\d+)\.(?:(Name)|Value\.(\d+))$/.exec(key);
        if (!m) continue;
        params.delete(key);
        const f = byIndex.get(Number(m[1])) ?? { values: [] };
        if (m[2]) f.name = value;
        else f.values.push([Number(m[3]), value]);
        byIndex.set(Number(m[1]), f);
    }
    return [...byIndex.entries()]
        .sort(([a], [b]) => a - b)
        .map(([, f]) => ({ name: f.name ?? "", values: f.values.sort(([a], [b]) => a - b).map(([, v]) => v) }));
}

/** Writes filters back numbered from 1: moto ignores a list whose numbering has gaps. */
function putFilters(params: URLSearchParams, filters: Filter[]): void {
    filters.forEach((f, i) => {
        params.set(`Filter.${i + 1}.Name`, f.name);
        f.values.forEach((v, j) => params.set(`Filter.${i + 1}.Value.${j + 1}`, v));
    });
}

// ---- DescribeImages XML ------------------------------------------------------------

/** The top-level `<item>`s of an `<imagesSet>`; nested items (block devices, tags) stay inside theirs. */
function topLevelItems(inner: string): string[] {
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

/** Splits a DescribeImages answer into what precedes the images, the image items, and what follows. */
function splitImages(xml: string): { head: string; items: string[]; tail: string } | undefined {
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

function joinImages(parts: { head: string; items: string[]; tail: string }, nextToken?: string): string {
    let tail = parts.tail.replace(/<nextToken>[^<]*<\/nextToken>|<nextToken\/>/, "");
    if (nextToken) tail = tail.replace("</DescribeImagesResponse>", `<nextToken>${nextToken}</nextToken></DescribeImagesResponse>`);
    return `${parts.head}<imagesSet>${parts.items.join("")}</imagesSet>${tail}`;
}

/** The text of the first `<tag>` in an item (image-level tags such as imageId do not occur nested). */
function tagText(item: string, tag: string): string | undefined {
    const m = new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(item);
    return m ? xmlUnescape(m[1]) : undefined;
}

/** Replaces an image-level element (removing it when `innerXml` is undefined). */
function setElement(item: string, tag: string, innerXml: string | undefined): string {
    const without = item.replace(new RegExp(`<${tag}>[\\s\\S]*?</${tag}>|<${tag}/>`, "g"), "");
    if (innerXml === undefined) return without;
    const end = without.lastIndexOf("</item>");
    return `${without.slice(0, end)}<${tag}>${innerXml}</${tag}>${without.slice(end)}`;
}

function snapshotIdsOf(item: string): string[] {
    return [...item.matchAll(/<snapshotId>([^<]+)<\/snapshotId>/g)].map((m) => m[1]);
}

function encodeToken(offset: number): string {
    return Buffer.from(`golden-ami-proxy:${offset}`).toString("base64url");
}

function decodeToken(token: string): number | undefined {
    const m = /^golden-ami-proxy:(\d+)$/.exec(Buffer.from(token, "base64url").toString());
    return m ? Number(m[1]) : undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- the proxy -------------------------------------------------------------------

export async function startEc2Proxy(options: ProxyOptions): Promise<Ec2Proxy> {
    let settings: Settings = {
        seed: 1,
        faultRate: 0,
        faults: ALL_FAULTS,
        latencyMs: 0,
        pendingPolls: 0,
        snapshotInUseCalls: 0,
        duplicateNames: false,
        snapshotIdFilter: true,
        deprecation: true,
        deregistrationProtection: true,
        deleteAssociatedSnapshots: false,
        ...options,
    };
    let target = new URL(settings.target);
    let random = mulberry32(settings.seed);
    let stats: ProxyStats = { requests: 0, byAction: {}, faultsInjected: 0, faultsByKind: {} };

    // What the proxy remembers about images and snapshots, by id.
    const lifecycles = new Map<string, { pendingLeft: number; fail?: { reason: string; code?: string } }>();
    const deprecationTimes = new Map<string, string>();
    const protections = new Map<string, string>();
    const snapshotsInUse = new Map<string, { imageId: string; left: number }>();
    const copiesByToken = new Map<string, Reply>();

    /** Sends a request to moto with the client's headers (their SigV4 credential scope carries the region). */
    function forward(method: string, path: string, headers: http.IncomingHttpHeaders, body: string): Promise<Reply> {
        const out: http.OutgoingHttpHeaders = { ...headers, host: target.host, "content-length": Buffer.byteLength(body) };
        delete out["transfer-encoding"];
        delete out.connection;
        delete out["keep-alive"];
        return new Promise((resolve, reject) => {
            const req = http.request({ host: target.hostname, port: target.port, method, path, headers: out }, (res) => {
                const chunks: Buffer[] = [];
                res.on("data", (c: Buffer) => chunks.push(c));
                res.on("error", reject);
                res.on("end", () => {
                    const headers: http.OutgoingHttpHeaders = {};
                    for (const [k, v] of Object.entries(res.headers)) {
                        if (!["content-length", "transfer-encoding", "connection", "keep-alive"].includes(k)) headers[k] = v;
                    }
                    resolve({ status: res.statusCode ?? 502, headers, body: Buffer.concat(chunks).toString("utf8") });
                });
            });
            req.on("error", reject);
            req.end(body);
        });
    }

    /** DescribeImages at moto for the proxy's own bookkeeping; undefined when moto refuses (e.g. unknown id). */
    async function lookupImages(headers: http.IncomingHttpHeaders, params: Record<string, string>): Promise<string[] | undefined> {
        const body = new URLSearchParams({ Action: "DescribeImages", Version: API_VERSION, ...params }).toString();
        const reply = await forward("POST", "/", headers, body);
        if (reply.status !== 200) return undefined;
        return splitImages(reply.body)?.items;
    }

    async function imageExists(headers: http.IncomingHttpHeaders, imageId: string): Promise<boolean> {
        const items = await lookupImages(headers, { "ImageId.1": imageId });
        return !!items?.some((i) => tagText(i, "imageId") === imageId && tagText(i, "imageState") !== "deregistered");
    }

    // Real EC2 answers an action on an image id it does not know with InvalidAMIID.NotFound.
    const imageNotFound = (imageId: string) => ec2Error(400, "InvalidAMIID.NotFound", `The image id '[${imageId}]' does not exist`);

    /** CreateImage, CopyImage or RegisterImage, with what moto does not do: duplicate names, pending and failed states. */
    async function createImage(
        s: Settings,
        params: URLSearchParams,
        req: http.IncomingMessage,
        pass: () => Promise<Reply>,
    ): Promise<Reply> {
        const name = params.get("Name");
        if (s.duplicateNames && name) {
            // Real EC2: AMI names are unique per region and owner; a second
            // image with the name of a live one fails InvalidAMIName.Duplicate.
            const same = await lookupImages(req.headers, { "Owner.1": "self", "Filter.1.Name": "name", "Filter.1.Value.1": name });
            const clash = same?.find((i) => tagText(i, "name") === name && tagText(i, "imageState") !== "deregistered");
            if (clash) {
                return ec2Error(400, "InvalidAMIName.Duplicate", `AMI name ${name} is already in use by AMI ${tagText(clash, "imageId")}`);
            }
        }
        const reply = await pass();
        const created = reply.status === 200 ? tagText(reply.body, "imageId") : undefined;
        if (created && (s.pendingPolls > 0 || s.failImages)) {
            // Real EC2: a new image is `pending` while its snapshots are
            // taken or copied, then `available`, or `failed` with a
            // StateReason (e.g. an unusable KMS key on an encrypted copy).
            lifecycles.set(created, { pendingLeft: s.pendingPolls, fail: s.failImages });
        }
        return reply;
    }

    async function handle(s: Settings, action: string, params: URLSearchParams, req: http.IncomingMessage, body: string): Promise<Reply> {
        const pass = (newBody = body) => forward(req.method ?? "POST", req.url ?? "/", req.headers, newBody);
        const imageId = params.get("ImageId") ?? "";

        switch (action) {
            case "CreateImage":
            case "CopyImage":
            case "RegisterImage": {
                // Real EC2: CopyImage with a ClientToken it has seen answers with
                // the copy that token made, instead of copying again (moto ignores it).
                const token = action === "CopyImage" ? params.get("ClientToken") : null;
                const seen = token ? copiesByToken.get(token) : undefined;
                if (seen) return seen;
                const reply = await createImage(s, params, req, () => pass());
                if (token && reply.status === 200) copiesByToken.set(token, reply);
                return reply;
            }

            case "DescribeImages":
                return describeImages(s, params, pass);

            case "DeregisterImage": {
                if (s.deregistrationProtection && protections.get(imageId)?.startsWith("enabled")) {
                    // Real EC2 refuses to deregister a protected image until protection
                    // is disabled. The exact code and message are an assumption (the
                    // API reference does not list them); golden-ami matches neither.
                    return ec2Error(
                        400,
                        "InvalidParameterValue",
                        `Image ${imageId} has deregistration protection enabled; disable deregistration protection before deregistering it.`,
                    );
                }
                const withSnapshots = s.deleteAssociatedSnapshots && params.get("DeleteAssociatedSnapshots") === "true";
                const snapshots =
                    s.snapshotInUseCalls > 0 || withSnapshots
                        ? [...new Set(((await lookupImages(req.headers, { "ImageId.1": imageId })) ?? []).flatMap(snapshotIdsOf))]
                        : [];
                const reply = await pass();
                if (reply.status === 200 && withSnapshots) {
                    // Real EC2 (DeregisterImage, DeleteAssociatedSnapshots): "If a snapshot
                    // is associated with multiple AMIs, it is not deleted"; each snapshot's
                    // outcome comes back in DeleteSnapshotResults (DeleteSnapshotReturnCode:
                    // success, skipped, ...). The EC2 API reference, DeregisterImage.
                    const others = ((await lookupImages(req.headers, { "Owner.1": "self" })) ?? []).filter(
                        (i) => tagText(i, "imageId") !== imageId && tagText(i, "imageState") !== "deregistered",
                    );
                    const items: string[] = [];
                    for (const snap of snapshots) {
                        let code = "skipped";
                        if (!others.some((i) => snapshotIdsOf(i).includes(snap))) {
                            const body = new URLSearchParams({
                                Action: "DeleteSnapshot",
                                Version: API_VERSION,
                                SnapshotId: snap,
                            }).toString();
                            code = (await forward("POST", "/", req.headers, body)).status === 200 ? "success" : "internal-error";
                        }
                        items.push(`<item><snapshotId>${xmlEscape(snap)}</snapshotId><returnCode>${code}</returnCode></item>`);
                    }
                    reply.body = reply.body.replace(
                        "</DeregisterImageResponse>",
                        `<deleteSnapshotResultSet>${items.join("")}</deleteSnapshotResultSet></DeregisterImageResponse>`,
                    );
                    deprecationTimes.delete(imageId);
                    protections.delete(imageId);
                } else if (reply.status === 200) {
                    // Real EC2: for a while after DeregisterImage, DeleteSnapshot of the
                    // image's snapshots still fails InvalidSnapshot.InUse.
                    for (const snap of snapshots) snapshotsInUse.set(snap, { imageId, left: s.snapshotInUseCalls });
                    deprecationTimes.delete(imageId);
                    protections.delete(imageId);
                }
                return reply;
            }

            case "DeleteSnapshot": {
                const snapshotId = params.get("SnapshotId") ?? "";
                const inUse = snapshotsInUse.get(snapshotId);
                if (inUse) {
                    // Real EC2: the snapshot of a just-deregistered image is still "in use".
                    if (--inUse.left <= 0) snapshotsInUse.delete(snapshotId);
                    return ec2Error(400, "InvalidSnapshot.InUse", `The snapshot ${snapshotId} is currently in use by ${inUse.imageId}`);
                }
                return pass();
            }

            case "EnableImageDeprecation":
            case "DisableImageDeprecation": {
                if (!s.deprecation) return pass();
                if (!(await imageExists(req.headers, imageId))) return imageNotFound(imageId);
                if (action === "DisableImageDeprecation") {
                    deprecationTimes.delete(imageId);
                } else {
                    const at = Date.parse(params.get("DeprecateAt") ?? "");
                    if (Number.isNaN(at))
                        return ec2Error(400, "InvalidParameterValue", `Invalid value for DeprecateAt: ${params.get("DeprecateAt")}`);
                    // Real EC2 rounds DeprecateAt to the nearest minute and reports it
                    // in DescribeImages as DeprecationTime, e.g. 2030-01-01T00:00:00.000Z.
                    deprecationTimes.set(imageId, new Date(Math.round(at / 60_000) * 60_000).toISOString());
                }
                return ec2Success(action, "<return>true</return>");
            }

            case "EnableImageDeregistrationProtection":
            case "DisableImageDeregistrationProtection": {
                if (!s.deregistrationProtection) return pass();
                if (!(await imageExists(req.headers, imageId))) return imageNotFound(imageId);
                // Real EC2 answers (and DescribeImages reports) "enabled-with-cooldown",
                // "enabled-without-cooldown" or "disabled". The 24-hour cooldown after
                // disabling a with-cooldown protection is not emulated.
                const state =
                    action === "DisableImageDeregistrationProtection"
                        ? "disabled"
                        : params.get("WithCooldown") === "true"
                          ? "enabled-with-cooldown"
                          : "enabled-without-cooldown";
                protections.set(imageId, state);
                return ec2Success(action, `<return>${state}</return>`);
            }

            default:
                return pass();
        }
    }

    async function describeImages(s: Settings, params: URLSearchParams, pass: (body?: string) => Promise<Reply>): Promise<Reply> {
        const forwarded = new URLSearchParams(params);
        let rewritten = false;

        // Real EC2 filters images by the snapshots behind their block devices;
        // moto answers this filter with a 500, so it is applied here instead.
        let snapshotFilters: Set<string>[] = [];
        if (s.snapshotIdFilter) {
            const filters = takeFilters(forwarded);
            snapshotFilters = filters.filter((f) => f.name === SNAPSHOT_ID_FILTER).map((f) => new Set(f.values));
            putFilters(
                forwarded,
                filters.filter((f) => f.name !== SNAPSHOT_ID_FILTER),
            );
            rewritten = snapshotFilters.length > 0;
        }

        // Real EC2 pages DescribeImages (MaxResults / NextToken); moto returns everything.
        let offset = 0;
        let limit = Infinity;
        if (s.pageSize) {
            const token = forwarded.get("NextToken");
            if (token) {
                const at = decodeToken(token);
                if (at === undefined) return ec2Error(400, "InvalidParameterValue", `Invalid NextToken: ${token}`);
                offset = at;
            }
            const max = Number(forwarded.get("MaxResults") ?? Infinity);
            limit = Math.max(1, Math.min(s.pageSize, Number.isNaN(max) ? Infinity : max));
            rewritten ||= forwarded.has("NextToken") || forwarded.has("MaxResults");
            forwarded.delete("NextToken");
            forwarded.delete("MaxResults");
        }

        const reply = await pass(rewritten ? forwarded.toString() : undefined);
        if (reply.status !== 200) return reply;
        const parts = splitImages(reply.body);
        if (!parts) return reply;

        let items = parts.items.filter((item) => {
            const used = snapshotIdsOf(item);
            return snapshotFilters.every((wanted) => used.some((id) => wanted.has(id)));
        });
        let nextToken: string | undefined;
        if (s.pageSize) {
            if (offset + limit < items.length) nextToken = encodeToken(offset + limit);
            items = items.slice(offset, offset + limit);
        }
        items = items.map((item) => overlay(item));
        return { ...reply, body: joinImages({ ...parts, items }, nextToken) };
    }

    /** What the proxy knows about an image and moto does not, written into its DescribeImages item. */
    function overlay(item: string): string {
        const id = tagText(item, "imageId") ?? "";
        const life = lifecycles.get(id);
        if (life && tagText(item, "imageState") === "available") {
            if (life.pendingLeft > 0) {
                life.pendingLeft--;
                item = setElement(item, "imageState", "pending");
            } else if (life.fail) {
                item = setElement(item, "imageState", "failed");
                // The default code is an assumption: real EC2 picks one per cause.
                const code = life.fail.code ?? "Server.InternalError";
                item = setElement(item, "stateReason", `<code>${xmlEscape(code)}</code><message>${xmlEscape(life.fail.reason)}</message>`);
            }
        }
        const deprecationTime = deprecationTimes.get(id);
        if (deprecationTime) item = setElement(item, "deprecationTime", deprecationTime);
        const protection = protections.get(id);
        if (protection) item = setElement(item, "deregistrationProtection", protection);
        const created = settings.creationDateFromName?.(xmlUnescape(tagText(item, "name") ?? ""));
        if (created) item = setElement(item, "creationDate", created);
        return item;
    }

    /** Decides the request's fate before anything reaches moto: an injected fault never half-happens. */
    function drawFault(s: Settings): FaultKind | undefined {
        const roll = random();
        if (s.faultRate <= 0 || s.faults.length === 0 || roll >= s.faultRate) return undefined;
        return s.faults[Math.floor(random() * s.faults.length)];
    }

    const server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", async () => {
            const s = settings;
            const body = Buffer.concat(chunks).toString("utf8");
            const params = new URLSearchParams(body);
            const action = params.get("Action") ?? new URL(req.url ?? "/", "http://proxy").searchParams.get("Action") ?? "(none)";
            stats.requests++;
            stats.byAction[action] = (stats.byAction[action] ?? 0) + 1;
            const fault = drawFault(s);
            if (fault) {
                stats.faultsInjected++;
                stats.faultsByKind[fault] = (stats.faultsByKind[fault] ?? 0) + 1;
            }
            try {
                if (s.latencyMs > 0) await sleep(s.latencyMs);
                if (fault === "reset") {
                    req.socket.destroy();
                    return;
                }
                if (fault === "lost-response") {
                    // Real EC2 behind a broken network: the call is done, its
                    // answer never arrives, and the SDK sends it again.
                    await handle(s, action, params, req, body);
                    req.socket.destroy();
                    return;
                }
                const reply = fault
                    ? ec2Error(FAULT_REPLIES[fault].status, FAULT_REPLIES[fault].code, FAULT_REPLIES[fault].message)
                    : await handle(s, action, params, req, body);
                res.writeHead(reply.status, { ...reply.headers, "content-length": Buffer.byteLength(reply.body) });
                res.end(reply.body);
            } catch (e) {
                // moto unreachable or the proxy itself broken: a gateway error the SDK retries.
                const reply = ec2Error(502, "ProxyError", `golden-ami test proxy: ${(e as Error).message}`);
                if (!res.headersSent) res.writeHead(reply.status, { ...reply.headers, "content-length": Buffer.byteLength(reply.body) });
                res.end(reply.body);
            }
        });
    });

    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => resolve());
    });
    const { port } = server.address() as AddressInfo;

    return {
        endpoint: `http://127.0.0.1:${port}`,
        stats: () => structuredClone(stats),
        resetStats: () => {
            stats = { requests: 0, byAction: {}, faultsInjected: 0, faultsByKind: {} };
        },
        setOptions: (patch) => {
            settings = { ...settings, ...patch };
            if (patch.target !== undefined) target = new URL(settings.target);
            if (patch.seed !== undefined) random = mulberry32(settings.seed);
        },
        stop: () =>
            new Promise<void>((resolve) => {
                server.close(() => resolve());
                server.closeAllConnections();
            }),
    };
}
