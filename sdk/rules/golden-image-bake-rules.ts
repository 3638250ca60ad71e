import { parameterNameProblem } from "../ssm-parameter-name";
import {
    blockDeviceMappingsRule,
    booleanRule,
    CheckFailure,
    containsUnknown,
    fail,
    imageIdRule,
    IMAGE_NAME,
    kmsKeyRule,
    Rule,
    show,
} from "./primitives";
import type { RuleTable } from "./runner";

/**
 * GoldenImage's bake rule table: one entry per setting, each naming the
 * property (the descriptor's `shownAs` names it as the user wrote it:
 * `build.instanceType`, `publish.ssmParameter`) and the fix.
 */

/** The longest build timeout accepted, in minutes (a day). */
export const MAX_BUILD_TIMEOUT_MINUTES = 1440;
/** EC2 takes at most 16 KB of user data (before base64). */
export const MAX_USER_DATA_BYTES = 16 * 1024;
/** The image name is the prefix, `-` and 8 hex digits of the build hash, at most 128 characters. */
export const MAX_NAME_PREFIX_LENGTH = 128 - 9;

export const INSTANCE_TYPE = /^[a-z][a-z0-9-]*\.[a-z0-9-]+$/;
export const SUBNET_ID = /^subnet-([0-9a-f]{8}|[0-9a-f]{17})$/;
export const SECURITY_GROUP_ID = /^sg-([0-9a-f]{8}|[0-9a-f]{17})$/;
const PROFILE_NAME = /^[\w+=,.@-]{1,128}$/;
const PROFILE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:instance-profile\/[\w+=,.@/-]{1,512}$/;
const ACCOUNT_OR_ALIAS = /^(\d{12}|self|amazon|aws-marketplace|aws-backup-vault)$/;

/** The bake's own inputs as `check` receives them (anything may be wrong or not known yet). */
export interface GoldenImageBakeCheckInputs {
    baseImage?: unknown;
    instanceType?: unknown;
    subnetId?: unknown;
    securityGroupIds?: unknown;
    iamInstanceProfile?: unknown;
    userData?: unknown;
    buildTimeoutMinutes?: unknown;
    rootVolumeSize?: unknown;
    blockDeviceMappings?: unknown;
    namePrefix?: unknown;
    publishParameter?: unknown;
    pipeline?: unknown;
    builderOwner?: unknown;
    instanceTypes?: unknown;
    kmsKeyId?: unknown;
    test?: unknown;
    testTimeoutMinutes?: unknown;
    publishOverwrite?: unknown;
    launchPermissions?: unknown;
}

const known = (v: unknown) => v !== undefined && v !== null && !containsUnknown(v);

/** `baseImage` must be exactly one of its three forms. */
export function baseImageProblem(v: unknown): string | undefined {
    const forms =
        '{ ssmParameter }, { imageId } or { owners?, namePattern }, e.g. { ssmParameter: "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64" }';
    if (typeof v !== "object" || v === null || Array.isArray(v)) return `must be one of ${forms}`;
    const b = v as Record<string, unknown>;
    const extra = Object.keys(b).filter((k) => !["ssmParameter", "imageId", "owners", "namePattern"].includes(k) && b[k] !== undefined);
    if (extra.length) return `unknown field(s) ${extra.join(", ")}; give one of ${forms}`;
    const given = [
        b.ssmParameter !== undefined ? "ssmParameter" : undefined,
        b.imageId !== undefined ? "imageId" : undefined,
        b.namePattern !== undefined || b.owners !== undefined ? "owners/namePattern" : undefined,
    ].filter(Boolean);
    if (given.length === 0) return `is empty; give one of ${forms}`;
    if (given.length > 1) return `gives ${given.join(" and ")}; give exactly one of ${forms}`;
    if (known(b.ssmParameter)) {
        const p = parameterNameProblem(b.ssmParameter, { forWriting: false });
        if (p) return `ssmParameter ${p}`;
    }
    if (known(b.imageId)) {
        const p = imageIdRule(b.imageId, "baseImage.imageId");
        if (p) return `imageId: ${p}`;
    }
    if (b.owners !== undefined && b.namePattern === undefined) {
        return `owners needs namePattern too (the newest image of the owners whose name matches), e.g. { owners: ["amazon"], namePattern: "al2023-ami-2023.*-x86_64" }`;
    }
    if (known(b.namePattern) && (typeof b.namePattern !== "string" || b.namePattern === "" || b.namePattern.length > 128)) {
        return `namePattern must be an AMI name pattern of 1 to 128 characters (* and ? are wildcards), got ${show(b.namePattern)}`;
    }
    if (known(b.owners)) {
        if (!Array.isArray(b.owners) || b.owners.length === 0) return `owners must be a non-empty list, e.g. ["amazon"] or ["self"]`;
        const bad = b.owners.find((o) => !containsUnknown(o) && (typeof o !== "string" || !ACCOUNT_OR_ALIAS.test(o)));
        if (bad !== undefined) return `owners has ${show(bad)}; expected a 12-digit account id, "self", "amazon" or "aws-marketplace"`;
    }
    return undefined;
}

export const instanceTypeRule: Rule = (v) =>
    typeof v === "string" && INSTANCE_TYPE.test(v)
        ? undefined
        : `${show(v)} is not an EC2 instance type; expected e.g. "t3.small" or "m7g.large"`;

export const subnetIdRule: Rule = (v) =>
    typeof v === "string" && SUBNET_ID.test(v) ? undefined : `${show(v)} is not a subnet id; expected e.g. "subnet-0123456789abcdef0"`;

export const securityGroupIdsRule: Rule = (v) => {
    if (!Array.isArray(v)) return "must be a list of security group ids";
    const bad = v.find((g) => typeof g !== "string" || !SECURITY_GROUP_ID.test(g));
    return bad === undefined ? undefined : `has ${show(bad)}, which is not a security group id; expected e.g. "sg-0123456789abcdef0"`;
};

export const instanceProfileRule: Rule = (v) =>
    typeof v === "string" && (PROFILE_NAME.test(v) || PROFILE_ARN.test(v))
        ? undefined
        : `${show(v)} is neither an instance profile name nor its ARN (arn:aws:iam::111122223333:instance-profile/builder)`;

export const userDataRule: Rule = (v) => {
    if (typeof v !== "string") return `must be the script's text, got ${show(v)}`;
    const bytes = Buffer.byteLength(v, "utf8");
    return bytes > MAX_USER_DATA_BYTES
        ? `is ${bytes} bytes; EC2 takes at most ${MAX_USER_DATA_BYTES}: download the rest from S3 in the script`
        : undefined;
};

export const buildTimeoutRule: Rule = (v) =>
    typeof v === "number" && v > 0 && v <= MAX_BUILD_TIMEOUT_MINUTES
        ? undefined
        : `must be a number of minutes greater than 0 and at most ${MAX_BUILD_TIMEOUT_MINUTES}, got ${show(v)}`;

export const rootVolumeSizeRule: Rule = (v) =>
    Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 16384
        ? undefined
        : `must be a whole number of GiB from 1 to 16384, got ${show(v)}`;

export const namePrefixRule: Rule = (v) =>
    typeof v === "string" && v.length >= 1 && v.length <= MAX_NAME_PREFIX_LENGTH && IMAGE_NAME.test(`${v}-00000000`)
        ? undefined
        : `${show(v)} cannot start an AMI name: 1 to ${MAX_NAME_PREFIX_LENGTH} letters, digits, spaces and ( ) [ ] . / - ' @ _ (the build hash is appended)`;

export const publishParameterRule: Rule = (v) => parameterNameProblem(v, { forWriting: true });

export const instanceTypesRule: Rule = (v) => {
    if (!Array.isArray(v)) return `must be a list of instance types to try when EC2 has no capacity, e.g. ["t3.small", "t3a.small"]`;
    const bad = v.find((t) => !containsUnknown(t) && instanceTypeRule(t, "build.instanceTypes") !== undefined);
    return bad === undefined ? undefined : `has ${show(bad)}, which is not an EC2 instance type; expected e.g. "t3a.small"`;
};

/** The `test` arg: one failure per bad field, named `test.<field>`. */
export function testFailures(v: unknown): CheckFailure[] {
    if (v === undefined || v === null) return [];
    if (typeof v !== "object" || Array.isArray(v)) {
        return [
            fail(
                "test",
                `must be { userData, instanceType?, subnetId?, securityGroupIds?, iamInstanceProfile?, timeoutMinutes? }, got ${show(v)}`,
            ),
        ];
    }
    const t = v as Record<string, unknown>;
    const failures: CheckFailure[] = [];
    const fields: Record<string, Rule> = {
        userData: userDataRule,
        instanceType: instanceTypeRule,
        subnetId: subnetIdRule,
        securityGroupIds: securityGroupIdsRule,
        iamInstanceProfile: instanceProfileRule,
    };
    for (const k of Object.keys(t)) {
        if (!(k in fields) && t[k] !== undefined)
            failures.push(
                fail(
                    `test.${k}`,
                    "is not a test option; use userData, instanceType, subnetId, securityGroupIds, iamInstanceProfile or timeoutMinutes",
                ),
            );
    }
    if (t.userData === undefined || t.userData === "") {
        failures.push(
            fail(
                "test.userData",
                `is required: the test script, run on an instance of the new image; it ends with \`echo "golden-ami: success"\` and \`poweroff\``,
            ),
        );
    }
    for (const [k, rule] of Object.entries(fields)) {
        if (t[k] === undefined || containsUnknown(t[k])) continue;
        const problem = rule(t[k], `test.${k}`);
        if (problem) failures.push(fail(`test.${k}`, problem));
    }
    return failures;
}

/** The bake's own rules, run before the shared image rules. */
export const GOLDEN_IMAGE_BAKE_RULES: RuleTable<GoldenImageBakeCheckInputs> = [
    {
        property: "baseImage",
        // Checked even when a part is not known yet: two forms given is wrong whatever their values.
        relation: ({ news }) =>
            news.baseImage === undefined
                ? "is required: { ssmParameter }, { imageId } or { owners?, namePattern }"
                : !containsUnknown(news.baseImage) || typeof news.baseImage === "object"
                  ? baseImageProblem(news.baseImage)
                  : undefined,
    },
    { property: "instanceType", rule: instanceTypeRule, required: 'is required: the builder\'s instance type, e.g. "t3.small"' },
    { property: "subnetId", rule: subnetIdRule },
    { property: "securityGroupIds", rule: securityGroupIdsRule },
    { property: "iamInstanceProfile", rule: instanceProfileRule },
    { property: "userData", rule: userDataRule },
    { property: "buildTimeoutMinutes", rule: buildTimeoutRule },
    { property: "rootVolumeSize", rule: rootVolumeSizeRule },
    { property: "blockDeviceMappings", rule: blockDeviceMappingsRule },
    { property: "namePrefix", rule: namePrefixRule },
    { property: "publishParameter", rule: publishParameterRule },
    { property: "publishOverwrite", rule: booleanRule },
    { property: "instanceTypes", rule: instanceTypesRule },
    { property: "kmsKeyId", rule: kmsKeyRule },
    // Sharing with the AWS managed key aws/ebs: a rule every image kind shares (sdk/rules/encryption.ts).
    { name: "test", failures: ({ news }) => (containsUnknown(news.test) && typeof news.test !== "object" ? [] : testFailures(news.test)) },
    { property: "testTimeoutMinutes", rule: buildTimeoutRule },
];
