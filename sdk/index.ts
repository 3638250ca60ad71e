export { AmiCopy, AmiCopyArgs, AmiCopyInputs } from "./ami-copy";
export { AmiFromInstance, AmiFromInstanceArgs, AmiFromInstanceInputs } from "./ami-from-instance";
export { AmiFromSnapshot, AmiFromSnapshotArgs, AmiFromSnapshotInputs, SnapshotBlockDeviceMapping } from "./ami-from-snapshot";
export { AmiReplicaSet, AmiReplicaSetArgs } from "./ami-replica-set";
export { ImageResourceArgs } from "./image-args";
export {
    GoldenImage,
    GoldenImageArgs,
    GoldenImageBake,
    GoldenImageBase,
    GoldenImageBuildArgs,
    GoldenImageDistributionArgs,
    GoldenImageImageArgs,
    GoldenImageTestArgs,
} from "./golden-image";
export { ManagedAmi, ManagedAmiArgs, ManagedAmiInputs } from "./managed-ami";
export { PARAMETER_TIERS, ParameterTier, PublishArgs, PublishInputs } from "./publish-args";
export { defaultRegion } from "./region";
export * from "./retention-plan";
export {
    AmiRetentionPolicy,
    AmiRetentionPolicyArgs,
    formatPendingEntry,
    parsePendingEntry,
    PendingEntry,
    pendingEntries,
    PendingGroup,
    RETENTION_REPORT_LIMITS,
    RetentionPendingSummary,
    RetentionRunCounts,
    RetentionRunReport,
} from "./retention-policy";
export * from "./types";
export {
    AmiCopyCheckInputs,
    AmiFromInstanceCheckInputs,
    checkAmiCopyInputs,
    checkAmiFromInstanceInputs,
    CheckFailure,
    CheckInputs,
    checkRetentionPolicyInputs,
    CommonImageInputs,
    checkManagedAmiInputs,
    ManagedAmiCheckInputs,
    RetentionPolicyCheckInputs,
} from "./validation";
