// A loopback HTTP proxy between the AWS SDK and moto_server that makes moto
// behave like real EC2. It injects the faults real EC2 produces (throttling,
// 5xx, dropped connections) from a seeded PRNG, so a failing run replays, and
// emulates the EC2 behaviour moto lacks, each named after the EC2
// documentation it follows (cited next to the code):
//
//   request validation   the EC2 API model (botocore's service-2.json): InvalidAction,
//                        UnknownParameter, MissingParameter, InvalidParameterValue,
//                        and AuthFailure for a region that does not exist   (on by default)
//   image lifecycle      `pending` polls, `failed` with a state reason
//   snapshots            InvalidSnapshot.InUse right after deregistration
//   names                InvalidAMIName.Duplicate
//   DescribeImages       pagination, the block-device-mapping.snapshot-id filter
//   deprecation, deregistration protection (and its 24-hour cooldown)
//   ClientToken          CopyImage idempotency (and IdempotentParameterMismatch)
//   eventual consistency InvalidAMIID.NotFound after create, stale reads after changes
//   CreateImage          block-device rules for the instance's existing volumes
//   DeregisterImage      DeleteAssociatedSnapshots
//   token buckets        EC2's documented per-action request throttling (throttling.ts)
//
// Every behaviour is switchable in ProxyOptions; what moto already does right
// passes through. Extra actions can be emulated from outside this file:
// `handlers` (ProxyOptions) run, in order, after faults, throttling and
// validation and before the built-in emulation; the first that answers (a
// Reply rather than undefined) wins. They get the request, the signed region,
// a seeded PRNG, the emulator's clock and access to moto (HandlerContext);
// emulator/ec2-xml.ts has the XML helpers (ec2Success, ec2Error, ...).
//
// EC2 speaks the AWS Query protocol: form-encoded POST bodies in, XML out.
// Moto does not check SigV4 signatures, so rewriting a request body is fine.
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { checkRegion, Ec2Model, loadEc2Model, signedRegion, validateRequest } from "./api-model";
import {
    API_VERSION,
    ec2Error,
    ec2Success,
    imageNotFound,
    joinImages,
    Reply,
    setElement,
    snapshotIdsOf,
    splitImages,
    tagText,
    xmlEscape,
    xmlUnescape,
} from "./ec2-xml";
import { checkCreateImageBlockDevices, deregisterWithSnapshots } from "./image-rules";
import { TokenBuckets } from "./throttling";
import { IMAGE_ACTIONS, ImageRequest, ImageService, type ImageServiceSwitches } from "./image-service";
import { DEFAULT_ACCOUNT } from "./image-model";
import { credentialScope, HandlerContext, mulberry32, ProxyHandler } from "./handler";

export type { Reply } from "./ec2-xml";
export type { HandlerContext, ProxyHandler } from "./handler";
export type FaultKind = "throttle" | "500" | "503" | "reset" | "lost-response";

export interface ProxyOptions {
    /** The moto endpoint requests are forwarded to, e.g. `http://127.0.0.1:5000`. */
    target: string;
    /** Seed of the PRNGs that draw faults and the emulated delays: the same seed and the same requests give the same run. @default 1 */
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
     * With `deregistrationProtection`: disabling a protection enabled
     * `WithCooldown` keeps it in force for 24 hours (DescribeImages reports
     * `disabled-after <time>`). Move the clock with `advanceClock`. @default false
     */
    protectionCooldown?: boolean;
    /**
     * Validate every request against the EC2 API model (botocore's, from
     * moto's Python) and refuse it as EC2 does; `regions` refuses a credential
     * scope naming a region that does not exist. `true` means both. @default true
     */
    validation?: boolean | { model?: boolean; regions?: boolean };
    /**
     * Eventual consistency: after CreateImage/CopyImage/RegisterImage, requests
     * naming the new image answer InvalidAMIID.NotFound for 1..notFoundReads
     * (seeded) reads; after a tag or attribute change of an image,
     * DescribeImages and DescribeImageAttribute answer its previous values for
     * 1..staleReads reads. @default false
     */
    eventualConsistency?: { notFoundReads?: number; staleReads?: number } | false;
    /** CopyImage with a ClientToken already used in the region with other parameters fails IdempotentParameterMismatch. @default false */
    idempotentParameterMismatch?: boolean;
    /** CreateImage refuses block device mappings that change an existing volume of the instance beyond DeleteOnTermination. @default false */
    createImageBlockDeviceRules?: boolean;
    /** Emulate DeregisterImage's DeleteAssociatedSnapshots (moto ignores it). @default false */
    deleteAssociatedSnapshots?: boolean;
    /**
     * EC2's request token buckets per region and action (sizes and refill
     * rates from emulator/throttling.ts); an empty bucket answers HTTP 503
     * RequestLimitExceeded. `refillScale` multiplies the refill rates. @default false
     */
    tokenBuckets?: { refillScale?: number } | false;
    /** The emulator's clock in epoch milliseconds (cooldowns, token refill). @default Date.now */
    now?: () => number;
    /** Extra action handlers, run before the built-in emulation (see the file header). @default [] */
    handlers?: ProxyHandler[];
    /**
     * Answer every image action from the emulator's own image table
     * (emulator/image-service.ts), with moto as the block store underneath:
     * one snapshot per volume, exact RegisterImage mappings, paging,
     * deregistered images visible for a while, Disable/EnableImage, every
     * image attribute, CopyImage encryption and tags, RunInstances refusing
     * images EC2 refuses. `true` or an object of switches (each on unless
     * false). `startEmulator` turns it on; the bare proxy leaves moto's image
     * code in the path for the tests that exercise the proxy's older
     * overlays. @default false
     */
    imageService?: boolean | ImageServiceSwitches;
    /**
     * Handlers for the other services on moto's port (SSM's JSON protocol, Auto Scaling), run before such a
     * request passes through: `action` is the X-Amz-Target operation (`PutParameter`) or the Query `Action`,
     * `params` the Query parameters (empty for JSON, whose text is `body`). @default []
     */
    serviceHandlers?: ProxyHandler[];
    /** Rewrites each EC2 answer (not injected faults) just before it is sent, e.g. a moto 5xx page into an EC2 error. @default none */
    finalReply?: (reply: Reply, ctx: { action: string; region: string }) => Reply | Promise<Reply>;
    /** The loopback port to listen on. @default 0 (a free port) */
    port?: number;
}

export interface ProxyStats {
    /** Requests received from clients (the proxy's own look-ups at moto are not counted). */
    requests: number;
    byAction: Record<string, number>;
    faultsInjected: number;
    faultsByKind: Record<string, number>;
    /** Requests refused by the emulated token buckets (RequestLimitExceeded), in total and per action. */
    throttled: number;
    throttledByAction: Record<string, number>;
    /** Requests refused by validation, by EC2 error code. */
    refusedByCode: Record<string, number>;
}

export interface Ec2Proxy {
    /** `http://127.0.0.1:<port>`: give it to `new EC2Client({ endpoint })`. */
    endpoint: string;
    stats(): ProxyStats;
    resetStats(): void;
    /** Changes behaviour from the next request on; a `seed` in the patch restarts the PRNGs, `tokenBuckets` refills the buckets. */
    setOptions(patch: Partial<ProxyOptions>): void;
    /** Moves the emulator's clock forward (cooldowns, token refill), e.g. by a day. */
    advanceClock(ms: number): void;
    stop(): Promise<void>;
}

type Settings = ProxyOptions &
    Required<
        Pick<
            ProxyOptions,
            | "seed"
            | "faultRate"
            | "faults"
            | "latencyMs"
            | "pendingPolls"
            | "snapshotInUseCalls"
            | "duplicateNames"
            | "snapshotIdFilter"
            | "deprecation"
            | "deregistrationProtection"
            | "protectionCooldown"
            | "validation"
            | "eventualConsistency"
            | "idempotentParameterMismatch"
            | "createImageBlockDeviceRules"
            | "deleteAssociatedSnapshots"
            | "tokenBuckets"
            | "handlers"
            | "port"
        >
    >;

/** The faults drawn by default. `lost-response` (the call happens, its answer is lost) is opt-in. */
const ALL_FAULTS: FaultKind[] = ["throttle", "500", "503", "reset"];
const SNAPSHOT_ID_FILTER = "block-device-mapping.snapshot-id";
/** The actions that make an image. */
const CREATES = new Set(["CreateImage", "CopyImage", "RegisterImage"]);
const DEFAULT_REGION = "us-east-1";

/**
 * "If true, enforces deregistration protection for 24 hours after
 * deregistration protection is disabled." (EnableImageDeregistrationProtection,
 * WithCooldown, Amazon EC2 API Reference,
 * https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_EnableImageDeregistrationProtection.html)
 */
const PROTECTION_COOLDOWN_MS = 24 * 60 * 60 * 1000;

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

/** The values of a flattened list parameter `Name.1`, `Name.2`, ... */
function listParam(params: URLSearchParams, name: string): string[] {
    return [...params.entries()].filter(([k]) => new RegExp(`^${name}\\.\\d+$`).test(k)).map(([, v]) => v);
}

/** The request's parameters other than the envelope and the token, in a stable order: what a ClientToken binds. */
function idempotentParameters(params: URLSearchParams): string {
    const ignored = new Set(["Action", "Version", "ClientToken", "DryRun"]);
    return JSON.stringify([...params.entries()].filter(([k]) => !ignored.has(k)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function encodeToken(offset: number): string {
    return Buffer.from(`golden-ami-proxy:${offset}`).toString("base64url");
}

function decodeToken(token: string): number | undefined {
    const m = /^golden-ami-proxy:(\d+)$/.exec(Buffer.from(token, "base64url").toString());
    return m ? Number(m[1]) : undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Actions that change an image's tags or attributes: describes may answer the old values for a while. */
const IMAGE_CHANGES = new Set([
    "CreateTags",
    "DeleteTags",
    "ModifyImageAttribute",
    "ResetImageAttribute",
    "EnableImageDeprecation",
    "DisableImageDeprecation",
    "EnableImageDeregistrationProtection",
    "DisableImageDeregistrationProtection",
]);
/** The DescribeImageAttribute attributes captured before a ModifyImageAttribute/ResetImageAttribute. */
const STALE_ATTRIBUTES = ["description", "launchPermission"];

function emptyStats(): ProxyStats {
    return { requests: 0, byAction: {}, faultsInjected: 0, faultsByKind: {}, throttled: 0, throttledByAction: {}, refusedByCode: {} };
}

function withDefaults(options: ProxyOptions): Settings {
    return {
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
        protectionCooldown: false,
        validation: true,
        eventualConsistency: false,
        idempotentParameterMismatch: false,
        createImageBlockDeviceRules: false,
        deleteAssociatedSnapshots: false,
        tokenBuckets: false,
        handlers: [],
        port: 0,
        ...options,
    };
}

function validationOf(s: Settings): { model: boolean; regions: boolean } {
    if (typeof s.validation === "boolean") return { model: s.validation, regions: s.validation };
    return { model: s.validation.model ?? true, regions: s.validation.regions ?? true };
}

// ---- the proxy -------------------------------------------------------------------

export async function startEc2Proxy(options: ProxyOptions): Promise<Ec2Proxy> {
    let settings = withDefaults(options);
    let target = new URL(settings.target);
    let random = mulberry32(settings.seed);
    // A second stream for the emulated delays, so turning them on does not move the fault draws.
    let delays = mulberry32(settings.seed ^ 0x5bd1e995);
    let stats = emptyStats();
    let clockOffset = 0;
    const now = () => (settings.now ?? Date.now)() + clockOffset;
    const makeBuckets = (s: Settings) => (s.tokenBuckets ? new TokenBuckets(now, s.tokenBuckets.refillScale ?? 1) : undefined);
    let buckets = makeBuckets(settings);
    // The model is needed only when validating; loaded once per process.
    let model: Ec2Model | undefined;
    const ensureModel = async (s: Settings) => {
        const v = validationOf(s);
        if ((v.model || v.regions) && !model) model = await loadEc2Model();
    };
    await ensureModel(settings);

    // What the proxy remembers about images and snapshots, by id.
    const lifecycles = new Map<string, { pendingLeft: number; fail?: { reason: string; code?: string } }>();
    const deprecationTimes = new Map<string, string>();
    const protections = new Map<string, string>();
    /** Images whose with-cooldown protection was disabled: deregistration is refused until this time. */
    const cooldownUntil = new Map<string, number>();
    const snapshotsInUse = new Map<string, { imageId: string; left: number }>();
    /** CopyImage answers by region and ClientToken, with the parameters the token was first used with. */
    const copiesByToken = new Map<string, { parameters: string; reply: Reply }>();
    /** Eventual consistency: new images not yet visible, reads left. */
    const notYetVisible = new Map<string, number>();
    /** Eventual consistency: an image's answers from before its last change, reads left. */
    const staleViews = new Map<string, { item?: string; attributes: Map<string, Reply>; left: number }>();
    /** The image table (ProxyOptions.imageService). */
    const imageService = new ImageService(
        () => ({ ...settings, imageService: typeof settings.imageService === "object" ? settings.imageService : {} }),
        () => now(),
        () => delays(),
    );
    const serviceOn = (s: Settings) => !!s.imageService;

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

    /** The proxy's own call to moto, in the client's region (its headers); never routed to the image service. */
    function rawMotoCall(headers: http.IncomingHttpHeaders, action: string, params: Record<string, string>): Promise<Reply> {
        const body = new URLSearchParams({ Action: action, Version: API_VERSION, ...params }).toString();
        return forward("POST", "/", headers, body);
    }

    /** The proxy's own EC2 call: image actions answered by the image service when it is on, the rest by moto. */
    async function motoCall(headers: http.IncomingHttpHeaders, action: string, params: Record<string, string>): Promise<Reply> {
        if (serviceOn(settings) && IMAGE_ACTIONS.has(action)) {
            const region = signedRegion(headers.authorization) ?? DEFAULT_REGION;
            const reply = await imageService.handle(action, imageRequest(headers, region, new URLSearchParams(params)));
            if (reply) return reply;
        }
        return rawMotoCall(headers, action, params);
    }

    /** The client's headers with another region (and service) in their SigV4 credential scope. */
    function headersIn(headers: http.IncomingHttpHeaders, region: string, service = "ec2"): http.IncomingHttpHeaders {
        const authorization = String(headers.authorization ?? "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/ec2/aws4_request");
        const scope = /(Credential=[^/,\s]+\/\d{8}\/)[^/,\s]+\/[^/,\s]+\//;
        return { ...headers, authorization: authorization.replace(scope, `$1${region}/${service}/`) };
    }

    /** A JSON-protocol call to moto (KMS, SSM) in a region, with the client's credentials. */
    async function motoJson(
        headers: http.IncomingHttpHeaders,
        region: string,
        service: "kms" | "ssm",
        targetName: string,
        payload: object,
    ) {
        const h: http.IncomingHttpHeaders = { ...headersIn(headers, region, service), "content-type": "application/x-amz-json-1.1" };
        h["x-amz-target"] = targetName;
        const reply = await forward("POST", "/", h, JSON.stringify(payload));
        try {
            return { status: reply.status, body: JSON.parse(reply.body || "{}") as unknown };
        } catch {
            return { status: reply.status, body: {} as unknown }; // not JSON: the status says what happened
        }
    }

    function imageRequest(headers: http.IncomingHttpHeaders, region: string, params: URLSearchParams): ImageRequest {
        return {
            region,
            // One account is modelled: moto's default, which answers every key it did not issue through STS.
            account: DEFAULT_ACCOUNT,
            params,
            moto: (a, p) => rawMotoCall(headers, a, p),
            motoIn: (r) => (a, p) => rawMotoCall(headersIn(headers, r), a, p),
            json: (service, targetName, payload, r = region) => motoJson(headers, r, service, targetName, payload),
        };
    }

    /** DescribeImages at moto for the proxy's own bookkeeping; undefined when moto refuses (e.g. unknown id). */
    async function lookupImages(headers: http.IncomingHttpHeaders, params: Record<string, string>): Promise<string[] | undefined> {
        const reply = await motoCall(headers, "DescribeImages", params);
        if (reply.status !== 200) return undefined;
        return splitImages(reply.body)?.items;
    }

    async function imageExists(headers: http.IncomingHttpHeaders, imageId: string): Promise<boolean> {
        const items = await lookupImages(headers, { "ImageId.1": imageId });
        return !!items?.some((i) => tagText(i, "imageId") === imageId && tagText(i, "imageState") !== "deregistered");
    }

    /** A number of reads in 1..max drawn from the seeded delay stream. */
    const drawReads = (max: number) => 1 + Math.floor(delays() * Math.max(1, max));

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
        if (created) markNotYetVisible(s, created);
        return reply;
    }

    function markNotYetVisible(s: Settings, created: string): void {
        if (s.eventualConsistency && (s.eventualConsistency.notFoundReads ?? 0) > 0) {
            // "If you run a command to modify or describe the resource that you
            // just created, its ID might not have propagated throughout the
            // system, and you will get an error responding that the resource
            // does not exist." ("Eventual consistency in the Amazon EC2 API",
            // https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html)
            notYetVisible.set(created, drawReads(s.eventualConsistency.notFoundReads ?? 0));
        }
    }

    /** The image ids a request names (ImageId, ImageId.N, SourceImageId, ResourceId.N). */
    function imagesNamed(params: URLSearchParams): string[] {
        const ids = [
            params.get("ImageId"),
            params.get("SourceImageId"),
            ...listParam(params, "ImageId"),
            ...listParam(params, "ResourceId"),
        ];
        return ids.filter((id): id is string => !!id && id.startsWith("ami-"));
    }

    /** What DescribeImages answers for an image right now (without using up pending polls), for a stale view. */
    async function currentView(req: http.IncomingMessage, imageId: string, action: string) {
        const item = (await lookupImages(req.headers, { "ImageId.1": imageId }))?.find((i) => tagText(i, "imageId") === imageId);
        const attributes = new Map<string, Reply>();
        if (action === "ModifyImageAttribute" || action === "ResetImageAttribute") {
            for (const attribute of STALE_ATTRIBUTES) {
                const reply = await motoCall(req.headers, "DescribeImageAttribute", { ImageId: imageId, Attribute: attribute });
                if (reply.status === 200) attributes.set(attribute, reply);
            }
        }
        return { item: item && overlay(item, false), attributes };
    }

    async function handle(s: Settings, action: string, params: URLSearchParams, req: http.IncomingMessage, body: string, region: string) {
        const pass = (newBody = body) => forward(req.method ?? "POST", req.url ?? "/", req.headers, newBody);

        if (s.eventualConsistency) {
            // Any request naming a new image too early (a describe, a tag, a copy of it, its deregistration) misses it.
            const hidden = imagesNamed(params).find((id) => (notYetVisible.get(id) ?? 0) > 0);
            if (hidden) {
                const left = notYetVisible.get(hidden)! - 1;
                if (left > 0) notYetVisible.set(hidden, left);
                else notYetVisible.delete(hidden);
                return imageNotFound(hidden);
            }
            const staleReads = s.eventualConsistency.staleReads ?? 0;
            if (IMAGE_CHANGES.has(action) && staleReads > 0) {
                // "The result of an API command you run that affects your Amazon
                // EC2 resources might not be immediately visible to all subsequent
                // commands you run." (same page): describes answer the values from
                // before the change for a while.
                const images = imagesNamed(params);
                const before = await Promise.all(images.map((id) => currentView(req, id, action)));
                const reply = await handleBuiltIn(s, action, params, req, pass, region);
                if (reply.status === 200) {
                    images.forEach((id, i) => staleViews.set(id, { ...before[i], left: drawReads(staleReads) }));
                }
                return reply;
            }
            if (action === "DescribeImageAttribute") {
                const view = staleViews.get(params.get("ImageId") ?? "");
                const old = view?.attributes.get(params.get("Attribute") ?? "");
                if (view && old) {
                    if (--view.left <= 0) staleViews.delete(params.get("ImageId") ?? "");
                    return old;
                }
            }
        }
        return handleBuiltIn(s, action, params, req, pass, region);
    }

    async function handleBuiltIn(
        s: Settings,
        action: string,
        params: URLSearchParams,
        req: http.IncomingMessage,
        pass: (body?: string) => Promise<Reply>,
        region: string,
    ): Promise<Reply> {
        const imageId = params.get("ImageId") ?? "";

        if (serviceOn(s) && IMAGE_ACTIONS.has(action)) {
            const reply = await imageService.handle(action, imageRequest(req.headers, region, params));
            if (reply) {
                const created = reply.status === 200 && CREATES.has(action) ? tagText(reply.body, "imageId") : undefined;
                if (created) markNotYetVisible(s, created);
                return reply;
            }
            return pass(); // the service leaves it to moto (a snapshot's deletion, other resources' tags)
        }

        switch (action) {
            case "CreateImage":
            case "CopyImage":
            case "RegisterImage": {
                if (action === "CreateImage" && s.createImageBlockDeviceRules) {
                    const refused = await checkCreateImageBlockDevices(params, (a, p) => motoCall(req.headers, a, p));
                    if (refused) return refused;
                }
                // Real EC2: "If you retry a request that completed successfully
                // using the same client token and the same parameters, the retry
                // succeeds without performing any further actions"; with a changed
                // parameter "the retry fails with an IdempotentParameterMismatch
                // error"; the same token in another Region is another request.
                // ("Ensuring idempotency in Amazon EC2 API requests",
                // https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html;
                // "Error codes for the Amazon EC2 API": IdempotentParameterMismatch,
                // "The request uses the same client token as a previous, but
                // non-identical request", HTTP 400 like every client error.)
                // How long a token is remembered after the copy is deregistered
                // the page does not say (for RunInstances "at least 24 hours after
                // the termination"); the proxy never forgets one: a retry always
                // gets the first copy's id back, even when that copy is gone.
                const token = action === "CopyImage" ? params.get("ClientToken") : null;
                const key = `${region}|${token}`;
                const seen = token ? copiesByToken.get(key) : undefined;
                if (seen) {
                    if (s.idempotentParameterMismatch && seen.parameters !== idempotentParameters(params)) {
                        return ec2Error(
                            400,
                            "IdempotentParameterMismatch",
                            `The client token ${token} was used before with different parameters; use a new token or repeat the request unchanged.`,
                        );
                    }
                    return seen.reply;
                }
                const reply = await createImage(s, params, req, () => pass());
                if (token && reply.status === 200) copiesByToken.set(key, { parameters: idempotentParameters(params), reply });
                return reply;
            }

            case "DescribeImages":
                return describeImages(s, params, pass);

            case "DeregisterImage": {
                if (s.deregistrationProtection && protections.get(imageId)?.startsWith("enabled")) {
                    // Real EC2 refuses to deregister a protected image until protection
                    // is disabled. The exact code and message are an assumption (the
                    // API reference and the user guide do not list them); a generic
                    // InvalidParameterValue is the hardest on a client, which cannot
                    // tell it from a bad request by its code.
                    return ec2Error(
                        400,
                        "InvalidParameterValue",
                        `Image ${imageId} has deregistration protection enabled; disable deregistration protection before deregistering it.`,
                    );
                }
                const until = cooldownUntil.get(imageId);
                if (s.deregistrationProtection && until !== undefined && now() < until) {
                    // "If you chose to include a 24-hour cooldown period when you
                    // enabled deregistration protection for the AMI, then, when you
                    // disable deregistration protection, you won't immediately be
                    // able to deregister the AMI." (DisableImageDeregistrationProtection,
                    // https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DisableImageDeregistrationProtection.html)
                    // Same code as an enabled protection (see above).
                    return ec2Error(
                        400,
                        "InvalidParameterValue",
                        `Image ${imageId} is in its deregistration protection cooldown until ${new Date(until).toISOString()}; ` +
                            `it can be deregistered after that.`,
                    );
                }
                const withSnapshots = s.deleteAssociatedSnapshots && params.get("DeleteAssociatedSnapshots") === "true";
                // The image's snapshots, from the same listing deregisterWithSnapshots reads (a
                // front cache answers the second from the first: see bench/emulator-stack.ts).
                const snapshots =
                    s.snapshotInUseCalls > 0 || withSnapshots
                        ? ((await lookupImages(req.headers, {})) ?? [])
                              .filter((i) => tagText(i, "imageId") === imageId)
                              .flatMap(snapshotIdsOf)
                        : [];
                let reply = await pass();
                if (reply.status === 200) {
                    deprecationTimes.delete(imageId);
                    protections.delete(imageId);
                    cooldownUntil.delete(imageId);
                    if (withSnapshots) {
                        reply = await deregisterWithSnapshots(imageId, snapshots, (a, p) => motoCall(req.headers, a, p));
                    } else {
                        // Real EC2: for a while after DeregisterImage, DeleteSnapshot of the
                        // image's snapshots still fails InvalidSnapshot.InUse.
                        for (const snap of snapshots) snapshotsInUse.set(snap, { imageId, left: s.snapshotInUseCalls });
                    }
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
                // "enabled-without-cooldown" or "disabled".
                const previous = protections.get(imageId);
                let state: string;
                if (action === "EnableImageDeregistrationProtection") {
                    state = params.get("WithCooldown") === "true" ? "enabled-with-cooldown" : "enabled-without-cooldown";
                    cooldownUntil.delete(imageId);
                } else {
                    state = "disabled";
                    if (s.protectionCooldown && previous === "enabled-with-cooldown")
                        cooldownUntil.set(imageId, now() + PROTECTION_COOLDOWN_MS);
                }
                protections.set(imageId, state);
                return ec2Success(action, `<return>${protectionText(imageId) ?? state}</return>`);
            }

            default:
                return pass();
        }
    }

    /**
     * The DeregistrationProtection text of an image. During a cooldown:
     * `disabled-after <ISO time>`. The user guide ("Protect an Amazon EC2 AMI
     * from deregistration") does not give the exact text; the API model types
     * the field as a free string. A text that does not start with "enabled"
     * although DeregisterImage is still refused is the hardest on a client.
     */
    function protectionText(imageId: string): string | undefined {
        const state = protections.get(imageId);
        const until = cooldownUntil.get(imageId);
        if (state === "disabled" && until !== undefined && now() < until) return `disabled-after ${new Date(until).toISOString()}`;
        return state;
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
        items = items.map((item) => {
            const id = tagText(item, "imageId") ?? "";
            const stale = staleViews.get(id);
            if (stale?.item) {
                if (--stale.left <= 0) staleViews.delete(id);
                return stale.item;
            }
            return overlay(item, true);
        });
        return { ...reply, body: joinImages({ ...parts, items }, nextToken) };
    }

    /** What the proxy knows about an image and moto does not, written into its DescribeImages item. */
    function overlay(item: string, consume: boolean): string {
        const id = tagText(item, "imageId") ?? "";
        const life = lifecycles.get(id);
        if (life && tagText(item, "imageState") === "available") {
            if (life.pendingLeft > 0) {
                if (consume) life.pendingLeft--;
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
        const protection = protectionText(id);
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

    /** A request's answer once no fault was injected: region, token buckets, validation, extra handlers, emulation. */
    async function respond(s: Settings, action: string, params: URLSearchParams, req: http.IncomingMessage, body: string): Promise<Reply> {
        await ensureModel(s); // a validation switched on by setOptions loads the model here
        const signed = signedRegion(req.headers.authorization);
        const region = signed ?? DEFAULT_REGION;
        const validation = validationOf(s);
        const refused = (refusal: { status: number; code: string; message: string }) => {
            stats.refusedByCode[refusal.code] = (stats.refusedByCode[refusal.code] ?? 0) + 1;
            return ec2Error(refusal.status, refusal.code, refusal.message);
        };
        if (validation.regions && model) {
            const refusal = checkRegion(model, signed);
            if (refusal) return refused(refusal);
        }
        if (buckets && !buckets.take(region, action, params)) {
            // "If you exceed an API throttling limit, you get the
            // RequestLimitExceeded error code." ("Request throttling for the
            // Amazon EC2 API"); HTTP 503 as for injected throttling.
            stats.throttled++;
            stats.throttledByAction[action] = (stats.throttledByAction[action] ?? 0) + 1;
            return ec2Error(503, "RequestLimitExceeded", "Request limit exceeded.");
        }
        if (validation.model && model) {
            const refusal = validateRequest(model, action, params);
            if (refusal) return refused(refusal);
        }
        if (s.handlers.length > 0) {
            const ctx: HandlerContext = {
                action,
                params,
                region,
                service: credentialScope(req.headers).service,
                target: s.target,
                req,
                body,
                options: s,
                forward: (newBody = body) => forward(req.method ?? "POST", req.url ?? "/", req.headers, newBody),
                next: () => handle(s, action, params, req, body, region),
                moto: (a, p) => motoCall(req.headers, a, p),
                now,
                random: delays,
            };
            for (const handler of s.handlers) {
                const reply = await handler(ctx);
                if (reply) return reply;
            }
        }
        return handle(s, action, params, req, body, region);
    }

    /** The first answer of `serviceHandlers` to a request of another service (SSM, Auto Scaling), undefined when none answers. */
    async function serviceReply(s: Settings, req: http.IncomingMessage, body: string): Promise<Reply | undefined> {
        const target = req.headers["x-amz-target"];
        const params = new URLSearchParams(target === undefined ? body : "");
        const scope = credentialScope(req.headers);
        const ctx: HandlerContext = {
            action: (target ? String(target).split(".").pop() : params.get("Action")) ?? "(none)",
            params,
            region: scope.region,
            service: scope.service,
            target: s.target,
            req,
            body,
            options: s,
            forward: (newBody = body) => forward(req.method ?? "POST", req.url ?? "/", req.headers, newBody),
            next: () => forward(req.method ?? "POST", req.url ?? "/", req.headers, body),
            moto: (a, p) => motoCall(req.headers, a, p),
            now,
            random: delays,
        };
        for (const handler of s.serviceHandlers ?? []) {
            const reply = await handler(ctx);
            if (reply) return reply;
        }
        return undefined;
    }

    const server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", async () => {
            const s = settings;
            const body = Buffer.concat(chunks).toString("utf8");
            const { service } = credentialScope(req.headers);
            if ((service !== undefined && service !== "ec2") || req.headers["x-amz-target"] !== undefined) {
                // Another service on moto's port (SSM, Auto Scaling): passed through
                // (after serviceHandlers), not counted, no faults, no EC2 validation.
                try {
                    const reply =
                        (await serviceReply(s, req, body)) ?? (await forward(req.method ?? "POST", req.url ?? "/", req.headers, body));
                    res.writeHead(reply.status, { ...reply.headers, "content-length": Buffer.byteLength(reply.body) });
                    res.end(reply.body);
                } catch (e) {
                    res.writeHead(502);
                    res.end(String((e as Error).message));
                }
                return;
            }
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
                // The latency stands for the request's time on the wire: one whose
                // client went away before it got there never reaches EC2. (The EC2
                // docs say nothing of it; for a killed client it is also the case
                // where an interrupted run has the most left to recover.)
                if (req.socket.destroyed) return;
                if (fault === "reset") {
                    req.socket.destroy();
                    return;
                }
                if (fault === "lost-response") {
                    // Real EC2 behind a broken network: the call is done, its
                    // answer never arrives, and the SDK sends it again.
                    await respond(s, action, params, req, body);
                    req.socket.destroy();
                    return;
                }
                let reply = fault
                    ? ec2Error(FAULT_REPLIES[fault].status, FAULT_REPLIES[fault].code, FAULT_REPLIES[fault].message)
                    : await respond(s, action, params, req, body);
                if (!fault && s.finalReply) reply = await s.finalReply(reply, { action, region: credentialScope(req.headers).region });
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
        server.listen(settings.port, "127.0.0.1", () => resolve());
    });
    const { port } = server.address() as AddressInfo;

    return {
        endpoint: `http://127.0.0.1:${port}`,
        stats: () => structuredClone(stats),
        resetStats: () => {
            stats = emptyStats();
        },
        setOptions: (patch) => {
            settings = { ...settings, ...patch };
            if (patch.target !== undefined) target = new URL(settings.target);
            if (patch.seed !== undefined) {
                random = mulberry32(settings.seed);
                delays = mulberry32(settings.seed ^ 0x5bd1e995);
            }
            if (patch.tokenBuckets !== undefined) buckets = makeBuckets(settings);
        },
        advanceClock: (ms) => {
            clockOffset += ms;
        },
        stop: () =>
            new Promise<void>((resolve) => {
                server.close(() => resolve());
                server.closeAllConnections();
            }),
    };
}
