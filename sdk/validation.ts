import type { BlockDeviceMapping, LaunchPermissions } from "./types";

/**
 * The `check` rules of the image resources: pure functions of the inputs, so
 * `pulumi preview` refuses bad input before anything is created. Each failure
 * names the property, says what is wrong and what is allowed.
 */

export interface CheckFailure {
    property: string;
    reason: string;
}

/** How the Pulumi engine spells a value that is not known yet (during preview). */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** True when the value, or anything inside it, is not known yet: such values are checked at `up`. */
export function containsUnknown(v: unknown): boolean {
    if (v === UNKNOWN) return true;
    if (Array.isArray(v)) return v.some(containsUnknown);
    if (v && typeof v === "object") return Object.values(v).some(containsUnknown);
    return false;
}

type Rule = (value: unknown, property: string) => string | undefined;

function fail(property: string, reason: string): CheckFailure {
    return { property, reason: `${property}: ${reason}` };
}

/** Runs `rule` unless the value is absent or not known yet. */
function apply(failures: CheckFailure[], property: string, value: unknown, rule: Rule): void {
    if (value === undefined || value === null || containsUnknown(value)) return;
    const reason = rule(value, property);
    if (reason) failures.push(fail(property, reason));
}

const show = (v: unknown) => JSON.stringify(v);

export const INSTANCE_ID = /^i-([0-9a-f]{8}|[0-9a-f]{17})$/;
export const IMAGE_ID = /^ami-([0-9a-f]{8}|[0-9a-f]{17})$/;
/** EC2: 3–128 letters, digits, ( ) [ ] space . / - ' @ _ */
export const IMAGE_NAME = /^[A-Za-z0-9()[\] ./\-'@_]{3,128}$/;
export const REGION = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$/;
const ACCOUNT_ID = /^\d{12}$/;
const ORG_ARN = /^arn:aws[a-z-]*:organizations::\d{12}:organization\/o-[a-z0-9]{10,32}$/;
const OU_ARN = /^arn:aws[a-z-]*:organizations::\d{12}:ou\/o-[a-z0-9]{10,32}\/ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;
const VOLUME_TYPES = ["gp2", "gp3", "io1", "io2", "st1", "sc1", "standard"];
const MAX_TAGS = 50;

export const instanceIdRule: Rule = (v) =>
    typeof v === "string" && INSTANCE_ID.test(v)
        ? undefined
        : `${show(v)} is not an EC2 instance id; expected "i-" and 8 or 17 lowercase hex digits, e.g. "i-0123456789abcdef0"`;

export const imageIdRule: Rule = (v) =>
    typeof v === "string" && IMAGE_ID.test(v)
        ? undefined
        : `${show(v)} is not an AMI id; expected "ami-" and 8 or 17 lowercase hex digits, e.g. "ami-0123456789abcdef0"`;

export const imageNameRule: Rule = (v) => {
    if (typeof v !== "string") return `must be a string, got ${show(v)}`;
    if (v.length < 3 || v.length > 128) return `${show(v)} is ${v.length} characters long; an AMI name has 3 to 128`;
    if (!IMAGE_NAME.test(v)) {
        const bad = [...new Set([...v].filter((c) => !/[A-Za-z0-9()[\] ./\-'@_]/.test(c)))].join("");
        return `${show(v)} has characters EC2 refuses (${show(bad)}); use letters, digits, spaces and ( ) [ ] . / - ' @ _`;
    }
    return undefined;
};

export const descriptionRule: Rule = (v) => {
    if (typeof v !== "string") return `must be a string, got ${show(v)}`;
    return v.length > 255 ? `is ${v.length} characters long; EC2 allows at most 255` : undefined;
};

export const regionRule: Rule = (v) =>
    typeof v === "string" && REGION.test(v)
        ? undefined
        : `${show(v)} is not an AWS region; expected e.g. "us-east-1" (set the region arg, or run \`pulumi config set aws:region us-east-1\`)`;

export const booleanRule: Rule = (v) => (typeof v === "boolean" ? undefined : `must be true or false, got ${show(v)}`);

export const positiveMinutesRule: Rule = (v) =>
    typeof v === "number" && Number.isFinite(v) && v > 0 ? undefined : `must be a number of minutes greater than 0, got ${show(v)}`;

export const tagsRule: Rule = (v) => {
    if (typeof v !== "object" || Array.isArray(v)) return `must be a map of tag keys to string values, got ${show(v)}`;
    const entries = Object.entries(v as Record<string, unknown>);
    if (entries.length > MAX_TAGS) return `has ${entries.length} tags; EC2 allows at most ${MAX_TAGS} per resource`;
    for (const [k, val] of entries) {
        if (k.length < 1 || k.length > 128) return `key ${show(k)} is ${k.length} characters long; tag keys have 1 to 128`;
        if (k.toLowerCase().startsWith("aws:"))
            return `key ${show(k)} starts with "aws:", which AWS reserves for itself; choose another key`;
        if (typeof val !== "string") return `value of ${show(k)} must be a string, got ${show(val)}`;
        if (val.length > 256) return `value of ${show(k)} is ${val.length} characters long; tag values have at most 256`;
    }
    return undefined;
};

/**
 * A future RFC 3339 time. An unchanged value that has since passed is fine:
 * an image already deprecated stays so.
 */
export function deprecationTimeRule(previous: unknown, now: Date): Rule {
    return (v) => {
        if (typeof v !== "string" || !RFC3339.test(v) || Number.isNaN(Date.parse(v))) {
            return `${show(v)} is not an RFC 3339 time; expected e.g. "2027-01-31T00:00:00Z"`;
        }
        if (v === previous) return undefined;
        return Date.parse(v) <= now.getTime() ? `${show(v)} is in the past; give a future time, or leave it unset` : undefined;
    };
}

export const launchPermissionsRule: Rule = (v) => {
    if (typeof v !== "object" || Array.isArray(v))
        return `must be an object { userIds?, organizationArns?, organizationalUnitArns?, public? }`;
    const p = v as LaunchPermissions & Record<string, unknown>;
    const known = ["userIds", "organizationArns", "organizationalUnitArns", "public"];
    const extra = Object.keys(p).filter((k) => !known.includes(k));
    if (extra.length) return `unknown field(s) ${extra.join(", ")}; allowed: ${known.join(", ")}`;
    const lists: [string, unknown, RegExp, string][] = [
        ["userIds", p.userIds, ACCOUNT_ID, "a 12-digit AWS account id"],
        [
            "organizationArns",
            p.organizationArns,
            ORG_ARN,
            "an organization ARN, e.g. arn:aws:organizations::111122223333:organization/o-exampleorgid",
        ],
        [
            "organizationalUnitArns",
            p.organizationalUnitArns,
            OU_ARN,
            "an organizational unit ARN, e.g. arn:aws:organizations::111122223333:ou/o-exampleorgid/ou-ab12-abcdefgh",
        ],
    ];
    for (const [field, list, re, what] of lists) {
        if (list === undefined) continue;
        if (!Array.isArray(list)) return `${field} must be a list`;
        const bad = list.find((x) => typeof x !== "string" || !re.test(x));
        if (bad !== undefined) return `${field} has ${show(bad)}, which is not ${what}`;
    }
    if (p.public !== undefined && typeof p.public !== "boolean") return `public must be true or false, got ${show(p.public)}`;
    return undefined;
};

export const blockDeviceMappingsRule: Rule = (v) => {
    if (!Array.isArray(v)) return `must be a list of { deviceName, noDevice?, virtualName?, ebs? }`;
    const seen = new Set<string>();
    for (const [i, m] of (v as BlockDeviceMapping[]).entries()) {
        if (!m || typeof m.deviceName !== "string" || !/^\/dev\/[a-z0-9]+$|^xvd[a-z]+$|^sd[a-z]+$/.test(m.deviceName)) {
            return `[${i}].deviceName must be a device name such as "/dev/xvda" or "/dev/sdf", got ${show(m?.deviceName)}`;
        }
        if (seen.has(m.deviceName)) return `[${i}] repeats device ${m.deviceName}; give each device once`;
        seen.add(m.deviceName);
        const kinds = [m.noDevice ? "noDevice" : undefined, m.virtualName ? "virtualName" : undefined, m.ebs ? "ebs" : undefined].filter(
            Boolean,
        );
        if (kinds.length > 1) return `[${i}] (${m.deviceName}) sets ${kinds.join(" and ")}; give only one of noDevice, virtualName, ebs`;
        if (m.ebs?.volumeType !== undefined && !VOLUME_TYPES.includes(m.ebs.volumeType)) {
            return `[${i}].ebs.volumeType ${show(m.ebs.volumeType)} is not one of ${VOLUME_TYPES.join(", ")}`;
        }
        if (m.ebs?.volumeSize !== undefined && !(Number.isInteger(m.ebs.volumeSize) && m.ebs.volumeSize > 0 && m.ebs.volumeSize <= 65536)) {
            return `[${i}].ebs.volumeSize must be a whole number of GiB from 1 to 65536, got ${show(m.ebs.volumeSize)}`;
        }
    }
    return undefined;
};

/** Inputs every image resource shares (see ImageResourceArgs). */
export interface CommonImageInputs {
    name?: unknown;
    description?: unknown;
    tags?: unknown;
    snapshotTags?: unknown;
    deprecationTime?: unknown;
    deregistrationProtection?: unknown;
    launchPermissions?: unknown;
    deleteSnapshotsOnDestroy?: unknown;
    region?: unknown;
    createTimeoutMinutes?: unknown;
    deleteTimeoutMinutes?: unknown;
}

export function checkCommonImageInputs(
    news: CommonImageInputs,
    olds: CommonImageInputs | undefined,
    now: Date = new Date(),
): CheckFailure[] {
    const failures: CheckFailure[] = [];
    if (news.region === undefined || news.region === "") {
        failures.push(
            fail("region", "no region is set; set the region arg, or run `pulumi config set aws:region <region>`, or set AWS_REGION"),
        );
    } else {
        apply(failures, "region", news.region, regionRule);
    }
    apply(failures, "name", news.name, imageNameRule);
    apply(failures, "description", news.description, descriptionRule);
    apply(failures, "tags", news.tags, tagsRule);
    apply(failures, "snapshotTags", news.snapshotTags, tagsRule);
    apply(failures, "deprecationTime", news.deprecationTime, deprecationTimeRule(olds?.deprecationTime, now));
    apply(failures, "deregistrationProtection", news.deregistrationProtection, booleanRule);
    apply(failures, "launchPermissions", news.launchPermissions, launchPermissionsRule);
    apply(failures, "deleteSnapshotsOnDestroy", news.deleteSnapshotsOnDestroy, booleanRule);
    apply(failures, "createTimeoutMinutes", news.createTimeoutMinutes, positiveMinutesRule);
    apply(failures, "deleteTimeoutMinutes", news.deleteTimeoutMinutes, positiveMinutesRule);
    return failures;
}

export interface AmiFromInstanceCheckInputs extends CommonImageInputs {
    sourceInstanceId?: unknown;
    snapshotWithoutReboot?: unknown;
    blockDeviceMappings?: unknown;
}

/** Every `check` rule of AmiFromInstance. */
export function checkAmiFromInstanceInputs(
    news: AmiFromInstanceCheckInputs,
    olds?: AmiFromInstanceCheckInputs,
    now: Date = new Date(),
): CheckFailure[] {
    const failures: CheckFailure[] = [];
    if (news.sourceInstanceId === undefined || news.sourceInstanceId === "") {
        failures.push(fail("sourceInstanceId", "is required: the id of the EC2 instance to make the image from"));
    } else {
        apply(failures, "sourceInstanceId", news.sourceInstanceId, instanceIdRule);
    }
    apply(failures, "snapshotWithoutReboot", news.snapshotWithoutReboot, booleanRule);
    apply(failures, "blockDeviceMappings", news.blockDeviceMappings, blockDeviceMappingsRule);
    return [...failures, ...checkCommonImageInputs(news, olds, now)];
}

/** A KMS key as CopyImage takes it: key id, alias or ARN. */
const KMS_KEY =
    /^(alias\/[A-Za-z0-9/_-]{1,250}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32}|arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key\/[A-Za-z0-9-]+|alias\/[A-Za-z0-9/_-]+))$/;

export const kmsKeyRule: Rule = (v) =>
    typeof v === "string" && KMS_KEY.test(v)
        ? undefined
        : `${show(v)} is not a KMS key id, alias or ARN; expected e.g. "alias/ami-copies", "1234abcd-12ab-34cd-56ef-1234567890ab" or "arn:aws:kms:us-west-2:111122223333:key/1234abcd-…"`;

export interface AmiCopyCheckInputs extends CommonImageInputs {
    sourceAmiId?: unknown;
    sourceAmiRegion?: unknown;
    encrypted?: unknown;
    kmsKeyId?: unknown;
    copyImageTags?: unknown;
}

/** Every `check` rule of AmiCopy that needs no EC2 call. */
export function checkAmiCopyInputs(news: AmiCopyCheckInputs, olds?: AmiCopyCheckInputs, now: Date = new Date()): CheckFailure[] {
    const failures: CheckFailure[] = [];
    for (const [property, rule, what] of [
        ["sourceAmiId", imageIdRule, "the id of the AMI to copy"],
        ["sourceAmiRegion", regionRule, "the region the AMI to copy lives in"],
    ] as const) {
        const value = news[property];
        if (value === undefined || value === "") failures.push(fail(property, `is required: ${what}`));
        else apply(failures, property, value, rule);
    }
    apply(failures, "encrypted", news.encrypted, booleanRule);
    apply(failures, "copyImageTags", news.copyImageTags, booleanRule);
    const kmsFailures = failures.length;
    apply(failures, "kmsKeyId", news.kmsKeyId, kmsKeyRule);
    const kmsKeyOk = failures.length === kmsFailures;
    if (
        kmsKeyOk &&
        news.kmsKeyId !== undefined &&
        !containsUnknown(news.kmsKeyId) &&
        news.encrypted !== true &&
        !containsUnknown(news.encrypted)
    ) {
        failures.push(
            fail("kmsKeyId", "is set but encrypted is not true; set encrypted: true to encrypt the copy with this key, or drop kmsKeyId"),
        );
    }
    return [...failures, ...checkCommonImageInputs(news, olds, now)];
}

export interface RetentionPolicyCheckInputs {
    regions?: unknown;
    selector?: unknown;
    groupBy?: unknown;
    keepLatest?: unknown;
    maxAgeDays?: unknown;
    action?: unknown;
    deleteSnapshots?: unknown;
    exclude?: unknown;
    dryRun?: unknown;
}

const ACTIONS = ["deregister", "deprecate", "disable"];

/** Every `check` rule of AmiRetentionPolicy. */
export function checkRetentionPolicyInputs(news: RetentionPolicyCheckInputs): CheckFailure[] {
    const failures: CheckFailure[] = [];
    const known = (v: unknown) => v !== undefined && v !== null && !containsUnknown(v);

    if (!Array.isArray(news.regions) || news.regions.length === 0) {
        if (!containsUnknown(news.regions)) {
            failures.push(
                fail("regions", "no region is set; give regions, or set the stack's aws:region (`pulumi config set aws:region <region>`)"),
            );
        }
    } else {
        const bad = news.regions.find((r) => !containsUnknown(r) && regionRule(r, "regions") !== undefined);
        if (bad !== undefined) failures.push(fail("regions", `${show(bad)} is not an AWS region; expected e.g. "us-east-1"`));
    }

    const selector = news.selector as { owners?: unknown; namePattern?: unknown; tags?: unknown } | undefined;
    if (!selector || typeof selector !== "object") {
        if (!containsUnknown(selector)) {
            failures.push(
                fail(
                    "selector",
                    'is required: { namePattern?, tags?, owners? }, with namePattern or tags (namePattern: "*" selects every image)',
                ),
            );
        }
    } else {
        if (selector.namePattern === undefined && selector.tags === undefined) {
            failures.push(
                fail(
                    "selector",
                    'needs namePattern or tags, so no policy selects every AMI by accident; give namePattern: "*" to mean every image',
                ),
            );
        }
        if (known(selector.namePattern) && (typeof selector.namePattern !== "string" || selector.namePattern === "")) {
            failures.push(
                fail("selector.namePattern", `must be a non-empty name pattern with * and ? wildcards, got ${show(selector.namePattern)}`),
            );
        }
        if (known(selector.tags)) {
            const r = tagsRule(selector.tags, "selector.tags");
            if (r) failures.push(fail("selector.tags", r));
            else if (Object.keys(selector.tags as object).length === 0)
                failures.push(fail("selector.tags", 'is empty; give at least one tag, or use namePattern: "*"'));
        }
        if (known(selector.owners)) {
            const owners = selector.owners;
            if (!Array.isArray(owners) || owners.some((o) => o !== "self")) {
                failures.push(
                    fail("selector.owners", `must be ["self"]: a retention policy retires only this account's images, got ${show(owners)}`),
                );
            }
        }
    }

    if (known(news.groupBy) && (!Array.isArray(news.groupBy) || news.groupBy.some((k) => typeof k !== "string" || k === ""))) {
        failures.push(fail("groupBy", `must be a list of tag keys, got ${show(news.groupBy)}`));
    }
    if (news.keepLatest === undefined) {
        failures.push(fail("keepLatest", "is required: how many of the newest images of each group to keep (at least 1)"));
    } else if (known(news.keepLatest) && !(Number.isInteger(news.keepLatest) && (news.keepLatest as number) >= 1)) {
        failures.push(
            fail(
                "keepLatest",
                `must be a whole number of at least 1, got ${show(news.keepLatest)}; a policy always keeps the newest image of each group`,
            ),
        );
    }
    if (known(news.maxAgeDays) && !(typeof news.maxAgeDays === "number" && news.maxAgeDays > 0)) {
        failures.push(fail("maxAgeDays", `must be a number of days greater than 0, got ${show(news.maxAgeDays)}`));
    }
    if (known(news.action) && !ACTIONS.includes(news.action as string)) {
        failures.push(fail("action", `${show(news.action)} is not one of ${ACTIONS.map((a) => `"${a}"`).join(", ")}`));
    }
    apply(failures, "deleteSnapshots", news.deleteSnapshots, booleanRule);
    if (news.deleteSnapshots === true && known(news.action) && news.action !== "deregister") {
        failures.push(
            fail(
                "deleteSnapshots",
                `applies only to action "deregister" (snapshots of a ${news.action}d image are still needed); drop it or use action "deregister"`,
            ),
        );
    }
    apply(failures, "dryRun", news.dryRun, booleanRule);

    const exclude = news.exclude as { imageIds?: unknown; tags?: unknown; inUse?: unknown; launchedWithinDays?: unknown } | undefined;
    if (known(exclude)) {
        if (typeof exclude !== "object" || Array.isArray(exclude)) {
            failures.push(fail("exclude", "must be an object { imageIds?, tags?, inUse?, launchedWithinDays? }"));
        } else {
            if (known(exclude.imageIds)) {
                if (!Array.isArray(exclude.imageIds)) failures.push(fail("exclude.imageIds", "must be a list of AMI ids"));
                else {
                    const bad = exclude.imageIds.find((id) => !containsUnknown(id) && imageIdRule(id, "") !== undefined);
                    if (bad !== undefined) failures.push(fail("exclude.imageIds", imageIdRule(bad, "")!));
                }
            }
            if (known(exclude.tags)) {
                const r = tagsRule(exclude.tags, "exclude.tags");
                if (r) failures.push(fail("exclude.tags", r));
            }
            apply(failures, "exclude.inUse", exclude.inUse, booleanRule);
            if (known(exclude.launchedWithinDays) && !(typeof exclude.launchedWithinDays === "number" && exclude.launchedWithinDays >= 0)) {
                failures.push(
                    fail("exclude.launchedWithinDays", `must be a number of days (0 or more), got ${show(exclude.launchedWithinDays)}`),
                );
            }
        }
    }
    return failures;
}

export interface ManagedAmiCheckInputs extends CommonImageInputs {
    imageId?: unknown;
}

/** Every `check` rule of ManagedAmi. */
export function checkManagedAmiInputs(news: ManagedAmiCheckInputs, olds?: ManagedAmiCheckInputs, now: Date = new Date()): CheckFailure[] {
    const failures: CheckFailure[] = [];
    if (news.imageId === undefined || news.imageId === "")
        failures.push(fail("imageId", "is required: the id of the existing AMI to manage"));
    else apply(failures, "imageId", news.imageId, imageIdRule);
    if (news.name !== undefined) failures.push(fail("name", "cannot be set: an adopted image keeps its name (see the name output)"));
    return [...failures, ...checkCommonImageInputs({ ...news, name: undefined }, olds, now)];
}
