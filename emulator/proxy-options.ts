// The EC2 test proxy's options, statistics and handle (emulator/ec2-proxy.ts),
// and the defaults every option takes.
import type { Reply } from "./ec2-xml";
import type { ProxyHandler } from "./handler";
import type { ImageServiceSwitches } from "./image-service";

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

/** ProxyOptions with every default filled in (withDefaults). */
export type ProxySettings = ProxyOptions &
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
export const ALL_FAULTS: FaultKind[] = ["throttle", "500", "503", "reset"];

export function emptyStats(): ProxyStats {
    return { requests: 0, byAction: {}, faultsInjected: 0, faultsByKind: {}, throttled: 0, throttledByAction: {}, refusedByCode: {} };
}

export function withDefaults(options: ProxyOptions): ProxySettings {
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

export function validationOf(s: ProxySettings): { model: boolean; regions: boolean } {
    if (typeof s.validation === "boolean") return { model: s.validation, regions: s.validation };
    return { model: s.validation.model ?? true, regions: s.validation.regions ?? true };
}
