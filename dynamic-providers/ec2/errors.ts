import { IMAGE_NAME_DUPLICATE, NOT_FOUND_CODES, NotFoundKind, SNAPSHOT_IN_USE } from "./error-codes";

/**
 * EC2 errors, matched by code (never by message text), and the errors
 * golden-ami raises: each names the operation, the resource and the failed
 * step, and keeps the cause.
 */

/** The thing asked for does not exist (or is deregistered): read and delete rely on this. */
export class NotFoundError extends Error {
    constructor(
        readonly kind: string,
        readonly id: string,
        options?: { cause?: unknown },
    ) {
        super(`${kind} ${id} not found`, options);
        this.name = "NotFoundError";
    }
}

export function isNotFound(e: unknown): e is NotFoundError {
    return e instanceof NotFoundError;
}

/** The AWS error code of an SDK error (`InvalidAMIID.NotFound`, ...), if any. */
export function errorCode(e: unknown): string | undefined {
    if (typeof e !== "object" || e === null) return undefined;
    const err = e as { name?: unknown; Code?: unknown; code?: unknown };
    for (const v of [err.Code, err.name, err.code]) {
        if (typeof v === "string" && v !== "Error" && v !== "EC2ServiceException") return v;
    }
    return undefined;
}

export function hasCode(e: unknown, ...codes: readonly string[]): boolean {
    const code = errorCode(e);
    return code !== undefined && codes.includes(code);
}

/** EC2 says the thing of this kind does not exist (see NOT_FOUND_CODES): the only error golden-ami may ignore. */
export function isNotFoundCode(e: unknown, kind: NotFoundKind): boolean {
    return hasCode(e, ...NOT_FOUND_CODES[kind]);
}

/** What a user should do about the EC2 errors they meet most. */
const HINTS: Record<string, string> = {
    "InvalidInstanceID.NotFound": "check sourceInstanceId and that the instance is in the resource's region",
    "InvalidInstanceID.Malformed": "sourceInstanceId must look like i-0123456789abcdef0",
    "InvalidAMIID.NotFound": "check the AMI id and that it is in the region given",
    [IMAGE_NAME_DUPLICATE]:
        "another image in this region already has that name: choose another name, or leave name unset for an automatic one",
    UnauthorizedOperation: "the credentials lack an EC2 permission this resource needs: see the IAM policy in the README",
    AuthFailure: "the AWS credentials were refused: check AWS_PROFILE or the credential chain",
    RequestLimitExceeded: "EC2 throttled the account beyond the retry budget: run the command again later",
    Throttling: "EC2 throttled the account beyond the retry budget: run the command again later",
    ResourceLimitExceeded: "the account's AMI quota is reached: retire old images (see AmiRetentionPolicy) or ask AWS for a higher quota",
    AMIQuotaExceeded: "the account's AMI quota is reached: retire old images (see AmiRetentionPolicy) or ask AWS for a higher quota",
    "KMS.NotFoundException": "the KMS key does not exist in the destination region: use a key id, alias or ARN from that region",
    "KMS.DisabledException": "the KMS key is disabled: enable it or choose another key",
    "KMS.AccessDeniedException":
        "the credentials may not use the KMS key: grant kms:CreateGrant, kms:Encrypt, kms:Decrypt, kms:ReEncrypt*, kms:GenerateDataKey* and kms:DescribeKey",
    [SNAPSHOT_IN_USE]: "the snapshot is still used by an image or a volume: it is retried until the delete limit",
    IncorrectState: "the image is in a state that does not allow this operation yet: run the command again",
};

export function hintFor(e: unknown): string | undefined {
    const code = errorCode(e);
    return code === undefined ? undefined : HINTS[code];
}

function causeMessage(e: unknown): string {
    if (e instanceof Error) return e.message;
    return String(e);
}

/**
 * The SDK could not read the answer as EC2's XML (an HTML page from a proxy,
 * a wrong AWS_ENDPOINT_URL_EC2, a region that does not exist): its message is
 * an `@aws-sdk XML parse error` / `Deserialization error`, without an EC2 code.
 */
export function isNotEc2Answer(e: unknown): boolean {
    if (!(e instanceof Error) || errorCode(e) !== undefined) return false;
    return /XML parse error|Deserialization error/i.test(e.message);
}

function notEc2AnswerMessage(e: Error, region: string | undefined): string {
    const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    const endpoint = process.env.AWS_ENDPOINT_URL_EC2 ?? process.env.AWS_ENDPOINT_URL;
    const where = endpoint
        ? `AWS_ENDPOINT_URL_EC2 is ${endpoint}: check that it is an EC2 endpoint (or unset it)`
        : `no AWS_ENDPOINT_URL_EC2 is set, so this is the public endpoint of the region: check that ${region ? `"${region}"` : "the region"} is an AWS region your account can use`;
    return (
        `the endpoint${region ? ` for region ${region}` : ""} answered something that is not EC2` +
        `${status ? ` (HTTP ${status}, not EC2's XML)` : " (not EC2's XML)"}; ${where}`
    );
}

/**
 * An error that reads `creating AMI (web-1) from instance (i-0abc): waiting
 * for completion: <code>: <cause> (<what to do>)`. An answer that is not
 * EC2's (isNotEc2Answer) reads as what happened instead of the SDK's XML
 * parse error: the endpoint, the region (when `context` gives it) and the fix.
 */
export class OperationError extends Error {
    readonly code?: string;
    constructor(operation: string, step: string, cause: unknown, context: { region?: string } = {}) {
        if (isNotEc2Answer(cause)) {
            super(`${operation}: ${step}: ${notEc2AnswerMessage(cause as Error, context.region)}`, { cause });
            this.name = "OperationError";
            return;
        }
        const code = errorCode(cause);
        const hint = hintFor(cause);
        const msg = causeMessage(cause);
        const codePart = code && !msg.includes(code) ? `${code}: ` : "";
        super(`${operation}: ${step}: ${codePart}${msg}${hint ? ` (${hint})` : ""}`, { cause });
        this.name = "OperationError";
        this.code = code;
    }
}

/**
 * An error after EC2 made the image: carries the image id and outputs so the
 * Pulumi engine records the image in state (as a resource that failed to
 * initialize) instead of forgetting it. The next `pulumi up` finishes the job.
 */
export class PartialCreateError extends Error {
    constructor(
        message: string,
        readonly id: string,
        readonly properties: Record<string, unknown>,
        readonly reasons: string[] = [message],
        options?: { cause?: unknown },
    ) {
        super(message, options);
        this.name = "PartialCreateError";
    }
}

/** An error as one line: EC2's code first when the message does not already say it. */
export function describeError(e: unknown): string {
    const code = errorCode(e);
    const msg = e instanceof Error ? e.message : String(e);
    return `${code && !msg.includes(code) ? `${code}: ` : ""}${msg}`;
}
