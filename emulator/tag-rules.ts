// What EC2 refuses in tags and launch permissions that moto stores as given.
//
// Tags, on CreateTags and DeleteTags and on every TagSpecification (CreateImage,
// CopyImage, RunInstances, CreateSnapshot, launch templates, ...), following
// "Tag restrictions" (Amazon EC2 User Guide,
// https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Using_Tags.html#tag-restrictions):
//   "Maximum key length – 128 Unicode characters in UTF-8"; "Maximum value
//   length – 256 Unicode characters in UTF-8"; "Maximum number of tags per
//   resource – 50"; "The aws: prefix is reserved for AWS use ... you can't
//   edit or delete the tag's key or value".
//   Codes: InvalidParameterValue for a bad key or value, TagLimitExceeded for
//   more than 50 tags ("Error codes for the Amazon EC2 API",
//   https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html).
//   The prefix is matched whatever its case (`AWS:` too): the page does not
//   say, and refusing is the reading hardest on a client.
//
// Launch permissions, on ModifyImageAttribute: an organization ARN is
// `arn:<partition>:organizations::<account>:organization/o-<10..32 of a-z0-9>`,
// an organizational unit ARN
// `arn:<partition>:organizations::<account>:ou/o-<...>/ou-<4..32>-<8..32>`
// (AWS Organizations API Reference, Organization.Arn and
// OrganizationalUnit.Arn patterns), an account id 12 digits. EC2 refuses
// others with InvalidAMIAttributeItemValue ("The value of an item added to,
// or removed from, an image attribute is not valid", errors-overview above).
import type { Handler } from "./handler";
import { ec2Error, setItems, tagText } from "./ec2-xml";

export interface TagRulesOptions {
    /** Refuse `aws:` keys, keys over 128 and values over 256 characters, and more than 50 tags on a resource. @default true */
    tags?: boolean;
    /** Refuse malformed organization, organizational unit and account ids in ModifyImageAttribute launch permissions. @default true */
    launchPermissions?: boolean;
}

export const MAX_TAG_KEY = 128;
export const MAX_TAG_VALUE = 256;
export const MAX_TAGS_PER_RESOURCE = 50;

const ORGANIZATION_ARN = /^arn:aws(?:-cn|-us-gov|-iso(?:-[a-z])?)?:organizations::\d{12}:organization\/o-[a-z0-9]{10,32}$/;
const OU_ARN = /^arn:aws(?:-cn|-us-gov|-iso(?:-[a-z])?)?:organizations::\d{12}:ou\/o-[a-z0-9]{10,32}\/ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}$/;
const ACCOUNT_ID = /^\d{12}$/;

/** Unicode characters, as the limits count them (not UTF-16 units). */
const length = (s: string) => [...s].length;

/** The tags a request names, by their parameter prefix (`Tag.1`, `TagSpecification.1.Tag.2`, ...). */
function requestTags(params: URLSearchParams): { prefix: string; key?: string; value?: string }[] {
    const byPrefix = new Map<string, { prefix: string; key?: string; value?: string }>();
    for (const [k, v] of params.entries()) {
        const m = /^(.*?(?:^|\.)Tag\.\d+)\.(Key|Value)$/.exec(k);
        if (!m) continue;
        const tag = byPrefix.get(m[1]) ?? { prefix: m[1] };
        if (m[2] === "Key") tag.key = v;
        else tag.value = v;
        byPrefix.set(m[1], tag);
    }
    return [...byPrefix.values()];
}

function tagProblem(action: string, tag: { key?: string; value?: string }): string | undefined {
    const key = tag.key ?? "";
    if (/^aws:/i.test(key)) {
        return action === "DeleteTags"
            ? `Value ( ${key} ) for parameter key is invalid. Tags with the aws: prefix are reserved for AWS use and cannot be deleted.`
            : `Value ( ${key} ) for parameter key is invalid. Tag keys starting with 'aws:' are reserved for internal use.`;
    }
    if (tag.key !== undefined && (length(key) === 0 || length(key) > MAX_TAG_KEY)) {
        return `Value ( ${key.slice(0, 40)}${length(key) > 40 ? "..." : ""} ) for parameter key is invalid. Tag keys must be 1 to ${MAX_TAG_KEY} Unicode characters (got ${length(key)}).`;
    }
    if (tag.value !== undefined && length(tag.value) > MAX_TAG_VALUE) {
        return `Value ( ${tag.value.slice(0, 40)}... ) for parameter value is invalid. Tag values must be at most ${MAX_TAG_VALUE} Unicode characters (got ${length(tag.value)}).`;
    }
    return undefined;
}

export function tagRulesHandler(options: TagRulesOptions = {}): Handler {
    const tags = options.tags ?? true;
    const launchPermissions = options.launchPermissions ?? true;
    return async (ctx) => {
        if (ctx.service !== undefined && ctx.service !== "ec2") return undefined;
        const { action, params } = ctx;

        if (tags) {
            const named = requestTags(params);
            for (const tag of named) {
                const problem = tagProblem(action, tag);
                if (problem) return ec2Error(400, "InvalidParameterValue", problem);
            }
            // One TagSpecification (one resource type) with more than 50 tags.
            const perSpec = new Map<string, number>();
            for (const t of named) {
                const spec = /^(.*TagSpecification\.\d+)\.Tag\.\d+$/.exec(t.prefix)?.[1];
                if (spec) perSpec.set(spec, (perSpec.get(spec) ?? 0) + 1);
            }
            if ([...perSpec.values()].some((n) => n > MAX_TAGS_PER_RESOURCE)) {
                return ec2Error(400, "TagLimitExceeded", `The maximum number of tags per resource is ${MAX_TAGS_PER_RESOURCE}.`);
            }
            if (action === "CreateTags" && named.length > 0) {
                const refused = await tagLimit(
                    ctx,
                    named.map((t) => t.key ?? ""),
                );
                if (refused) return refused;
            }
        }

        if (launchPermissions && action === "ModifyImageAttribute") {
            for (const [k, v] of params.entries()) {
                const what = /(?:^|\.)(OrganizationArn|OrganizationalUnitArn|UserId)(?:\.\d+)?$/.exec(k)?.[1];
                if (!what) continue;
                const ok = what === "OrganizationArn" ? ORGANIZATION_ARN : what === "OrganizationalUnitArn" ? OU_ARN : ACCOUNT_ID;
                if (!ok.test(v)) {
                    const item = what === "UserId" ? "userId" : what === "OrganizationArn" ? "organizationArn" : "organizationalUnitArn";
                    return ec2Error(400, "InvalidAMIAttributeItemValue", `Invalid attribute item value "${v}" for ${item} item type.`);
                }
            }
        }
        return undefined;
    };
}

/** CreateTags that would leave a resource with more than 50 tags (the aws: ones do not count). */
async function tagLimit(ctx: Parameters<Handler>[0], keys: string[]): Promise<ReturnType<typeof ec2Error> | undefined> {
    const resources = [...ctx.params.entries()].filter(([k]) => /^ResourceId\.\d+$/.test(k)).map(([, v]) => v);
    if (resources.length === 0) return undefined;
    const query: Record<string, string> = { "Filter.1.Name": "resource-id" };
    resources.forEach((r, i) => (query[`Filter.1.Value.${i + 1}`] = r));
    const reply = await ctx.moto("DescribeTags", query);
    if (reply.status !== 200) return undefined; // moto's own answer to the CreateTags says what is wrong
    const existing = new Map<string, Set<string>>();
    for (const item of setItems(reply.body, "tagSet")) {
        const id = tagText(item, "resourceId") ?? "";
        const key = tagText(item, "key") ?? "";
        if (/^aws:/i.test(key)) continue;
        existing.set(id, (existing.get(id) ?? new Set()).add(key));
    }
    for (const id of resources) {
        const after = new Set([...(existing.get(id) ?? []), ...keys]);
        if (after.size > MAX_TAGS_PER_RESOURCE) {
            return ec2Error(
                400,
                "TagLimitExceeded",
                `The maximum number of tags per resource is ${MAX_TAGS_PER_RESOURCE}; ${id} would have ${after.size}.`,
            );
        }
    }
    return undefined;
}
