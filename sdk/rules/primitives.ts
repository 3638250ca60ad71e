import { unknownRegionReason } from "./regions";
import type { BlockDeviceMapping, LaunchPermissions } from "../types";
import { GOLDEN_AMI_TAG_PREFIX, isReservedTagKey } from "../ownership";

/**
 * Rule primitives: each a pure function of one value that returns why the
 * value is refused, or undefined. Rule tables (see runner.ts) say which
 * property each applies to, so `pulumi preview` refuses bad input before
 * anything is created, naming the property, what is wrong and what is allowed.
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

export type Rule = (value: unknown, property: string) => string | undefined;

export function fail(property: string, reason: string): CheckFailure {
    return { property, reason: `${property}: ${reason}` };
}

/** Runs `rule` unless the value is absent or not known yet. */
export function apply(failures: CheckFailure[], property: string, value: unknown, rule: Rule): void {
    if (value === undefined || value === null || containsUnknown(value)) return;
    const reason = rule(value, property);
    if (reason) failures.push(fail(property, reason));
}

export const show = (v: unknown) => JSON.stringify(v);

export const INSTANCE_ID = /^i-([0-9a-f]{8}|[0-9a-f]{17})$/;
export const IMAGE_ID = /^ami-([0-9a-f]{8}|[0-9a-f]{17})$/;
/** EC2: 3–128 letters, digits, ( ) [ ] space . / - ' @ _ */
export const IMAGE_NAME = /^[A-Za-z0-9()[\] ./\-'@_]{3,128}$/;
export const ACCOUNT_ID = /^\d{12}$/;
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

/**
 * A region AWS has (regions.ts: the AWS SDK's partition data), so that a
 * name that only looks like one (`us-east-9`) is refused at preview instead
 * of failing at EC2's endpoint.
 */
export const regionRule: Rule = (v) =>
    typeof v !== "string"
        ? `${show(v)} is not an AWS region; expected e.g. "us-east-1" (set the region arg, or run \`pulumi config set aws:region us-east-1\`)`
        : unknownRegionReason(v);

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
 * Tags golden-ami puts on an image or snapshot: {@link tagsRule}, and no key
 * of golden-ami's own (`golden-ami:owner` marks what golden-ami made; a
 * program setting it by mistake would make the sweeper take a user's image
 * for golden-ami's).
 */
export const imageTagsRule: Rule = (v, ...rest) => {
    const r = tagsRule(v, ...rest);
    if (r !== undefined) return r;
    const reserved = Object.keys(v as Record<string, unknown>).find(isReservedTagKey);
    return reserved === undefined
        ? undefined
        : `key ${show(reserved)} starts with "${GOLDEN_AMI_TAG_PREFIX}", which golden-ami reserves for its own marks; choose another key`;
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
        if (Date.parse(v) <= now.getTime()) return `${show(v)} is in the past; give a future time, or leave it unset`;
        // "The upper limit for DeprecateAt is 10 years from now" (EnableImageDeprecation).
        const limit = new Date(now);
        limit.setUTCFullYear(limit.getUTCFullYear() + 10);
        return Date.parse(v) > limit.getTime()
            ? `${show(v)} is more than 10 years from now; EC2 accepts a deprecation time at most 10 years ahead`
            : undefined;
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

/** A KMS key as CopyImage takes it: key id, alias or ARN. */
const KMS_KEY =
    /^(alias\/[A-Za-z0-9/_-]{1,250}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32}|arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key\/[A-Za-z0-9-]+|alias\/[A-Za-z0-9/_-]+))$/;

export const kmsKeyRule: Rule = (v) =>
    typeof v === "string" && KMS_KEY.test(v)
        ? undefined
        : `${show(v)} is not a KMS key id, alias or ARN; expected e.g. "alias/ami-copies", "1234abcd-12ab-34cd-56ef-1234567890ab" or "arn:aws:kms:us-west-2:111122223333:key/1234abcd-…"`;
