// The EC2 proxy's older image overlays: EC2's image behaviour written over
// moto's own image code, for a proxy whose image service is off
// (ProxyOptions.imageService false, the bare proxy's default). A proxy with
// the image service on (`golden-ami emulator`, the bench) answers every image
// action from emulator/image-service.ts and never reaches this file. Each
// behaviour cites the EC2 page it follows, as the image service does.
import type * as http from "node:http";
import {
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
import { PROTECTION_COOLDOWN_MS } from "./image-service";
import type { ProxySettings } from "./proxy-options";

const SNAPSHOT_ID_FILTER = "block-device-mapping.snapshot-id";

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

/** What the overlays need of the proxy around them. */
export interface OverlayContext {
    /** The proxy's settings as they are now. */
    settings(): ProxySettings;
    /** The emulator's clock (epoch ms, moved by advanceClock). */
    now(): number;
    /** An EC2 call to moto in the client's region (its headers). */
    motoCall(headers: http.IncomingHttpHeaders, action: string, params: Record<string, string>): Promise<Reply>;
    /** Eventual consistency: a new image stays unseen for a few reads. */
    markNotYetVisible(s: ProxySettings, imageId: string): void;
    /** Eventual consistency: the image's DescribeImages item from before its last change, if a read is still owed one. */
    takeStaleItem(imageId: string): string | undefined;
}

export interface MotoImageOverlays {
    handle(
        s: ProxySettings,
        action: string,
        params: URLSearchParams,
        req: http.IncomingMessage,
        pass: (body?: string) => Promise<Reply>,
        region: string,
    ): Promise<Reply>;
    /** What the overlays know about an image and moto does not, written into its DescribeImages item (`consume`: a pending poll is used up). */
    overlay(item: string, consume: boolean): string;
    /** DescribeImages at moto for the proxy's own bookkeeping; undefined when moto refuses (e.g. unknown id). */
    lookupImages(headers: http.IncomingHttpHeaders, params: Record<string, string>): Promise<string[] | undefined>;
}

export function motoImageOverlays(ctx: OverlayContext): MotoImageOverlays {
    const { settings, now, motoCall, markNotYetVisible, takeStaleItem } = ctx;
    // What the overlays remember about images and snapshots, by id.
    const lifecycles = new Map<string, { pendingLeft: number; fail?: { reason: string; code?: string } }>();
    const deprecationTimes = new Map<string, string>();
    const protections = new Map<string, string>();
    /** Images whose with-cooldown protection was disabled: deregistration is refused until this time. */
    const cooldownUntil = new Map<string, number>();
    const snapshotsInUse = new Map<string, { imageId: string; left: number }>();
    /** CopyImage answers by region and ClientToken, with the parameters the token was first used with. */
    const copiesByToken = new Map<string, { parameters: string; reply: Reply }>();

    async function lookupImages(headers: http.IncomingHttpHeaders, params: Record<string, string>): Promise<string[] | undefined> {
        const reply = await motoCall(headers, "DescribeImages", params);
        if (reply.status !== 200) return undefined;
        return splitImages(reply.body)?.items;
    }

    async function imageExists(headers: http.IncomingHttpHeaders, imageId: string): Promise<boolean> {
        const items = await lookupImages(headers, { "ImageId.1": imageId });
        return !!items?.some((i) => tagText(i, "imageId") === imageId && tagText(i, "imageState") !== "deregistered");
    }

    /** CreateImage, CopyImage or RegisterImage, with what moto does not do: duplicate names, pending and failed states. */
    async function createImage(
        s: ProxySettings,
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

    /** The image actions the overlays emulate over moto's own image code; anything else passes through. */
    async function handle(
        s: ProxySettings,
        action: string,
        params: URLSearchParams,
        req: http.IncomingMessage,
        pass: (body?: string) => Promise<Reply>,
        region: string,
    ): Promise<Reply> {
        const imageId = params.get("ImageId") ?? "";

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

    async function describeImages(s: ProxySettings, params: URLSearchParams, pass: (body?: string) => Promise<Reply>): Promise<Reply> {
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
            return takeStaleItem(id) ?? overlay(item, true);
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
        const created = settings().creationDateFromName?.(xmlUnescape(tagText(item, "name") ?? ""));
        if (created) item = setElement(item, "creationDate", created);
        return item;
    }

    return { handle, overlay, lookupImages };
}
