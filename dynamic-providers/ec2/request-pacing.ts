/**
 * Client-side pacing of EC2 requests to the token buckets EC2 throttles with.
 *
 * EC2 throttles each account and region with one request token bucket per API
 * action, sized by the action's category, and for a few instance actions a
 * second, resource token bucket that each affected instance drains (EC2
 * developer guide, "Request throttling for the Amazon EC2 API",
 * https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html:
 * "each API is evaluated individually, and you are throttled on the number of
 * requests you make on a per-API basis"; "Limits are applied to individual API
 * actions, not API action categories"). Against real EC2 a large run is
 * bounded by those refill rates, not by latency: going faster only buys
 * `RequestLimitExceeded`, retries, and throttling of every other tool in the
 * account. So every attempt (SDK retries included) takes a token from a
 * limiter that mirrors EC2's bucket for that account, region and action,
 * shared by every resource in the provider process.
 *
 * Adaptive: each limiter starts at the bucket's documented size and refill
 * (few other tools call DeregisterImage or DescribeImageAttribute, and only
 * callers of the same action compete). When EC2 answers
 * `RequestLimitExceeded` anyway (other automation in the same bucket, a
 * lower limit, or only requests bunched by latency at the edge of an idle
 * bucket), that limiter's refill is cut (multiplicative decrease: a tenth
 * at the cap; a throttle again before it is back there says another client
 * is in the bucket, and from then on it is cut by half and stays at most at
 * half the cap) and its tokens dropped; while answers succeed it probes back up (additive
 * increase) towards the documented rate. Only that account, region and
 * action slow down. See `AdaptiveLimiter` for the constants.
 *
 * Headroom, optional: `GOLDEN_AMI_EC2_RATE_SHARE` (0 < share ≤ 1) caps each
 * bucket at that share of its documented size and refill, for accounts that
 * want a guaranteed headroom for their other automation; the adaptive cut
 * still works below that cap. `GOLDEN_AMI_EC2_RATE_SCALE` multiplies the
 * refill rates for the emulator's sped-up buckets (tests and the bench only).
 */
import type { EC2Client, ServiceInputTypes, ServiceOutputTypes } from "@aws-sdk/client-ec2";
import type { FinalizeRequestMiddleware } from "@smithy/types";
import { BucketDraw, BucketSize, bucketsFor } from "./request-buckets";

/**
 * A token bucket that starts full and refills continuously. `acquire(n)`
 * resolves once n tokens are taken; waiters are served first come, first
 * served, so a large request is not starved by small ones. Time comes from
 * `Date.now` and `setTimeout` (fake timers drive it in tests).
 */
export class TokenBucket {
    private tokens: number;
    private last: number;
    private readonly waiting: { tokens: number; resolve: () => void }[] = [];
    private timer: ReturnType<typeof setTimeout> | undefined;

    constructor(
        private capacity: number,
        private refillPerSecond: number,
    ) {
        if (!(capacity > 0) || !(refillPerSecond > 0))
            throw new Error(`a token bucket needs capacity and refill > 0, got ${capacity}/${refillPerSecond}`);
        this.tokens = capacity;
        this.last = Date.now();
    }

    /** Tokens in the bucket now (fractional while refilling). */
    available(): number {
        this.refill();
        return this.tokens;
    }

    /** Waits for `n` tokens (more than the capacity is taken as the capacity) and takes them. */
    acquire(n = 1): Promise<void> {
        const want = Math.min(n, this.capacity);
        if (this.waiting.length === 0) {
            this.refill();
            if (this.tokens >= want - 1e-9) {
                this.tokens -= want;
                return Promise.resolve();
            }
        }
        return new Promise((resolve) => {
            this.waiting.push({ tokens: want, resolve });
            this.schedule();
        });
    }

    /** Changes the size (a new rate share), keeping what is in the bucket up to the new capacity. */
    resize(capacity: number, refillPerSecond: number): void {
        this.refill();
        this.capacity = capacity;
        this.refillPerSecond = refillPerSecond;
        this.tokens = Math.min(this.tokens, capacity);
        for (const w of this.waiting) w.tokens = Math.min(w.tokens, capacity);
        if (this.timer) clearTimeout(this.timer);
        this.timer = undefined;
        this.serve();
    }

    /** Drops every token (EC2 said its bucket is empty): the next request waits for the refill. */
    drain(): void {
        this.refill();
        this.tokens = 0;
    }

    private refill(): void {
        const now = Date.now();
        this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) / 1000) * this.refillPerSecond);
        this.last = now;
    }

    private serve(): void {
        this.refill();
        while (this.waiting.length > 0 && this.tokens >= this.waiting[0].tokens - 1e-9) {
            const w = this.waiting.shift()!;
            this.tokens -= w.tokens;
            w.resolve();
        }
        if (this.waiting.length > 0) this.schedule();
    }

    private schedule(): void {
        if (this.timer) return;
        const missing = Math.max(0, this.waiting[0].tokens - this.tokens);
        const ms = Math.max(1, Math.ceil((missing / this.refillPerSecond) * 1000));
        this.timer = setTimeout(() => {
            this.timer = undefined;
            this.serve();
        }, ms);
    }
}

// ---- headroom ------------------------------------------------------------------

/** The environment variable that caps each EC2 bucket golden-ami may use at a share of its documented size. */
export const RATE_SHARE_ENV = "GOLDEN_AMI_EC2_RATE_SHARE";

/**
 * Default cap: the whole documented bucket. EC2's buckets are per action, so
 * only other callers of the same action compete, and the adaptive cut (see
 * `AdaptiveLimiter`) yields to them when EC2 says the bucket is empty. A
 * fixed share (`GOLDEN_AMI_EC2_RATE_SHARE`, e.g. 0.5) stays available for
 * accounts that want a guaranteed headroom, at the price of a run that long
 * over the floor (twice at 0.5).
 */
export const DEFAULT_RATE_SHARE = 1;

function parseShare(raw: string | number, source: string): number {
    const n = typeof raw === "number" ? raw : Number(raw.trim());
    if (raw === "" || !Number.isFinite(n) || n <= 0 || n > 1) {
        throw new Error(
            `${source} must be a number above 0 and at most 1 (the share of each EC2 request bucket golden-ami may use, e.g. 0.5); got '${raw}'`,
        );
    }
    return n;
}

// One registry per process, even if two copies of this module are loaded
// (the package and a linked checkout): EC2's buckets are per account, not per copy.
interface Registry {
    buckets: Map<string, { limiter: AdaptiveLimiter; size: BucketSize }>;
    share: number | undefined;
}
const REGISTRY_KEY = Symbol.for("golden-ami.ec2-request-pacing.v2");
function registry(): Registry {
    const g = globalThis as unknown as Record<symbol, Registry | undefined>;
    return (g[REGISTRY_KEY] ??= { buckets: new Map(), share: undefined });
}

/** The cap in use: set by `setRateShare`, else `GOLDEN_AMI_EC2_RATE_SHARE`, else 1 (the whole bucket). A bad value is an error naming the variable. */
export function rateShare(): number {
    const set = registry().share;
    if (set !== undefined) return set;
    const raw = process.env[RATE_SHARE_ENV];
    return raw === undefined ? DEFAULT_RATE_SHARE : parseShare(raw, RATE_SHARE_ENV);
}

/**
 * Sets the cap of each bucket for this process (undefined: back to the
 * environment variable). Buckets already in use are resized at once and
 * start again from the new cap.
 */
export function setRateShare(share: number | undefined): void {
    registry().share = share === undefined ? undefined : parseShare(share, "the EC2 rate share");
    const now = rateShare();
    for (const { limiter, size } of registry().buckets.values()) limiter.setCeiling(scaled(size, now));
}

/** The environment variable that multiplies every refill rate (tests and the bench only, see `rateScale`). */
export const RATE_SCALE_ENV = "GOLDEN_AMI_EC2_RATE_SCALE";

/**
 * Refill rates can be multiplied for tests and `npm run bench`, which run
 * against an emulator whose buckets refill F times faster than EC2's
 * (`GOLDEN_AMI_EC2_RATE_SCALE=2` with the emulator's `tokenBuckets:
 * { refillScale: 2 }`). Bucket capacities are not scaled, as the emulator's
 * are not. Never needed in use: real EC2 refills at the documented rates.
 */
export function rateScale(): number {
    const raw = process.env[RATE_SCALE_ENV];
    const n = raw === undefined ? 1 : Number(raw);
    return Number.isFinite(n) && n > 0 ? n : 1;
}

function scaled(size: BucketSize, share: number): BucketSize {
    // A bucket must hold at least one request, or it would never let one through.
    return { capacity: Math.max(1, size.capacity * share), refillPerSecond: size.refillPerSecond * share * rateScale() };
}

// ---- adaptive rate ---------------------------------------------------------------

/** On `RequestLimitExceeded` below the cap, the refill is multiplied by this (multiplicative decrease). */
export const THROTTLE_DECREASE = 0.5;
/**
 * On `RequestLimitExceeded` at the cap, while no other client has shown
 * itself in the bucket, the refill is multiplied by this instead: a gentle
 * cut. A limiter running at the documented refill keeps its bucket as empty
 * as EC2's, and requests never reach EC2 as evenly spaced as they left
 * (latency varies), so an idle bucket throttles now and then at its edge
 * with nobody else in it; halving the refill for that cost a run some 6 s
 * of recovery (BENCHMARKS.md, session 5). The gentle cut leaves EC2's bucket
 * a few tokens of slack while the limiter probes back to the cap.
 */
export const EDGE_DECREASE = 0.9;
/**
 * Once another client has shown itself in a bucket, the limiter's refill
 * stays at most this share of the cap for the rest of the process. The sign:
 * EC2 throttles again before the limiter is back at the cap (the gentle cut
 * did not make room), or throttles it below the cap. Its cut then goes to a
 * quarter of the cap (two halvings), and it probes back up to this share, not
 * beyond. Why not back to the cap: a limiter paced in step with EC2's refill
 * wins every race for a token with a client that sends at a steady rate, so
 * above its share it is never throttled again and the other client takes
 * every throttle (measured: 19% of a competing client's calls, where
 * stopping at half left it 0%; BENCHMARKS.md, session 6). The price: a
 * client that came and went leaves the rest of the run at half that bucket,
 * as `GOLDEN_AMI_EC2_RATE_SHARE=0.5` would.
 */
export const CONTENDED_SHARE = 0.5;
/**
 * While answers succeed, the refill grows by this share of the cap per second
 * of EC2 time (additive increase): from half the cap back to the cap in 50 s.
 * Slow enough that, with another client taking half of a bucket, the limiter
 * spends a cycle of some 200 requests between two throttles (≤ 1% throttled,
 * see the simulation in test/unit/request-pacing.test.ts); fast enough that a
 * single throttle at the edge of an idle bucket costs a few seconds.
 */
export const RECOVERY_PER_SECOND = 0.01;
/** The refill never drops below this share of the cap: a run always finishes. */
export const MIN_RATE_SHARE = 0.05;

/**
 * One EC2 bucket as golden-ami paces it: a token bucket whose refill (and
 * capacity, in proportion) follows AIMD between `MIN_RATE_SHARE` of the cap
 * and the cap. `throttled` cuts the refill once per round of requests (a
 * throttled answer to a request sent before the last cut says nothing new)
 * and drops the tokens: gently at the cap (`EDGE_DECREASE`) while no other
 * client has shown itself, by half (`THROTTLE_DECREASE`) otherwise, and once
 * another client has shown itself the refill stays at most
 * `CONTENDED_SHARE` of the cap. `succeeded` grows the refill by
 * `RECOVERY_PER_SECOND` of the cap per second since the last change.
 */
export class AdaptiveLimiter {
    private readonly bucket: TokenBucket;
    private ceiling: BucketSize;
    private rate: number;
    private lastCut = Number.NEGATIVE_INFINITY;
    private lastChange: number;
    /** The last cut was the gentle one at the cap, and the refill has not been back to the cap since. */
    private gentlyCut = false;
    /** Another client has shown itself in this bucket: the refill stays at most `CONTENDED_SHARE` of the cap. */
    private contended = false;
    /** Throttled answers seen (all, not only those that cut). */
    throttles = 0;

    constructor(ceiling: BucketSize) {
        this.ceiling = ceiling;
        this.rate = ceiling.refillPerSecond;
        this.bucket = new TokenBucket(ceiling.capacity, ceiling.refillPerSecond);
        this.lastChange = Date.now();
    }

    /** Tokens available now. */
    available(): number {
        return this.bucket.available();
    }

    /** The refill in use now, tokens per second. */
    refillPerSecond(): number {
        return this.rate;
    }

    /** The bucket's capacity in use now. */
    capacity(): number {
        return Math.max(1, (this.ceiling.capacity * this.rate) / this.ceiling.refillPerSecond);
    }

    /** Whether another client has shown itself in this bucket (see `CONTENDED_SHARE`). */
    isContended(): boolean {
        return this.contended;
    }

    /** The highest refill the limiter probes up to now: the cap, or its contended share. */
    private limit(): number {
        return this.ceiling.refillPerSecond * (this.contended ? CONTENDED_SHARE : 1);
    }

    /** Waits for `n` tokens and takes them; resolves to the time the request may leave (for `throttled`). */
    async acquire(n = 1): Promise<number> {
        await this.bucket.acquire(n);
        return Date.now();
    }

    /** EC2 answered `RequestLimitExceeded` to a request sent at `sentAt`. */
    throttled(sentAt: number = Date.now()): void {
        this.throttles++;
        if (sentAt < this.lastCut) return;
        const now = Date.now();
        const cap = this.ceiling.refillPerSecond;
        let next: number;
        if (!this.contended && this.rate >= cap * (1 - 1e-9)) {
            next = this.rate * EDGE_DECREASE;
            this.gentlyCut = true;
        } else if (this.gentlyCut) {
            // Throttled again before getting back to the cap: another client
            // is in the bucket. Where two halvings would have put it by now.
            next = cap * THROTTLE_DECREASE * THROTTLE_DECREASE;
            this.gentlyCut = false;
            this.contended = true;
        } else {
            next = this.rate * THROTTLE_DECREASE;
            this.contended = true;
        }
        this.rate = Math.max(cap * MIN_RATE_SHARE, Math.min(next, this.limit()));
        this.lastCut = now;
        this.lastChange = now;
        this.bucket.resize(this.capacity(), this.rate);
        this.bucket.drain();
    }

    /** EC2 accepted a request: probe back up towards the cap (or the contended share). */
    succeeded(): void {
        const now = Date.now();
        const limit = this.limit();
        if (this.rate >= limit) {
            this.lastChange = now;
            return;
        }
        const seconds = Math.max(0, now - this.lastChange) / 1000;
        this.lastChange = now;
        // Per second of EC2 time: x rateScale() in the sped-up emulator, whose refill (in the cap) is already x rateScale().
        const grown = this.rate + this.ceiling.refillPerSecond * RECOVERY_PER_SECOND * rateScale() * seconds;
        this.rate = Math.min(limit, grown);
        if (this.rate >= this.ceiling.refillPerSecond) this.gentlyCut = false;
        this.bucket.resize(this.capacity(), this.rate);
    }

    /** A new cap (a new share): starts again from it. */
    setCeiling(ceiling: BucketSize): void {
        this.ceiling = ceiling;
        this.rate = ceiling.refillPerSecond;
        this.gentlyCut = false;
        this.contended = false;
        this.lastChange = Date.now();
        this.bucket.resize(ceiling.capacity, ceiling.refillPerSecond);
    }
}

/** The process-wide limiter of one EC2 bucket of one account in one region. */
export function limiterFor(account: string, region: string, draw: Pick<BucketDraw, "bucket" | "size">): AdaptiveLimiter {
    const key = `${account}|${region}|${draw.bucket}`;
    const reg = registry();
    let entry = reg.buckets.get(key);
    if (!entry) {
        entry = { limiter: new AdaptiveLimiter(scaled(draw.size, rateShare())), size: draw.size };
        reg.buckets.set(key, entry);
    }
    return entry.limiter;
}

/** What one paced attempt drew from: tell each limiter how EC2 answered. */
export interface Paced {
    draws: { limiter: AdaptiveLimiter; resource: boolean; sentAt: number }[];
}

/** EC2's codes for an empty bucket: the request bucket, and the resource bucket of instance actions. */
const REQUEST_THROTTLED = "RequestLimitExceeded";
const RESOURCE_THROTTLED = "RequestResourceCountExceeded";

/** Tells the limiters of `paced` how EC2 answered: `code` undefined for success, else the error code. */
export function answered(paced: Paced, code: string | undefined): void {
    for (const d of paced.draws) {
        if (code === undefined) d.limiter.succeeded();
        else if (code === (d.resource ? RESOURCE_THROTTLED : REQUEST_THROTTLED)) d.limiter.throttled(d.sentAt);
    }
}

/** Waits until one attempt of `action` may be sent for this account and region. */
export async function pace(account: string, region: string, action: string, input?: Record<string, unknown>): Promise<Paced> {
    const paced: Paced = { draws: [] };
    for (const draw of bucketsFor(action, input)) {
        const limiter = limiterFor(account, region, draw);
        const sentAt = await limiter.acquire(draw.tokens);
        paced.draws.push({ limiter, resource: draw.bucket.endsWith("/resources"), sentAt });
    }
    return paced;
}

/** Forgets every bucket and the share set in code (tests only: real buckets do not reset). */
export function resetPacing(): void {
    const reg = registry();
    reg.buckets.clear();
    reg.share = undefined;
}

// ---- SDK middleware -------------------------------------------------------------

export const PACING_MIDDLEWARE = "goldenAmiPacing";

/** The limiter key of a role's account (`account:<12 digits>` from the ARN), or undefined for an ARN without one. */
export function roleAccountKey(roleArn: string): string | undefined {
    const m = /^arn:[\w-]+:iam::(\d{12}):/.exec(roleArn);
    return m ? `account:${m[1]}` : undefined;
}
const installed = new WeakSet<object>();

/**
 * Makes every attempt this client sends wait for its EC2 buckets, and tells
 * the buckets how EC2 answered (the adaptive cut and recovery). The
 * middleware sits in `finalizeRequest` right after `retryMiddleware`, inside
 * the retry loop, so SDK retries take tokens too, and before signing, so a
 * request that waited is signed when it leaves. The account is the one in
 * `roleArn` when the client factory assumes a role (two roles into one
 * account share its buckets, as EC2 counts them), else the access key id of
 * the resolved credentials (its account is not known without a call to
 * STS); the region is the client's. Calling it twice on a client is a no-op.
 */
export function installPacing(client: EC2Client, options: { roleArn?: string } = {}): EC2Client {
    if (installed.has(client)) return client;
    installed.add(client);
    let where: Promise<{ account: string; region: string }> | undefined;
    const resolveWhere = async () => {
        const region = await client.config.region();
        const account = (options.roleArn && roleAccountKey(options.roleArn)) ?? (await client.config.credentials()).accessKeyId;
        return { account, region };
    };
    const middleware: FinalizeRequestMiddleware<ServiceInputTypes, ServiceOutputTypes> = (next, context) => async (args) => {
        const action = typeof context.commandName === "string" ? context.commandName.replace(/Command$/, "") : undefined;
        if (action) {
            where ??= resolveWhere().catch((e: unknown) => {
                where = undefined; // not remembered: the next attempt asks again
                throw e;
            });
            const { account, region } = await where;
            const paced = await pace(account, region, action, args.input as Record<string, unknown>);
            try {
                const out = await next(args);
                answered(paced, undefined);
                return out;
            } catch (e) {
                answered(paced, (e as { name?: string })?.name);
                throw e;
            }
        }
        return next(args);
    };
    client.middlewareStack.addRelativeTo(middleware, {
        name: PACING_MIDDLEWARE,
        relation: "after",
        toMiddleware: "retryMiddleware",
        override: true,
    });
    return client;
}
