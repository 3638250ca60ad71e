// Image usage reports for the emulator: which accounts run instances or keep
// launch templates from an image, answered from moto's own data in every
// account the emulator has seen (moto does not implement these actions).
//
// Follows the EC2 API reference:
//   https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateImageUsageReport.html
//   (ImageId and ResourceType.N required; AccountId.N, at most 200, "to
//   include all accounts, omit this parameter"; ClientToken; TagSpecification.N
//   whose ResourceType "must be set to image-usage-report; any other value
//   will cause the report creation to fail"; answers `reportId`)
//   https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ImageUsageResourceTypeRequest.html
//   (ec2:Instance | ec2:LaunchTemplate | imagebuilder:ImageRecipe |
//   imagebuilder:ContainerRecipe; options "valid only when ResourceType is
//   ec2:LaunchTemplate": version-depth, integers 1 to 10000, default 20)
//   https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeImageUsageReports.html
//   https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ImageUsageReport.html
//   (state available | pending | error, with stateReason in error;
//   expirationTime: "when Amazon EC2 will delete the report (30 days after
//   the report was created)"; filters state, creation-time, tag:<key>, tag-key)
//   https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeImageUsageReportEntries.html
//   https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ImageUsageReportEntry.html
//   (per account and resource type: usageCount, "the number of times
//   resources of this type reference this image in the account"; filters
//   account-id, resource-type, creation-time)
//   https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DeleteImageUsageReport.html
// The report is "a report that shows how your image is used across other
// AWS accounts": made for an image the caller owns.
//
// Where the documentation is silent, the behaviour hardest on golden-ami:
// - a report stays `pending` for `pendingSeconds` of the emulator's clock
//   (no duration is documented), and DescribeImageUsageReportEntries answers
//   a pending report with no entries, exactly like a report that found no
//   use: a caller that reads entries before the state is `available` takes
//   "unknown" for "unused";
// - the owner's own account is in the report too, when it uses the image;
// - an expired or deleted report, and an unknown id, answer
//   `InvalidImageUsageReportId.NotFound` (the code follows EC2's
//   Invalid<Resource>Id.NotFound pattern; none is documented);
// - an image the caller can see but does not own: `AuthFailure`;
// - instances in every state but `terminated` count; a launch template
//   counts once however many of its last `version-depth` versions name it;
// - images named in `failImageIds` end in state `error`.
// Accounts: every account that has called the emulator (resolved from the
// access key of each request through moto's STS, as the proxy resolves the
// caller's), plus the image's launch permissions, each read at moto with
// moto's `x-moto-account-id` header (moto's "Multi-Account support"), which
// selects the account a request is answered in.
import type { Handler, HandlerContext, Reply } from "./handler";
import { queryCall } from "./moto-calls";
import { byKey, cutPage, requestDigest, resumeAt } from "./page-token";
import { API_VERSION, ec2Error, ec2Success, indexed, itemsOf, textOf, xmlEscape } from "./xml";

export interface UsageReportOptions {
    /** Seconds of the emulator's clock a new report stays `pending`. @default 10 */
    pendingSeconds?: number;
    /** Images whose reports end in state `error` (to exercise a caller's fail-closed path). @default [] */
    failImageIds?: string[];
    /** Items per page without MaxResults. @default 5 */
    pageSize?: number;
}

export const USAGE_REPORT_PENDING_SECONDS = 10;
/** "30 days after the report was created" (ImageUsageReport.ExpirationTime). */
export const USAGE_REPORT_RETENTION_DAYS = 30;
const DAY_MS = 86_400_000;
const RESOURCE_TYPES = ["ec2:Instance", "ec2:LaunchTemplate", "imagebuilder:ImageRecipe", "imagebuilder:ContainerRecipe"];
const DEFAULT_VERSION_DEPTH = 20;
const MAX_VERSION_DEPTH = 10_000;
const MAX_ACCOUNT_IDS = 200;
const MIN_MAX_RESULTS = 1;
const MAX_MAX_RESULTS = 1000;

interface ResourceTypeScope {
    type: string;
    versionDepth?: number;
}

interface Entry {
    accountId: string;
    resourceType: string;
    usageCount: number;
}

interface Report {
    reportId: string;
    ownerAccount: string;
    region: string;
    imageId: string;
    resourceTypes: ResourceTypeScope[];
    accountIds: string[];
    createdAt: number;
    clientToken?: string;
    requestKey: string;
    tags: { key: string; value: string }[];
    /** Filled when the report leaves `pending`. */
    state?: "available" | "error";
    stateReason?: string;
    entries?: Entry[];
}

class Refused extends Error {
    constructor(
        readonly code: string,
        message: string,
    ) {
        super(message);
    }
}

const ACTIONS = new Set([
    "CreateImageUsageReport",
    "DescribeImageUsageReports",
    "DescribeImageUsageReportEntries",
    "DeleteImageUsageReport",
]);

/** The handler for the proxy's `handlers` option; also watches every EC2 request's access key (the accounts a report covers). */
export function imageUsageReportsHandler(options: UsageReportOptions = {}): Handler {
    const pendingMs = (options.pendingSeconds ?? USAGE_REPORT_PENDING_SECONDS) * 1000;
    // The caller's array, read at each report: a test can add an image made after the emulator started.
    const failing = options.failImageIds ?? [];
    const pageSize = options.pageSize ?? 5;
    const reports = new Map<string, Report>();
    const keysSeen = new Set<string>();
    const accountByKey = new Map<string, Promise<string | undefined>>();
    let counter = 0;

    const keyOf = (ctx: HandlerContext) => /Credential=([^/,\s]+)\//.exec(String(ctx.req.headers.authorization ?? ""))?.[1];
    const accountOfKey = (ctx: HandlerContext, key: string): Promise<string | undefined> => {
        let account = accountByKey.get(key);
        if (!account) {
            account = queryCall(ctx.target, "sts", "us-east-1", { Action: "GetCallerIdentity", Version: "2011-06-15" }, { key }).then(
                (r) => (r.status === 200 ? /<Account>(\d{12})<\/Account>/.exec(r.body)?.[1] : undefined),
            );
            accountByKey.set(key, account);
        }
        return account;
    };

    /** Expired reports are gone ("Amazon EC2 will delete the report"). */
    const live = (ctx: HandlerContext, owner: string, region: string): Report[] => {
        const now = ctx.now();
        const out: Report[] = [];
        for (const [id, r] of reports) {
            if (now >= r.createdAt + USAGE_REPORT_RETENTION_DAYS * DAY_MS) reports.delete(id);
            else if (r.ownerAccount === owner && r.region === region) out.push(r);
        }
        return out;
    };

    /** A report past its pending time gets its state and entries, read from moto at that moment. */
    const settle = async (ctx: HandlerContext, r: Report): Promise<void> => {
        if (r.state || ctx.now() < r.createdAt + pendingMs) return;
        if (failing.includes(r.imageId)) {
            r.state = "error";
            r.stateReason = "The report could not be created (emulator: failImageIds)";
            return;
        }
        r.entries = await usageOf(ctx, r, await accountsFor(ctx, r));
        r.state = "available";
    };

    const accountsFor = async (ctx: HandlerContext, r: Report): Promise<string[]> => {
        if (r.accountIds.length > 0) return r.accountIds;
        const accounts = new Set<string>([r.ownerAccount]);
        for (const key of keysSeen) {
            const a = await accountOfKey(ctx, key);
            if (a) accounts.add(a);
        }
        const perms = await ctx.moto("DescribeImageAttribute", { ImageId: r.imageId, Attribute: "launchPermission" });
        if (perms.status === 200)
            for (const item of itemsOf(perms.body, "launchPermission")) {
                const user = textOf(item, "userId");
                if (user) accounts.add(user);
            }
        return [...accounts].sort();
    };

    return async (ctx) => {
        if (ctx.service !== undefined && ctx.service !== "ec2") return undefined;
        const key = keyOf(ctx);
        if (key) keysSeen.add(key);
        if (!ACTIONS.has(ctx.action)) return undefined;
        try {
            const account = key ? await accountOfKey(ctx, key) : undefined;
            if (!account) throw new Refused("AuthFailure", "AWS was not able to validate the provided access credentials");
            if (ctx.params.get("DryRun") === "true")
                throw new Refused("DryRunOperation", "Request would have succeeded, but DryRun flag is set.");
            switch (ctx.action) {
                case "CreateImageUsageReport":
                    return await create(ctx, account);
                case "DescribeImageUsageReports":
                    return await describe(ctx, account);
                case "DescribeImageUsageReportEntries":
                    return await entries(ctx, account);
                default:
                    return remove(ctx, account);
            }
        } catch (e) {
            if (e instanceof Refused) return ec2Error(e.code === "DryRunOperation" ? 412 : 400, e.code, e.message);
            throw e;
        }
    };

    async function create(ctx: HandlerContext, account: string): Promise<Reply> {
        const p = ctx.params;
        const imageId = p.get("ImageId");
        if (!imageId) throw new Refused("MissingParameter", "The request must contain the parameter ImageId");
        const resourceTypes = parseResourceTypes(p);
        const accountIds = indexed(p, /^AccountId\.(\d+)$/).map(([, v]) => v);
        if (accountIds.length > MAX_ACCOUNT_IDS)
            throw new Refused("InvalidParameterValue", `AccountId: at most ${MAX_ACCOUNT_IDS} account ids, got ${accountIds.length}`);
        const bad = accountIds.find((a) => !/^\d{12}$/.test(a));
        if (bad !== undefined) throw new Refused("InvalidParameterValue", `AccountId: '${bad}' is not a 12-digit account id`);
        const tags: Report["tags"] = [];
        for (const [n, type] of indexed(p, /^TagSpecification\.(\d+)\.ResourceType$/)) {
            if (type !== "image-usage-report")
                throw new Refused("InvalidParameterValue", `TagSpecification: resource type '${type}' is not image-usage-report`);
            for (const [m, k] of indexed(p, new RegExp(`^TagSpecification\\.${n}\\.Tag\\.(\\d+)\\.Key$`)))
                tags.push({ key: k, value: p.get(`TagSpecification.${n}.Tag.${m}.Value`) ?? "" });
        }

        // The image: visible to the caller (else the image service's own refusal), and owned by it.
        const described = await ctx.moto("DescribeImages", { "ImageId.1": imageId });
        if (described.status !== 200) return described;
        const item = itemsOf(described.body, "imagesSet")[0];
        if (!item || textOf(item, "imageState") === "deregistered")
            throw new Refused("InvalidAMIID.NotFound", `The image id '[${imageId}]' does not exist`);
        if (textOf(item, "imageOwnerId") !== account)
            throw new Refused("AuthFailure", `Not authorized for image:${imageId}: a usage report is made by the image's owner`);

        const token = p.get("ClientToken") ?? undefined;
        const requestKey = requestDigest([...p.entries()], ["ClientToken", "Action", "Version"]);
        if (token) {
            const earlier = live(ctx, account, ctx.region).find((r) => r.clientToken === token);
            if (earlier && earlier.requestKey !== requestKey)
                throw new Refused("IdempotentParameterMismatch", `The client token '${token}' was used with other parameters`);
            if (earlier) return ec2Success("CreateImageUsageReport", `<reportId>${earlier.reportId}</reportId>`);
        }
        const reportId = `amiur-${(++counter).toString(16).padStart(8, "0")}${Math.floor(ctx.random() * 0xfffffffff)
            .toString(16)
            .padStart(9, "0")}`;
        reports.set(reportId, {
            reportId,
            ownerAccount: account,
            region: ctx.region,
            imageId,
            resourceTypes,
            accountIds,
            createdAt: ctx.now(),
            clientToken: token,
            requestKey,
            tags,
        });
        return ec2Success("CreateImageUsageReport", `<reportId>${reportId}</reportId>`);
    }

    /** The caller's live reports named (unknown ids refused) or all, filtered by ImageId.N. */
    function selected(ctx: HandlerContext, account: string): Report[] {
        const mine = live(ctx, account, ctx.region);
        const ids = indexed(ctx.params, /^ReportId\.(\d+)$/).map(([, v]) => v);
        for (const id of ids) {
            if (!mine.some((r) => r.reportId === id))
                throw new Refused("InvalidImageUsageReportId.NotFound", `The image usage report ID '${id}' does not exist`);
        }
        const images = indexed(ctx.params, /^ImageId\.(\d+)$/).map(([, v]) => v);
        return mine.filter((r) => (ids.length === 0 || ids.includes(r.reportId)) && (images.length === 0 || images.includes(r.imageId)));
    }

    async function describe(ctx: HandlerContext, account: string): Promise<Reply> {
        const found = selected(ctx, account);
        for (const r of found) await settle(ctx, r);
        const filters = parseFilters(ctx.params);
        const matching = found.filter((r) =>
            filters.every(({ name, values }) => {
                if (name === "state") return values.includes(r.state ?? "pending");
                if (name === "creation-time") return values.some((v) => glob(v, new Date(r.createdAt).toISOString()));
                if (name === "tag-key") return r.tags.some((t) => values.includes(t.key));
                if (name.startsWith("tag:")) return r.tags.some((t) => t.key === name.slice(4) && values.includes(t.value));
                throw new Refused("InvalidParameterValue", `The filter '${name}' is invalid`);
            }),
        );
        const { page, next } = paged(
            ctx,
            "DescribeImageUsageReports",
            byKey(matching, (r) => r.reportId),
            (r) => r.reportId,
        );
        const items = page.map((r) => reportXml(r)).join("");
        return ec2Success("DescribeImageUsageReports", `<imageUsageReportSet>${items}</imageUsageReportSet>${next}`);
    }

    async function entries(ctx: HandlerContext, account: string): Promise<Reply> {
        const found = selected(ctx, account);
        for (const r of found) await settle(ctx, r);
        const filters = parseFilters(ctx.params);
        const all = found.flatMap((r) => (r.entries ?? []).map((e) => ({ ...e, report: r })));
        const matching = all.filter((e) =>
            filters.every(({ name, values }) => {
                if (name === "account-id") return values.includes(e.accountId);
                if (name === "resource-type") return values.includes(e.resourceType);
                if (name === "creation-time") return values.some((v) => glob(v, new Date(e.report.createdAt).toISOString()));
                throw new Refused("InvalidParameterValue", `The filter '${name}' is invalid`);
            }),
        );
        const keyOfEntry = (e: (typeof all)[number]) => `${e.report.reportId}/${e.accountId}/${e.resourceType}`;
        const { page, next } = paged(ctx, "DescribeImageUsageReportEntries", byKey(matching, keyOfEntry), keyOfEntry);
        const items = page
            .map(
                (e) =>
                    `<item><resourceType>${e.resourceType}</resourceType><reportId>${e.report.reportId}</reportId>` +
                    `<usageCount>${e.usageCount}</usageCount><accountId>${e.accountId}</accountId><imageId>${e.report.imageId}</imageId>` +
                    `<reportCreationTime>${new Date(e.report.createdAt).toISOString()}</reportCreationTime></item>`,
            )
            .join("");
        return ec2Success("DescribeImageUsageReportEntries", `<imageUsageReportEntrySet>${items}</imageUsageReportEntrySet>${next}`);
    }

    function remove(ctx: HandlerContext, account: string): Reply {
        const id = ctx.params.get("ReportId");
        if (!id) throw new Refused("MissingParameter", "The request must contain the parameter ReportId");
        if (!live(ctx, account, ctx.region).some((r) => r.reportId === id))
            throw new Refused("InvalidImageUsageReportId.NotFound", `The image usage report ID '${id}' does not exist`);
        reports.delete(id);
        return ec2Success("DeleteImageUsageReport", "<return>true</return>");
    }

    function paged<T>(ctx: HandlerContext, action: string, items: T[], keyOfItem: (t: T) => string): { page: T[]; next: string } {
        let limit = pageSize;
        if (ctx.params.has("MaxResults")) {
            limit = Number(ctx.params.get("MaxResults"));
            if (!Number.isInteger(limit) || limit < MIN_MAX_RESULTS || limit > MAX_MAX_RESULTS)
                throw new Refused("InvalidParameterValue", `MaxResults: '${ctx.params.get("MaxResults")}' must be from 1 to 1000`);
        }
        const digest = requestDigest([...ctx.params.entries()], ["NextToken", "MaxResults", "Action", "Version"]);
        let start = 0;
        const token = ctx.params.get("NextToken");
        if (token) {
            const at = resumeAt(token, action, digest, items.map(keyOfItem));
            if (at === undefined) throw new Refused("InvalidParameterValue", `The token '${token}' is invalid`);
            start = at;
        }
        const { page, nextToken } = cutPage(items, keyOfItem, start, limit, action, digest);
        return { page, next: nextToken ? `<nextToken>${nextToken}</nextToken>` : "" };
    }
}

function reportXml(r: Report): string {
    const types = r.resourceTypes
        .map(
            (t) =>
                `<item><resourceType>${t.type}</resourceType>` +
                (t.versionDepth !== undefined
                    ? `<resourceTypeOptionSet><item><optionName>version-depth</optionName><optionValueSet><item>${t.versionDepth}</item></optionValueSet></item></resourceTypeOptionSet>`
                    : "") +
                `</item>`,
        )
        .join("");
    const accounts = r.accountIds.map((a) => `<item>${a}</item>`).join("");
    const tags = r.tags.map((t) => `<item><key>${xmlEscape(t.key)}</key><value>${xmlEscape(t.value)}</value></item>`).join("");
    return (
        `<item><imageId>${r.imageId}</imageId><reportId>${r.reportId}</reportId><resourceTypeSet>${types}</resourceTypeSet>` +
        `<accountIdSet>${accounts}</accountIdSet><state>${r.state ?? "pending"}</state>` +
        (r.stateReason ? `<stateReason>${xmlEscape(r.stateReason)}</stateReason>` : "") +
        `<creationTime>${new Date(r.createdAt).toISOString()}</creationTime>` +
        `<expirationTime>${new Date(r.createdAt + USAGE_REPORT_RETENTION_DAYS * DAY_MS).toISOString()}</expirationTime>` +
        `<tagSet>${tags}</tagSet></item>`
    );
}

function parseResourceTypes(p: URLSearchParams): ResourceTypeScope[] {
    const out: ResourceTypeScope[] = [];
    for (const [n, type] of indexed(p, /^ResourceType\.(\d+)\.ResourceType$/)) {
        if (!RESOURCE_TYPES.includes(type))
            throw new Refused("InvalidParameterValue", `ResourceType: '${type}' is not one of ${RESOURCE_TYPES.join(", ")}`);
        const scope: ResourceTypeScope = { type };
        for (const [m, name] of indexed(p, new RegExp(`^ResourceType\\.${n}\\.ResourceTypeOption\\.(\\d+)\\.OptionName$`))) {
            const values = indexed(p, new RegExp(`^ResourceType\\.${n}\\.ResourceTypeOption\\.${m}\\.OptionValue\\.(\\d+)$`)).map(
                ([, v]) => v,
            );
            if (type !== "ec2:LaunchTemplate" || name !== "version-depth")
                throw new Refused("InvalidParameterValue", `ResourceTypeOption '${name}' is not valid for resource type ${type}`);
            const depth = Number(values[0]);
            if (values.length !== 1 || !Number.isInteger(depth) || depth < 1 || depth > MAX_VERSION_DEPTH)
                throw new Refused(
                    "InvalidParameterValue",
                    `version-depth: '${values.join(",")}' is not an integer from 1 to ${MAX_VERSION_DEPTH}`,
                );
            scope.versionDepth = depth;
        }
        out.push(scope);
    }
    if (out.length === 0) throw new Refused("MissingParameter", "The request must contain the parameter ResourceType");
    return out;
}

/** What each account does with the report's image, read from moto in that account and the report's region. */
async function usageOf(ctx: HandlerContext, r: Report, accounts: string[]): Promise<Entry[]> {
    const entries: Entry[] = [];
    for (const account of accounts) {
        const call = async (action: string, params: Record<string, string>) => {
            const reply = await queryCall(ctx.target, "ec2", r.region, { Action: action, Version: API_VERSION, ...params }, { account });
            // An account moto cannot answer for makes the report fail, never look unused.
            if (reply.status !== 200) throw new Error(`${action} in account ${account}: HTTP ${reply.status}`);
            return reply.body;
        };
        for (const scope of r.resourceTypes) {
            let count = 0;
            if (scope.type === "ec2:Instance") {
                const body = await call("DescribeInstances", { "Filter.1.Name": "image-id", "Filter.1.Value.1": r.imageId });
                for (const reservation of itemsOf(body, "reservationSet"))
                    for (const instance of itemsOf(reservation, "instancesSet")) {
                        const state = /<instanceState>[\s\S]*?<name>([^<]*)<\/name>/.exec(instance)?.[1];
                        if (textOf(instance, "imageId") === r.imageId && state !== "terminated") count++;
                    }
            } else if (scope.type === "ec2:LaunchTemplate") {
                const depth = scope.versionDepth ?? DEFAULT_VERSION_DEPTH;
                for (const template of itemsOf(await call("DescribeLaunchTemplates", {}), "launchTemplates")) {
                    const id = textOf(template, "launchTemplateId") ?? "";
                    const versions = itemsOf(
                        await call("DescribeLaunchTemplateVersions", { LaunchTemplateId: id }),
                        "launchTemplateVersionSet",
                    )
                        .map((v) => ({ n: Number(textOf(v, "versionNumber")), imageId: textOf(v, "imageId") }))
                        .sort((a, b) => b.n - a.n)
                        .slice(0, depth);
                    if (versions.some((v) => v.imageId === r.imageId)) count++;
                }
            }
            // moto has no Image Builder: recipes are never found.
            if (count > 0) entries.push({ accountId: account, resourceType: scope.type, usageCount: count });
        }
    }
    return entries;
}

function parseFilters(p: URLSearchParams): { name: string; values: string[] }[] {
    return indexed(p, /^Filter\.(\d+)\.Name$/).map(([n, name]) => ({
        name,
        values: indexed(p, new RegExp(`^Filter\\.${n}\\.Value\\.(\\d+)$`)).map(([, v]) => v),
    }));
}

/** EC2's filter wildcards: `*` any run of characters, `?` one. */
function glob(pattern: string, text: string): boolean {
    const re = pattern
        .replace(/[.+^${}()|[\]\\]/g, "\\$&")
        .replace(/\*/g, ".*")
        .replace(/\?/g, ".");
    return new RegExp(`^${re}$`).test(text);
}
