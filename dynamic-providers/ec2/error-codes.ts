/**
 * Every EC2 (and SSM) error code golden-ami matches, named once. Codes are
 * matched by name, never by message text (see errors.ts `hasCode`).
 */

/** Codes that mean "this thing does not exist (any more)", per kind of thing. */
export const NOT_FOUND_CODES = {
    image: ["InvalidAMIID.NotFound", "InvalidAMIID.Unavailable"],
    snapshot: ["InvalidSnapshot.NotFound"],
    instance: ["InvalidInstanceID.NotFound"],
    launchTemplate: ["InvalidLaunchTemplateId.NotFound", "InvalidLaunchTemplateName.NotFoundException"],
    parameter: ["ParameterNotFound"],
} as const;

export type NotFoundKind = keyof typeof NOT_FOUND_CODES;

/** EC2 and SSM throttling: SDK retries absorb these (EC2's pacing adapts its rate); past the retry budget they surface, never swallowed. */
export const THROTTLING_CODES = ["RequestLimitExceeded", "Throttling", "ThrottlingException"] as const;

/** CreateImage: an image of this name already exists in the region. */
export const IMAGE_NAME_DUPLICATE = "InvalidAMIName.Duplicate";
/** DeleteSnapshot: an image or a volume still uses the snapshot (normal right after deregistration). */
export const SNAPSHOT_IN_USE = "InvalidSnapshot.InUse";
/** CopyImage: the same ClientToken with other parameters. */
export const IDEMPOTENT_PARAMETER_MISMATCH = "IdempotentParameterMismatch";

/** DeregisterImage: an endpoint that refuses `DeleteAssociatedSnapshots` (older, or an emulator). */
export const PARAMETER_REFUSED_CODES = ["UnknownParameter", "InvalidParameter"] as const;

/**
 * An endpoint that does not offer an action at all: EC2's Query protocol
 * answers `InvalidAction` (and `UnsupportedOperation` where a partition lacks
 * a feature), JSON services `UnknownOperationException`. The retention
 * inventory then enumerates the same sources directly, never "unused".
 */
export const ACTION_UNSUPPORTED_CODES = [
    "InvalidAction",
    "UnknownOperation",
    "UnknownOperationException",
    "UnsupportedOperation",
    "NotImplemented",
] as const;

/** The credentials may not call the action: the retention plan stops and names the IAM permission. */
export const ACCESS_DENIED_CODES = ["UnauthorizedOperation", "AccessDenied", "AccessDeniedException", "AuthorizationError"] as const;

/** DescribeLaunchTemplateVersions: a version asked for by number does not exist (any more). */
export const LAUNCH_TEMPLATE_VERSION_NOT_FOUND = "InvalidLaunchTemplateId.VersionNotFound";

/** SSM DescribeParameters refused a filter key it does not know (an emulator without the `DataType` filter). */
export const SSM_VALIDATION = "ValidationException";

/** GetConsoleOutput: the instance type keeps no console output (a builder's failed script then shows none). */
export const CONSOLE_OUTPUT_UNSUPPORTED = "UnsupportedOperation";

/**
 * RunInstances with an instance profile IAM has not propagated to EC2 yet
 * (made seconds ago in the same stack). EC2 answers the generic
 * `InvalidParameterValue`, so this one case is told apart by its message
 * ("Value (...) for parameter iamInstanceProfile.name is invalid. Invalid IAM
 * Instance Profile name"); retried for IAM_PROPAGATION_SECONDS.
 */
export const INVALID_PARAMETER_VALUE = "InvalidParameterValue";
export const IAM_PROFILE_NOT_PROPAGATED_MESSAGE = /Invalid IAM Instance Profile/i;
/** RunInstances: no capacity for the type in the zone right now; another zone or type may have it. */
export const INSUFFICIENT_CAPACITY = "InsufficientInstanceCapacity";
