// The benchmark's floor: the least wall time EC2's documented request token
// buckets allow for a given set of calls. The buckets are the emulator's own
// table (emulator/throttling.ts, which cites "Request throttling for the
// Amazon EC2 API"), so the floor is computed from exactly the buckets the
// emulator enforces on every contender: per account, Region and API action,
// each starting full and refilling at a set rate per second. Resource token
// buckets (RunInstances, ...) are left out: no contender launches instances.
import { bucketFor as emulatorBucketFor } from "../emulator/throttling";

export type BucketCategory = "non-mutating" | "unfiltered-unpaginated" | "mutating" | "resource-intensive" | "uncategorized";

export interface Bucket {
    category: BucketCategory;
    /** Bucket maximum capacity, in requests. */
    size: number;
    /** Bucket refill rate, in requests per second (unscaled). */
    refill: number;
}

/**
 * The request bucket a call to `action` draws from. `params` (the Query
 * parameters) decide, for the unfiltered/unpaginated subset, which of its two
 * buckets: any filter, `MaxResults` or `NextToken` means the standard one.
 */
export function bucketFor(action: string, params?: URLSearchParams): Bucket {
    const b = emulatorBucketFor(action, params);
    const category = b.category === "unfiltered-unpaginated-non-mutating" ? "unfiltered-unpaginated" : b.category;
    return { category, size: b.capacity, refill: b.refillPerSecond };
}

/** The smaller bucket of the unfiltered subset (any of its actions, asked without a filter or pagination). */
const UNFILTERED: Bucket = bucketFor("DescribeInstances");

/** The bucket's name in counts: the action, plus which of its two buckets for the unfiltered subset. */
export function bucketKey(action: string, params?: URLSearchParams): string {
    return bucketFor(action, params).category === "unfiltered-unpaginated" ? `${action}(unfiltered)` : action;
}

function bucketOfKey(key: string): Bucket {
    // A key without the suffix is the standard bucket, also for the unfiltered subset.
    return key.endsWith("(unfiltered)") ? UNFILTERED : bucketFor(key, new URLSearchParams("MaxResults=1"));
}

export interface FloorResult {
    /** The floor, in seconds, at refill rates multiplied by `scale`. */
    seconds: number;
    /** The region and bucket that set it. */
    region?: string;
    bucket?: string;
    /** Per region: its slowest bucket and that bucket's time. */
    byRegion: Record<string, { bucket: string; seconds: number }>;
}

/**
 * The least wall time EC2's buckets allow for these calls, with every refill
 * rate multiplied by `scale`: each bucket starts full, so `calls` requests
 * drawing on one need at least max(0, calls - size) / (refill x scale)
 * seconds; buckets are independent and regions run in parallel, so the floor
 * is the largest of those over every (region, bucket).
 *
 * `calls` is region -> bucket key (see {@link bucketKey}) -> requests EC2
 * accepted (throttled answers drew no token and are not counted).
 */
export function floorSeconds(calls: Record<string, Record<string, number>>, scale: number): FloorResult {
    const out: FloorResult = { seconds: 0, byRegion: {} };
    for (const [region, byBucket] of Object.entries(calls)) {
        let worst = { bucket: "", seconds: 0 };
        for (const [key, n] of Object.entries(byBucket)) {
            const b = bucketOfKey(key);
            const s = Math.max(0, n - b.size) / (b.refill * scale);
            if (s > worst.seconds || !worst.bucket) worst = { bucket: key, seconds: s };
        }
        out.byRegion[region] = worst;
        if (worst.seconds >= out.seconds) Object.assign(out, { seconds: worst.seconds, region, bucket: worst.bucket });
    }
    return out;
}
