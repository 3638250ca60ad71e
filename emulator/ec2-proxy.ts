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
// Every behaviour is switchable in ProxyOptions (emulator/proxy-options.ts,
// with the defaults); what moto already does right passes through. Images are
// answered by the image service (emulator/image-service.ts) when
// `imageService` is on, else by the older overlays over moto's own image code
// (emulator/moto-image-overlays.ts). This file keeps the transport: faults,
// latency, token buckets, validation, eventual consistency, handlers. Extra actions can be emulated from outside this file:
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
import { API_VERSION, ec2Error, imageNotFound, Reply, tagText } from "./ec2-xml";
import { TokenBuckets } from "./throttling";
import { IMAGE_ACTIONS, ImageRequest, ImageService } from "./image-service";
import { credentialScope, HandlerContext, mulberry32 } from "./handler";
import { actionLogHandler } from "./action-log";
import { motoImageOverlays } from "./moto-image-overlays";
import {
    type Ec2Proxy,
    emptyStats,
    type FaultKind,
    type ProxyOptions,
    type ProxySettings,
    validationOf,
    withDefaults,
} from "./proxy-options";

export type { Reply } from "./ec2-xml";
export type { HandlerContext, ProxyHandler } from "./handler";
export type { Ec2Proxy, FaultKind, ProxyOptions, ProxyStats } from "./proxy-options";

/** The actions that make an image. */
const CREATES = new Set(["CreateImage", "CopyImage", "RegisterImage"]);
const DEFAULT_REGION = "us-east-1";

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

/** The values of a flattened list parameter `Name.1`, `Name.2`, ... */
function listParam(params: URLSearchParams, name: string): string[] {
    return [...params.entries()].filter(([k]) => new RegExp(`^${name}\\.\\d+$`).test(k)).map(([, v]) => v);
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
    const makeBuckets = (s: ProxySettings) => (s.tokenBuckets ? new TokenBuckets(now, s.tokenBuckets.refillScale ?? 1) : undefined);
    let buckets = makeBuckets(settings);
    // The model is needed only when validating; loaded once per process.
    let model: Ec2Model | undefined;
    const ensureModel = async (s: ProxySettings) => {
        const v = validationOf(s);
        if ((v.model || v.regions) && !model) model = await loadEc2Model();
    };
    await ensureModel(settings);
    // Every proxy records what it serves when GOLDEN_AMI_EMULATOR_ACTION_LOG is set (emulator/action-log.ts), before any
    // handler or emulation answers: a test proxy in front of the emulator may answer an image action itself.
    const recorder = actionLogHandler();

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
    const serviceOn = (s: ProxySettings) => !!s.imageService;

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
            const reply = await imageService.handle(action, await imageRequest(headers, region, new URLSearchParams(params)));
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

    /** The caller's account by access key id: asked of moto's STS once per key. */
    const accounts = new Map<string, Promise<string>>();

    /**
     * The account a request is made in. moto ties the keys its STS
     * AssumeRole issues to the role's account and answers every other key
     * as its default account ("Multi-Account support", moto's docs:
     * "Passing in a role that belongs to a different account will return a
     * set of credentials that give access to that account"); its STS
     * GetCallerIdentity, with the caller's own Authorization header (moto
     * does not check signatures), says which.
     */
    function accountOf(headers: http.IncomingHttpHeaders): Promise<string> {
        const key = /Credential=([^/,\s]+)\//.exec(String(headers.authorization ?? ""))?.[1] ?? "";
        let account = accounts.get(key);
        if (!account) {
            const body = new URLSearchParams({ Action: "GetCallerIdentity", Version: "2011-06-15" }).toString();
            const h = { ...headersIn(headers, "us-east-1", "sts"), "content-type": "application/x-www-form-urlencoded" };
            account = forward("POST", "/", h, body).then((reply) => {
                const id = reply.status === 200 ? /<Account>(\d{12})<\/Account>/.exec(reply.body)?.[1] : undefined;
                if (!id) throw new Error(`GetCallerIdentity answered HTTP ${reply.status}: ${reply.body.slice(0, 200)}`);
                return id;
            });
            // An unanswered question is asked again next time (the request fails with a 502 the SDK retries).
            account.catch(() => accounts.delete(key));
            accounts.set(key, account);
        }
        return account;
    }

    async function imageRequest(headers: http.IncomingHttpHeaders, region: string, params: URLSearchParams): Promise<ImageRequest> {
        return {
            region,
            account: await accountOf(headers),
            params,
            moto: (a, p) => rawMotoCall(headers, a, p),
            motoIn: (r) => (a, p) => rawMotoCall(headersIn(headers, r), a, p),
            json: (service, targetName, payload, r = region) => motoJson(headers, r, service, targetName, payload),
        };
    }

    /** A number of reads in 1..max drawn from the seeded delay stream. */
    const drawReads = (max: number) => 1 + Math.floor(delays() * Math.max(1, max));

    /** EC2's image behaviour over moto's own image code, when the image service is off. */
    const overlays = motoImageOverlays({
        settings: () => settings,
        now,
        motoCall,
        markNotYetVisible: (s, id) => markNotYetVisible(s, id),
        takeStaleItem: (id) => {
            const stale = staleViews.get(id);
            if (!stale?.item) return undefined;
            if (--stale.left <= 0) staleViews.delete(id);
            return stale.item;
        },
    });

    function markNotYetVisible(s: ProxySettings, created: string): void {
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
        const item = (await overlays.lookupImages(req.headers, { "ImageId.1": imageId }))?.find((i) => tagText(i, "imageId") === imageId);
        const attributes = new Map<string, Reply>();
        if (action === "ModifyImageAttribute" || action === "ResetImageAttribute") {
            for (const attribute of STALE_ATTRIBUTES) {
                const reply = await motoCall(req.headers, "DescribeImageAttribute", { ImageId: imageId, Attribute: attribute });
                if (reply.status === 200) attributes.set(attribute, reply);
            }
        }
        return { item: item && overlays.overlay(item, false), attributes };
    }

    async function handle(
        s: ProxySettings,
        action: string,
        params: URLSearchParams,
        req: http.IncomingMessage,
        body: string,
        region: string,
    ) {
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
        s: ProxySettings,
        action: string,
        params: URLSearchParams,
        req: http.IncomingMessage,
        pass: (body?: string) => Promise<Reply>,
        region: string,
    ): Promise<Reply> {
        if (serviceOn(s) && IMAGE_ACTIONS.has(action)) {
            const reply = await imageService.handle(action, await imageRequest(req.headers, region, params));
            if (reply) {
                const created = reply.status === 200 && CREATES.has(action) ? tagText(reply.body, "imageId") : undefined;
                if (created) markNotYetVisible(s, created);
                return reply;
            }
            return pass(); // the service leaves it to moto (a snapshot's deletion, other resources' tags)
        }

        return overlays.handle(s, action, params, req, pass, region);
    }

    /** Decides the request's fate before anything reaches moto: an injected fault never half-happens. */
    function drawFault(s: ProxySettings): FaultKind | undefined {
        const roll = random();
        if (s.faultRate <= 0 || s.faults.length === 0 || roll >= s.faultRate) return undefined;
        return s.faults[Math.floor(random() * s.faults.length)];
    }

    /** A request's answer once no fault was injected: region, token buckets, validation, extra handlers, emulation. */
    async function respond(
        s: ProxySettings,
        action: string,
        params: URLSearchParams,
        req: http.IncomingMessage,
        body: string,
    ): Promise<Reply> {
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
        if (s.handlers.length > 0 || recorder) {
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
            for (const handler of recorder ? [recorder, ...s.handlers] : s.handlers) {
                const reply = await handler(ctx);
                if (reply) return reply;
            }
        }
        return handle(s, action, params, req, body, region);
    }

    /** The first answer of `serviceHandlers` to a request of another service (SSM, Auto Scaling), undefined when none answers. */
    async function serviceReply(s: ProxySettings, req: http.IncomingMessage, body: string): Promise<Reply | undefined> {
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
        for (const handler of recorder ? [recorder, ...(s.serviceHandlers ?? [])] : (s.serviceHandlers ?? [])) {
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
