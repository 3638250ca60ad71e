// Paging as EC2 and SSM document it, for the listings moto answers whole
// (DescribeSnapshots), pages its own way (DescribeInstances: 100 reservations
// a page) or silently cuts short (DescribeLaunchTemplateVersions: 15 versions,
// no NextToken). moto is asked for everything; the emulator hands it out a
// page at a time.
//
// Documented behaviour followed (MaxResults ranges from the API references'
// request parameters, and the EC2 API model in botocore for the current text):
//
//   DescribeSnapshots  https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeSnapshots.html
//       MaxResults 5..1000 ("if MaxResults is given a value larger than 1,000,
//       only 1,000 results are returned"); not with SnapshotIds ("You cannot
//       specify this parameter and the snapshot IDs parameter in the same
//       request"). Snapshots "available to you" are yours, public ones and
//       ones shared with you: the snapshots behind Amazon's public base images
//       are none of these and are left out (emulator/base-images.ts).
//   DescribeInstances  https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstances.html
//       MaxResults 5..1000; "You cannot specify this parameter and the instance
//       IDs parameter in the same request" (InvalidParameterCombination, as
//       EC2 answers). Items are reservations.
//   DescribeLaunchTemplateVersions  https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeLaunchTemplateVersions.html
//       MaxResults "can be between 1 and 200".
//   SSM DescribeParameters  https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_DescribeParameters.html
//       MaxResults 1..50 (ValidationException outside); "The number of items
//       returned, however, can be between zero and the value of MaxResults";
//       a bad NextToken is InvalidNextToken ("The specified token isn't valid").
//   Asked by SnapshotIds or InstanceIds, the answer is whole (the developer
//       guide, "Pagination in the Amazon EC2 API", ec2-api-pagination.html:
//       describing by ids is the recommended unpaginated call).
//   Tokens: "Pagination continues from the end of the items returned by the
//       previous request"; a token EC2 did not issue is refused with
//       InvalidPaginationToken ("Error codes for the Amazon EC2 API":
//       "The specified pagination token is not valid or is expired").
//
// Where the documentation leaves room, the reading hardest on a client:
// - every answer holds at most `pageSize` items, with or without MaxResults
//   (EC2 says of unpaginated requests only that they "are susceptible to
//   throttling and timeouts"; SSM that a page may hold fewer than
//   MaxResults), so a caller that does not follow NextToken misses items as
//   soon as there are more than `pageSize`;
// - a token is refused when replayed with other parameters than the request
//   that got it (MaxResults may change between pages).
import type { Handler, HandlerContext, Reply } from "./handler";
import { ec2Error, topLevelItems, tagText } from "./ec2-xml";
import { accessKeyOf, ssmError, ssmJson, ssmSuccess } from "./moto-calls";
import { byKey, cutPage, requestDigest, resumeAt } from "./page-token";

export interface PagingOptions {
    /** The most items in one answer, whatever MaxResults asks for. */
    pageSize: number;
    /** DescribeSnapshots leaves out the snapshots of these owners (private to them: Amazon's base images). @default [] */
    privateSnapshotOwners?: string[];
}

interface PagedAction {
    /** The element that holds the items. */
    set: string;
    min: number;
    max: number;
    /** Above `max`: refuse (true) or answer at most `max` (false). */
    refuseAboveMax: boolean;
    /** The list parameter that cannot be combined with MaxResults. */
    exclusive?: { param: string; name: string };
    key(item: string): string;
    /** What moto needs besides the client's parameters to answer everything. */
    everything(params: URLSearchParams): void;
}

const EC2_ACTIONS: Record<string, PagedAction> = {
    DescribeSnapshots: {
        set: "snapshotSet",
        min: 5,
        max: 1000,
        refuseAboveMax: false,
        exclusive: { param: "SnapshotId", name: "snapshotIds" },
        key: (item) => tagText(item, "snapshotId") ?? "",
        everything: () => {},
    },
    DescribeInstances: {
        set: "reservationSet",
        min: 5,
        max: 1000,
        refuseAboveMax: true,
        exclusive: { param: "InstanceId", name: "instancesSet" },
        key: (item) => tagText(item, "reservationId") ?? "",
        // moto pages by 100 reservations unless asked for more; with instance ids it refuses MaxResults.
        everything: (params) => {
            if (!hasList(params, "InstanceId")) params.set("MaxResults", "1000000");
        },
    },
    DescribeLaunchTemplateVersions: {
        set: "launchTemplateVersionSet",
        min: 1,
        max: 200,
        refuseAboveMax: true,
        key: (item) => `${tagText(item, "launchTemplateId")}/${(tagText(item, "versionNumber") ?? "").padStart(10, "0")}`,
        // moto cuts the answer at 15 versions (its default MaxResults) without a NextToken.
        everything: (params) => params.set("MaxResults", "1000000"),
    },
};

function hasList(params: URLSearchParams, name: string): boolean {
    return [...params.keys()].some((k) => new RegExp(`^${name}\\.\\d+$`).test(k));
}

/** The parts of an EC2 answer around the top-level `<set>`: what precedes it, its items, what follows. */
function splitSet(xml: string, set: string): { head: string; items: string[]; tail: string } | undefined {
    const empty = xml.indexOf(`<${set}/>`);
    if (empty >= 0) return { head: xml.slice(0, empty), items: [], tail: xml.slice(empty + set.length + 3) };
    const open = xml.indexOf(`<${set}>`);
    const close = xml.lastIndexOf(`</${set}>`);
    if (open < 0 || close < 0) return undefined;
    return {
        head: xml.slice(0, open),
        items: topLevelItems(xml.slice(open + set.length + 2, close)),
        tail: xml.slice(close + set.length + 3),
    };
}

function joinSet(parts: { head: string; items: string[]; tail: string }, set: string, action: string, nextToken?: string): string {
    // The answer's own nextToken (moto's) follows the set; it is replaced by the emulator's.
    let tail = parts.tail.replace(/<nextToken>[^<]*<\/nextToken>|<nextToken\/>/g, "");
    if (nextToken) tail = tail.replace(`</${action}Response>`, `<nextToken>${nextToken}</nextToken></${action}Response>`);
    return `${parts.head}<${set}>${parts.items.join("")}</${set}>${tail}`;
}

/** MaxResults of the request: a refusal, or the number (undefined when absent). */
function maxResults(
    raw: string | null,
    spec: { min: number; max: number; refuseAboveMax: boolean },
    refuse: (message: string) => Reply,
): Reply | number | undefined {
    if (raw === null) return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < spec.min || (spec.refuseAboveMax && n > spec.max)) {
        return refuse(
            `Value ( ${raw} ) for parameter maxResults is invalid. Expecting a value ${spec.refuseAboveMax ? `from ${spec.min} to ${spec.max}` : `of at least ${spec.min}`}.`,
        );
    }
    return Math.min(n, spec.max);
}

async function pageEc2(ctx: HandlerContext, options: PagingOptions, spec: PagedAction): Promise<Reply> {
    const { params, action } = ctx;
    if (spec.exclusive && params.has("MaxResults") && hasList(params, spec.exclusive.param)) {
        return ec2Error(
            400,
            "InvalidParameterCombination",
            `The parameter ${spec.exclusive.name} cannot be used with the parameter maxResults`,
        );
    }
    const max = maxResults(params.get("MaxResults"), spec, (m) => ec2Error(400, "InvalidParameterValue", m));
    if (typeof max === "object") return max;
    const forwarded = new URLSearchParams(params);
    forwarded.delete("MaxResults");
    forwarded.delete("NextToken");
    spec.everything(forwarded);
    const reply = await ctx.forward(forwarded.toString());
    if (reply.status !== 200) return reply;
    const parts = splitSet(reply.body, spec.set);
    if (!parts) return reply;

    let items = byKey(parts.items, spec.key);
    const hidden = new Set(options.privateSnapshotOwners ?? []);
    if (action === "DescribeSnapshots" && hidden.size > 0) items = items.filter((i) => !hidden.has(tagText(i, "ownerId") ?? ""));

    // Asked by ids (which MaxResults cannot accompany), EC2 answers them all: the
    // developer guide's "Pagination in the Amazon EC2 API" recommends describing
    // by ids ("not more than 1,000 IDs in a single call") as the unpaginated way.
    if (spec.exclusive && hasList(params, spec.exclusive.param)) {
        return { ...reply, body: joinSet({ ...parts, items }, spec.set, action) };
    }
    const digest = requestDigest([...params.entries()]);
    let start = 0;
    const token = params.get("NextToken");
    if (token) {
        const at = resumeAt(token, action, digest, items.map(spec.key));
        if (at === undefined) return ec2Error(400, "InvalidPaginationToken", `The pagination token ${token} is not valid or is expired.`);
        start = at;
    }
    const { page, nextToken } = cutPage(items, spec.key, start, Math.min(max ?? Infinity, options.pageSize), action, digest);
    return { ...reply, body: joinSet({ ...parts, items: page }, spec.set, action, nextToken) };
}

/** The handler for EC2's DescribeSnapshots, DescribeInstances and DescribeLaunchTemplateVersions. */
export function ec2PagingHandler(options: PagingOptions): Handler {
    return async (ctx) => {
        if (ctx.service !== undefined && ctx.service !== "ec2") return undefined;
        const spec = EC2_ACTIONS[ctx.action];
        return spec ? pageEc2(ctx, options, spec) : undefined;
    };
}

/** moto's DescribeParameters page size limit: it is asked 50 at a time. */
const SSM_MAX_RESULTS = 50;
/** SSM's MaxResults when the request has none (moto's, and what the SSM CLI sees). */
const SSM_DEFAULT_MAX_RESULTS = 10;

/** The handler for SSM DescribeParameters (ProxyOptions.serviceHandlers). */
export function ssmPagingHandler(options: PagingOptions): Handler {
    return async (ctx) => {
        if (ctx.action !== "DescribeParameters" || !String(ctx.req.headers["x-amz-target"] ?? "").startsWith("AmazonSSM."))
            return undefined;
        let input: Record<string, unknown>;
        try {
            input = JSON.parse(ctx.body || "{}") as Record<string, unknown>;
        } catch {
            return undefined; // moto answers what it makes of it
        }
        const raw = input.MaxResults;
        if (raw !== undefined && (!Number.isInteger(raw) || (raw as number) < 1 || (raw as number) > SSM_MAX_RESULTS)) {
            return ssmError(
                "ValidationException",
                `1 validation error detected: Value '${String(raw)}' at 'maxResults' failed to satisfy constraint: ` +
                    `Member must have value ${(raw as number) < 1 ? "greater than or equal to 1" : `less than or equal to ${SSM_MAX_RESULTS}`}`,
            );
        }
        const { NextToken: token, MaxResults: _max, ...rest } = input;
        const all: Record<string, unknown>[] = [];
        let motoToken: string | undefined;
        do {
            // In the client's account (its access key), as every call of the client.
            const got = await ssmJson(
                ctx.target,
                ctx.region,
                "DescribeParameters",
                { ...rest, MaxResults: SSM_MAX_RESULTS, ...(motoToken ? { NextToken: motoToken } : {}) },
                accessKeyOf(ctx.req.headers.authorization),
            );
            if (!got.ok) return got.reply;
            all.push(...((got.out.Parameters as Record<string, unknown>[] | undefined) ?? []));
            motoToken = got.out.NextToken as string | undefined;
        } while (motoToken);

        const keyOf = (p: Record<string, unknown>) => String(p.Name);
        const sorted = byKey(all, keyOf);
        const digest = requestDigest(Object.entries(rest).map(([k, v]) => [k, JSON.stringify(v)]));
        let start = 0;
        if (token !== undefined) {
            const at = typeof token === "string" ? resumeAt(token, "DescribeParameters", digest, sorted.map(keyOf)) : undefined;
            if (at === undefined) return ssmError("InvalidNextToken", "The specified token isn't valid.");
            start = at;
        }
        const limit = Math.min((raw as number | undefined) ?? SSM_DEFAULT_MAX_RESULTS, options.pageSize);
        const { page, nextToken } = cutPage(sorted, keyOf, start, limit, "DescribeParameters", digest);
        return ssmSuccess({ Parameters: page, ...(nextToken ? { NextToken: nextToken } : {}) });
    };
}
