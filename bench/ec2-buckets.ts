// EC2's documented request token buckets, for the benchmark's floor: the
// least wall time the buckets allow for a given set of calls.
//
// Source: EC2 developer guide, "Request throttling for the Amazon EC2 API"
// (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html),
// sections "How throttling is applied" and "Request token bucket sizes and
// refill rates". What it says and this module follows:
// - Request rate limiting is per account, per Region and per API action: "each
//   API is evaluated individually ... Each request that you make removes one
//   token from the API's bucket"; other actions' buckets are not affected.
// - A bucket starts full, holds at most its maximum capacity, and refills at a
//   set rate per second.
// - The category table (capacity / refill per second): non-mutating 100 / 20;
//   unfiltered and unpaginated non-mutating (DescribeInstances,
//   DescribeInstanceStatus, DescribeNetworkInterfaces, DescribeSecurityGroups,
//   DescribeSnapshots, DescribeSpotInstanceRequests, DescribeVolumes, when
//   asked without a filter and without pagination) 50 / 10; mutating 50 / 5;
//   resource-intensive 50 / 5; and "uncategorized actions" with their own
//   numbers (those listed below are the ones a retention run, its peers or the
//   bench's seeding can make).
// Resource token buckets (RunInstances 1000 / 2 instances, ...) are left out:
// no contender launches instances.

export type BucketCategory = "non-mutating" | "unfiltered-unpaginated" | "mutating" | "resource-intensive" | "uncategorized";

export interface Bucket {
    category: BucketCategory;
    /** Bucket maximum capacity, in requests. */
    size: number;
    /** Bucket refill rate, in requests per second (unscaled). */
    refill: number;
}

const NON_MUTATING: Bucket = { category: "non-mutating", size: 100, refill: 20 };
const UNFILTERED: Bucket = { category: "unfiltered-unpaginated", size: 50, refill: 10 };
const MUTATING: Bucket = { category: "mutating", size: 50, refill: 5 };
const RESOURCE_INTENSIVE: Bucket = { category: "resource-intensive", size: 50, refill: 5 };

/** The subset that falls back to the smaller bucket when asked with neither a filter nor pagination. */
const UNFILTERED_SUBSET = new Set([
    "DescribeInstances",
    "DescribeInstanceStatus",
    "DescribeNetworkInterfaces",
    "DescribeSecurityGroups",
    "DescribeSnapshots",
    "DescribeSpotInstanceRequests",
    "DescribeVolumes",
]);

const RESOURCE_INTENSIVE_ACTIONS = new Set([
    "AcceptVpcPeeringConnection",
    "AuthorizeSecurityGroupIngress",
    "CancelSpotInstanceRequests",
    "CreateKeyPair",
    "CreateVpcPeeringConnection",
    "DeleteVpcPeeringConnection",
    "RejectVpcPeeringConnection",
    "RevokeSecurityGroupIngress",
    "RequestSpotInstances",
]);

/** "Uncategorized actions" of the table that a retention run, its peers or the seeding may make. */
const UNCATEGORIZED: Record<string, [size: number, refill: number]> = {
    CopyImage: [100, 1],
    CreateLaunchTemplateVersion: [100, 5],
    CreateSnapshot: [100, 5],
    CreateSnapshots: [100, 5],
    CreateTags: [100, 10],
    CreateVolume: [100, 5],
    DeleteSnapshot: [100, 5],
    DeleteTags: [100, 10],
    DeleteVolume: [100, 5],
    DeregisterImage: [100, 5],
    ModifyImageAttribute: [100, 5],
    ModifyLaunchTemplate: [100, 5],
    ModifySnapshotAttribute: [100, 5],
    RunInstances: [5, 2],
    StartInstances: [5, 2],
    TerminateInstances: [100, 5],
};

const NON_MUTATING_PREFIXES = ["Describe", "List", "Search", "Get"];

/**
 * The request bucket a call to `action` draws from. `params` (the Query
 * parameters) decide, for the unfiltered/unpaginated subset, which of its two
 * buckets: any `Filter.N.*`, `MaxResults` or `NextToken` means the standard one.
 * Ids (`InstanceId.N`) are neither a filter nor pagination: the guide names
 * only those two, so a call by ids draws from the smaller bucket (the choice
 * hardest on the caller).
 */
export function bucketFor(action: string, params?: URLSearchParams): Bucket {
    const own = UNCATEGORIZED[action];
    if (own) return { category: "uncategorized", size: own[0], refill: own[1] };
    if (RESOURCE_INTENSIVE_ACTIONS.has(action)) return RESOURCE_INTENSIVE;
    if (NON_MUTATING_PREFIXES.some((p) => action.startsWith(p))) {
        if (UNFILTERED_SUBSET.has(action)) {
            const keys = params ? [...params.keys()] : [];
            const filteredOrPaged = keys.some((k) => k.startsWith("Filter.") || k === "MaxResults" || k === "NextToken");
            return filteredOrPaged ? NON_MUTATING : UNFILTERED;
        }
        return NON_MUTATING;
    }
    return MUTATING;
}

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
