/**
 * EC2's request token buckets as the EC2 developer guide documents them
 * ("Request throttling for the Amazon EC2 API",
 * https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html):
 * sizes and refill rates per action category, the actions with buckets of
 * their own, and which buckets one request draws from. The table the client
 * paces by (request-pacing.ts); the emulator keeps its own on purpose.
 */

/** A token bucket: `capacity` tokens at most, `refillPerSecond` added back every second. */
export interface BucketSize {
    capacity: number;
    refillPerSecond: number;
}

/** EC2's request-rate categories (the page's "API action category"), plus actions with their own bucket sizes. */
export type Ec2ActionCategory = "non-mutating" | "unfiltered-non-mutating" | "mutating" | "resource-intensive" | "uncategorized";

/** "Request token bucket sizes and refill rates", the category table. */
export const CATEGORY_BUCKETS: Readonly<Record<Exclude<Ec2ActionCategory, "uncategorized">, BucketSize>> = {
    /** `Describe*`, `List*`, `Search*`, `Get*` not in another category. */
    "non-mutating": { capacity: 100, refillPerSecond: 20 },
    /** DescribeInstances, DescribeSnapshots, ... requested without a filter or pagination. */
    "unfiltered-non-mutating": { capacity: 50, refillPerSecond: 10 },
    /** Mutating actions that are neither resource-intensive nor uncategorized. */
    mutating: { capacity: 50, refillPerSecond: 5 },
    /** AuthorizeSecurityGroupIngress, CreateKeyPair, RequestSpotInstances, ... (none used by golden-ami). */
    "resource-intensive": { capacity: 50, refillPerSecond: 5 },
};

/** "Uncategorized actions" with their own sizes: the ones golden-ami uses (or may use next). */
export const OWN_BUCKETS: Readonly<Record<string, BucketSize>> = {
    CopyImage: { capacity: 100, refillPerSecond: 1 },
    CreateSnapshot: { capacity: 100, refillPerSecond: 5 },
    CreateTags: { capacity: 100, refillPerSecond: 10 },
    CreateVolume: { capacity: 100, refillPerSecond: 5 },
    DeleteSnapshot: { capacity: 100, refillPerSecond: 5 },
    DeleteTags: { capacity: 100, refillPerSecond: 10 },
    DeleteVolume: { capacity: 100, refillPerSecond: 5 },
    DeregisterImage: { capacity: 100, refillPerSecond: 5 },
    ModifyImageAttribute: { capacity: 100, refillPerSecond: 5 },
    ModifySnapshotAttribute: { capacity: 100, refillPerSecond: 5 },
    RunInstances: { capacity: 5, refillPerSecond: 2 },
    StartInstances: { capacity: 5, refillPerSecond: 2 },
    TerminateInstances: { capacity: 100, refillPerSecond: 5 },
};

/** "Resource token bucket sizes and refill rates": drained by the number of instances a request affects. */
export const RESOURCE_BUCKETS: Readonly<Record<string, BucketSize>> = {
    RunInstances: { capacity: 1000, refillPerSecond: 2 },
    TerminateInstances: { capacity: 1000, refillPerSecond: 20 },
    StartInstances: { capacity: 1000, refillPerSecond: 2 },
    StopInstances: { capacity: 1000, refillPerSecond: 20 },
};

/** The page's "Unfiltered and unpaginated non-mutating actions". */
const UNFILTERED_SUBSET = new Set([
    "DescribeInstances",
    "DescribeInstanceStatus",
    "DescribeNetworkInterfaces",
    "DescribeSecurityGroups",
    "DescribeSnapshots",
    "DescribeSpotInstanceRequests",
    "DescribeVolumes",
]);

/**
 * The category of every EC2 action golden-ami calls, written out so that a
 * reviewer can check each against the page; an action not listed falls back
 * to the page's naming rule (Describe/List/Search/Get are non-mutating, the
 * rest mutating).
 */
export const ACTION_CATEGORIES: Readonly<Record<string, Ec2ActionCategory>> = {
    DescribeImages: "non-mutating",
    DescribeImageAttribute: "non-mutating",
    DescribeImageReferences: "non-mutating",
    DescribeImageUsageReports: "non-mutating",
    DescribeImageUsageReportEntries: "non-mutating",
    DescribeLaunchTemplates: "non-mutating",
    DescribeLaunchTemplateVersions: "non-mutating",
    // Retention's inventory, always paginated (MaxResults 1000).
    DescribeFleets: "non-mutating",
    DescribeSpotFleetRequests: "non-mutating",
    DescribeRegions: "non-mutating",
    GetConsoleOutput: "non-mutating",
    // GoldenImage: a builder without a script (status checks, by id) and launch retries in another zone.
    DescribeInstanceStatus: "non-mutating",
    DescribeSubnets: "non-mutating",
    // Non-mutating, but in the smaller bucket unless filtered or paginated.
    DescribeInstances: "non-mutating",
    DescribeSnapshots: "non-mutating",
    DescribeVolumes: "non-mutating",
    CreateImage: "mutating",
    RegisterImage: "mutating",
    EnableImageDeprecation: "mutating",
    DisableImageDeprecation: "mutating",
    EnableImageDeregistrationProtection: "mutating",
    DisableImageDeregistrationProtection: "mutating",
    EnableImage: "mutating",
    DisableImage: "mutating",
    StopInstances: "mutating",
    CreateImageUsageReport: "mutating",
    DeleteImageUsageReport: "mutating",
    CopyImage: "uncategorized",
    CreateSnapshot: "uncategorized",
    CreateTags: "uncategorized",
    CreateVolume: "uncategorized",
    DeleteSnapshot: "uncategorized",
    DeleteTags: "uncategorized",
    DeleteVolume: "uncategorized",
    DeregisterImage: "uncategorized",
    ModifyImageAttribute: "uncategorized",
    ModifySnapshotAttribute: "uncategorized",
    RunInstances: "uncategorized",
    StartInstances: "uncategorized",
    TerminateInstances: "uncategorized",
};

/** The category of an EC2 action: from the table above, else by EC2's naming rule. */
export function categoryOf(action: string): Ec2ActionCategory {
    const listed = ACTION_CATEGORIES[action];
    if (listed) return listed;
    if (OWN_BUCKETS[action]) return "uncategorized";
    return /^(Describe|List|Search|Get)[A-Z]/.test(action) ? "non-mutating" : "mutating";
}

/** One bucket a request draws from: its name (unique per account and region) and size, and how many tokens it takes. */
export interface BucketDraw {
    bucket: string;
    size: BucketSize;
    tokens: number;
}

function hasAny(value: unknown): boolean {
    return Array.isArray(value) ? value.length > 0 : value !== undefined && value !== null && value !== "";
}

/**
 * The buckets one attempt of `action` with this input draws from: its request
 * bucket (one per action; the smaller one for the unfiltered and unpaginated
 * subset) and, for instance actions, its resource bucket, drained by the
 * number of instances.
 */
export function bucketsFor(action: string, input: Record<string, unknown> = {}): BucketDraw[] {
    const category = categoryOf(action);
    const draws: BucketDraw[] = [];
    if (category === "uncategorized") {
        draws.push({ bucket: action, size: OWN_BUCKETS[action] ?? CATEGORY_BUCKETS.mutating, tokens: 1 });
    } else if (UNFILTERED_SUBSET.has(action) && !hasAny(input.Filters) && !hasAny(input.MaxResults) && !hasAny(input.NextToken)) {
        draws.push({ bucket: `${action}/unfiltered`, size: CATEGORY_BUCKETS["unfiltered-non-mutating"], tokens: 1 });
    } else {
        draws.push({ bucket: action, size: CATEGORY_BUCKETS[category], tokens: 1 });
    }
    const resource = RESOURCE_BUCKETS[action];
    if (resource) {
        const instances =
            action === "RunInstances" ? Number(input.MaxCount ?? input.MinCount ?? 1) : ((input.InstanceIds as unknown[]) ?? []).length;
        draws.push({ bucket: `${action}/resources`, size: resource, tokens: Math.max(1, instances || 1) });
    }
    return draws;
}

// ---- the limiter ---------------------------------------------------------------
