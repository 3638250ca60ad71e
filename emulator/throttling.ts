// EC2's request throttling as AWS documents it: per account, region and API
// action, token buckets with a maximum capacity and a refill rate per second,
// fixed by the action's category; exceeding one answers RequestLimitExceeded.
//
// Source: "Request throttling for the Amazon EC2 API", Amazon EC2 Developer
// Guide, https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html
// (sections "Request token bucket sizes and refill rates" and "Resource token
// bucket sizes and refill rates"). The numbers below are that page's tables.
// The page's "Console non-mutating actions" category (requests from the EC2
// console) never applies to SDK calls and is not modelled.
//
// The benchmark computes its throughput floor from the same table
// (`bucketFor`), so emulator and benchmark cannot disagree.

export type ThrottleCategory = "non-mutating" | "unfiltered-unpaginated-non-mutating" | "mutating" | "resource-intensive" | "uncategorized";

export interface Bucket {
    category: ThrottleCategory;
    /** Bucket maximum capacity: the burst, in requests. */
    capacity: number;
    /** Bucket refill rate: the sustained rate, in requests per second. */
    refillPerSecond: number;
}

/** The category table ("Request token bucket sizes and refill rates"). */
export const CATEGORY_BUCKETS: Record<Exclude<ThrottleCategory, "uncategorized">, { capacity: number; refillPerSecond: number }> = {
    "non-mutating": { capacity: 100, refillPerSecond: 20 },
    "unfiltered-unpaginated-non-mutating": { capacity: 50, refillPerSecond: 10 },
    mutating: { capacity: 50, refillPerSecond: 5 },
    "resource-intensive": { capacity: 50, refillPerSecond: 5 },
};

/**
 * "A specific subset of non-mutating API actions that, when requested without
 * specifying either pagination or a filter, use tokens from a smaller token bucket."
 */
export const UNFILTERED_UNPAGINATED_ACTIONS: readonly string[] = [
    "DescribeInstances",
    "DescribeInstanceStatus",
    "DescribeNetworkInterfaces",
    "DescribeSecurityGroups",
    "DescribeSnapshots",
    "DescribeSpotInstanceRequests",
    "DescribeVolumes",
];

/** "Mutating API actions that take the most time and consume the most resources to complete." */
export const RESOURCE_INTENSIVE_ACTIONS: readonly string[] = [
    "AcceptVpcPeeringConnection",
    "AuthorizeSecurityGroupIngress",
    "CancelSpotInstanceRequests",
    "CreateKeyPair",
    "CreateVpcPeeringConnection",
    "DeleteVpcPeeringConnection",
    "RejectVpcPeeringConnection",
    "RevokeSecurityGroupIngress",
    "RequestSpotInstances",
];

/** "Uncategorized actions": their own bucket sizes and refill rates, [capacity, refill per second]. */
export const UNCATEGORIZED_BUCKETS: Readonly<Record<string, readonly [number, number]>> = {
    AcceptVpcEndpointConnections: [10, 1],
    AdvertiseByoipCidr: [1, 0.1],
    AssignIpv6Addresses: [100, 5],
    AssignPrivateIpAddresses: [100, 5],
    AssignPrivateNatGatewayAddress: [10, 1],
    AssociateCapacityReservationBillingOwner: [1, 0.5],
    AssociateEnclaveCertificateIamRole: [10, 1],
    AssociateIamInstanceProfile: [100, 5],
    AssociateNatGatewayAddress: [10, 1],
    AttachVerifiedAccessTrustProvider: [10, 2],
    AuthorizeClientVpnIngress: [5, 2],
    CancelDeclarativePoliciesReport: [1, 1],
    CopyImage: [100, 1],
    CreateClientVpnRoute: [5, 2],
    CreateCoipCidr: [5, 1],
    CreateCoipPool: [5, 1],
    CreateDefaultSubnet: [1, 1],
    CreateDefaultVpc: [1, 1],
    CreateLaunchTemplateVersion: [100, 5],
    CreateNatGateway: [10, 1],
    CreateNetworkInterface: [100, 5],
    CreateRestoreImageTask: [50, 0.1],
    CreateSnapshot: [100, 5],
    CreateSnapshots: [100, 5],
    CreateSpotDatafeedSubscription: [50, 3],
    CreateStoreImageTask: [50, 0.1],
    CreateSubnetCidrReservation: [5, 1],
    CreateTags: [100, 10],
    CreateVerifiedAccessEndpoint: [20, 4],
    CreateVerifiedAccessGroup: [10, 2],
    CreateVerifiedAccessInstance: [10, 2],
    CreateVerifiedAccessTrustProvider: [10, 2],
    CreateVolume: [100, 5],
    CreateVpcEndpoint: [4, 0.3],
    CreateVpcEndpointServiceConfiguration: [10, 1],
    DeleteClientVpnRoute: [5, 2],
    DeleteCoipCidr: [5, 1],
    DeleteCoipPool: [5, 1],
    DeleteCoipPoolPermission: [5, 1],
    DeleteNatGateway: [10, 1],
    DeleteNetworkInterface: [100, 5],
    DeleteSnapshot: [100, 5],
    DeleteSpotDatafeedSubscription: [50, 3],
    DeleteSubnetCidrReservation: [5, 1],
    DeleteQueuedReservedInstances: [5, 5],
    DeleteTags: [100, 10],
    DeleteVerifiedAccessEndpoint: [20, 4],
    DeleteVerifiedAccessGroup: [10, 2],
    DeleteVerifiedAccessInstance: [10, 2],
    DeleteVerifiedAccessTrustProvider: [10, 2],
    DeleteVolume: [100, 5],
    DeleteVpcEndpoints: [4, 0.3],
    DeleteVpcEndpointServiceConfigurations: [10, 1],
    DeprovisionByoipCidr: [1, 0.1],
    DeregisterImage: [100, 5],
    DescribeAggregateIdFormat: [10, 10],
    DescribeByoipCidrs: [1, 0.5],
    DescribeCapacityBlockExtensionOfferings: [10, 0.15],
    DescribeCapacityBlockOfferings: [10, 0.15],
    DescribeDeclarativePoliciesReports: [5, 5],
    DescribeHostReservations: [5, 2],
    DescribeHostReservationOfferings: [5, 2],
    DescribeIdentityIdFormat: [10, 10],
    DescribeIdFormat: [10, 10],
    DescribeInstanceTopology: [1, 1],
    DescribeMovingAddresses: [1, 1],
    DescribePrincipalIdFormat: [10, 10],
    DescribeReservedInstancesOfferings: [10, 10],
    DescribeSecurityGroupReferences: [20, 5],
    DescribeSpotDatafeedSubscription: [100, 13],
    DescribeSpotFleetInstances: [100, 5],
    DescribeSpotFleetRequestHistory: [100, 5],
    DescribeSpotFleetRequests: [50, 3],
    DescribeStaleSecurityGroups: [20, 5],
    DescribeStoreImageTasks: [50, 0.5],
    DescribeVerifiedAccessInstanceLoggingConfigurations: [10, 2],
    DetachVerifiedAccessTrustProvider: [10, 2],
    DisableFastLaunch: [5, 2],
    DisableImageBlockPublicAccess: [1, 0.1],
    DisableSnapshotBlockPublicAccess: [1, 0.1],
    DisassociateCapacityReservationBillingOwner: [1, 0.5],
    DisassociateEnclaveCertificateIamRole: [10, 1],
    DisassociateIamInstanceProfile: [100, 5],
    DisassociateNatGatewayAddress: [10, 1],
    EnableFastLaunch: [5, 2],
    EnableImageBlockPublicAccess: [1, 0.1],
    EnableSnapshotBlockPublicAccess: [1, 0.1],
    GetAssociatedEnclaveCertificateIamRoles: [10, 1],
    GetDeclarativePoliciesReportSummary: [5, 5],
    GetHostReservationPurchasePreview: [5, 2],
    ModifyImageAttribute: [100, 5],
    ModifyInstanceMetadataDefaults: [2, 2],
    ModifyInstanceMetadataOptions: [100, 5],
    ModifyLaunchTemplate: [100, 5],
    ModifyNetworkInterfaceAttribute: [100, 5],
    ModifySnapshotAttribute: [100, 5],
    ModifyVerifiedAccessEndpoint: [20, 4],
    ModifyVerifiedAccessEndpointPolicy: [20, 4],
    ModifyVerifiedAccessGroup: [10, 2],
    ModifyVerifiedAccessGroupPolicy: [20, 4],
    ModifyVerifiedAccessInstance: [10, 2],
    ModifyVerifiedAccessInstanceLoggingConfiguration: [10, 2],
    ModifyVerifiedAccessTrustProvider: [10, 2],
    ModifyVpcEndpoint: [4, 0.3],
    ModifyVpcEndpointServiceConfiguration: [10, 1],
    MoveAddressToVpc: [1, 1],
    ProvisionByoipCidr: [1, 0.1],
    PurchaseCapacityBlock: [10, 0.15],
    PurchaseCapacityBlockExtension: [10, 0.15],
    PurchaseHostReservation: [5, 2],
    PurchaseReservedInstancesOffering: [5, 5],
    RejectVpcEndpointConnections: [10, 1],
    RestoreAddressToClassic: [1, 1],
    RevokeClientVpnIngress: [5, 2],
    RunInstances: [5, 2],
    StartDeclarativePoliciesReport: [1, 1],
    StartInstances: [5, 2],
    TerminateInstances: [100, 5],
    UnassignPrivateIpAddresses: [100, 5],
    UnassignPrivateNatGatewayAddress: [10, 1],
    WithdrawByoipCidr: [1, 0.1],
};

/**
 * "Resource token bucket sizes and refill rates": these actions also draw one
 * token per instance the request affects from a second bucket.
 */
export const RESOURCE_BUCKETS: Readonly<Record<string, { capacity: number; refillPerSecond: number }>> = {
    RunInstances: { capacity: 1000, refillPerSecond: 2 },
    TerminateInstances: { capacity: 1000, refillPerSecond: 20 },
    StartInstances: { capacity: 1000, refillPerSecond: 2 },
    StopInstances: { capacity: 1000, refillPerSecond: 20 },
};

const NON_MUTATING = /^(Describe|List|Search|Get)/;
const PAGINATION_OR_FILTER = /^(Filter\.|MaxResults$|NextToken$)/;

/**
 * The request bucket an action draws from. `params` (the request's Query
 * parameters) matters only for the unfiltered-and-unpaginated actions: with a
 * filter, MaxResults or NextToken they use the standard non-mutating bucket.
 */
export function bucketFor(action: string, params?: Iterable<[string, string]>): Bucket {
    const own = UNCATEGORIZED_BUCKETS[action];
    if (own) return { category: "uncategorized", capacity: own[0], refillPerSecond: own[1] };
    if (RESOURCE_INTENSIVE_ACTIONS.includes(action)) return { category: "resource-intensive", ...CATEGORY_BUCKETS["resource-intensive"] };
    if (UNFILTERED_UNPAGINATED_ACTIONS.includes(action)) {
        const narrowed = params ? [...params].some(([k]) => PAGINATION_OR_FILTER.test(k)) : false;
        if (!narrowed)
            return { category: "unfiltered-unpaginated-non-mutating", ...CATEGORY_BUCKETS["unfiltered-unpaginated-non-mutating"] };
    }
    if (NON_MUTATING.test(action)) return { category: "non-mutating", ...CATEGORY_BUCKETS["non-mutating"] };
    return { category: "mutating", ...CATEGORY_BUCKETS.mutating };
}

/** How many resource tokens a request of an action in RESOURCE_BUCKETS takes: the instances it affects. */
function resourceCost(action: string, params: URLSearchParams): number {
    if (action === "RunInstances") return Math.max(1, Number(params.get("MaxCount") ?? 1) || 1);
    return Math.max(1, [...params.keys()].filter((k) => /^InstanceId\.\d+$/.test(k)).length);
}

interface TokenState {
    tokens: number;
    at: number;
}

/**
 * Token buckets per (region, action): full at first use, refilled
 * continuously at refillPerSecond × refillScale (the benchmark speeds time up
 * by refillScale and divides latency by it).
 */
export class TokenBuckets {
    private readonly states = new Map<string, TokenState>();

    constructor(
        private readonly now: () => number,
        private readonly refillScale = 1,
    ) {}

    /** Takes this request's tokens, or returns false (and takes none) when a bucket it needs is short. */
    take(region: string, action: string, params: URLSearchParams): boolean {
        const request = bucketFor(action, params);
        const wanted: [string, { capacity: number; refillPerSecond: number }, number][] = [
            [`${region}|${action}|${request.category}`, request, 1],
        ];
        const resource = RESOURCE_BUCKETS[action];
        if (resource) wanted.push([`${region}|${action}|resource`, resource, resourceCost(action, params)]);
        const states = wanted.map(([key, bucket, cost]) => ({ state: this.refilled(key, bucket), cost }));
        if (states.some(({ state, cost }) => state.tokens < cost)) return false;
        for (const { state, cost } of states) state.tokens -= cost;
        return true;
    }

    private refilled(key: string, bucket: { capacity: number; refillPerSecond: number }): TokenState {
        const now = this.now();
        const state = this.states.get(key) ?? { tokens: bucket.capacity, at: now };
        const elapsed = Math.max(0, now - state.at) / 1000;
        state.tokens = Math.min(bucket.capacity, state.tokens + elapsed * bucket.refillPerSecond * this.refillScale);
        state.at = now;
        this.states.set(key, state);
        return state;
    }
}
