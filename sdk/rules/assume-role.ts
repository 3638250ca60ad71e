import type { Rule } from "./primitives";

/**
 * `arn:<partition>:iam::<12-digit account>:role/<path/><name>`: role names
 * are at most 64 characters of letters, digits and `+=,.@_-`, paths `/`
 * separated ("IAM identifiers", "IAM and AWS STS quotas", IAM User Guide).
 */
export const ROLE_ARN = /^arn:aws[a-z-]*:iam::(\d{12}):role\/(?:[\w+=,.@-]+\/)*[\w+=,.@-]{1,64}$/;
/** ExternalId: 2 to 1224 characters of `[\w+=,.@:/-]` (AssumeRole, AWS STS API Reference). */
const EXTERNAL_ID = /^[\w+=,.@:/-]{2,1224}$/;
/** RoleSessionName: 2 to 64 characters of `[\w+=,.@-]` (AssumeRole). */
const SESSION_NAME = /^[\w+=,.@-]{2,64}$/;

/** The account a role is in (its ARN's), or undefined for no role or one not known yet. */
export function roleAccount(role: unknown): string | undefined {
    const arn = (role as { roleArn?: unknown } | undefined)?.roleArn;
    return typeof arn === "string" ? ROLE_ARN.exec(arn)?.[1] : undefined;
}

/** `assumeRole`: `{ roleArn, externalId?, sessionName? }`, each as STS AssumeRole takes it. */
export const assumeRoleRule: Rule = (v) => {
    if (typeof v !== "object" || v === null || Array.isArray(v)) return "must be an object { roleArn, externalId?, sessionName? }";
    const { roleArn, externalId, sessionName, ...rest } = v as Record<string, unknown>;
    const unknown = Object.keys(rest);
    if (unknown.length) return `unknown field ${unknown[0]}; allowed are roleArn, externalId and sessionName`;
    if (typeof roleArn !== "string" || !ROLE_ARN.test(roleArn)) {
        return `roleArn must be an IAM role ARN such as arn:aws:iam::111122223333:role/golden-ami, got ${JSON.stringify(roleArn)}`;
    }
    if (externalId !== undefined && (typeof externalId !== "string" || !EXTERNAL_ID.test(externalId))) {
        return "externalId must be 2 to 1224 letters, digits or + = , . @ : / - _";
    }
    if (sessionName !== undefined && (typeof sessionName !== "string" || !SESSION_NAME.test(sessionName))) {
        return `sessionName must be 2 to 64 letters, digits or + = , . @ - _, got ${JSON.stringify(sessionName)}`;
    }
    return undefined;
};
