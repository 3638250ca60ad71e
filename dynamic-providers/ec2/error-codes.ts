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

/** EC2 and SSM throttling: adaptive retry absorbs these; past the retry budget they surface, never swallowed. */
export const THROTTLING_CODES = ["RequestLimitExceeded", "Throttling", "ThrottlingException"] as const;

/** CreateImage: an image of this name already exists in the region. */
export const IMAGE_NAME_DUPLICATE = "InvalidAMIName.Duplicate";
/** DeleteSnapshot: an image or a volume still uses the snapshot (normal right after deregistration). */
export const SNAPSHOT_IN_USE = "InvalidSnapshot.InUse";
/** CopyImage: the same ClientToken with other parameters. */
export const IDEMPOTENT_PARAMETER_MISMATCH = "IdempotentParameterMismatch";

/** DeregisterImage: an endpoint that refuses `DeleteAssociatedSnapshots` (older, or an emulator). */
export const PARAMETER_REFUSED_CODES = ["UnknownParameter", "InvalidParameter"] as const;

/** GetConsoleOutput: the instance type keeps no console output (a builder's failed script then shows none). */
export const CONSOLE_OUTPUT_UNSUPPORTED = "UnsupportedOperation";
