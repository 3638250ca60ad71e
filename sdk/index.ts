export { AmiCopy, AmiCopyArgs } from "./ami-copy";
export { AmiFromInstance, AmiFromInstanceArgs } from "./ami-from-instance";
export { AmiReplicaSet, AmiReplicaSetArgs } from "./ami-replica-set";
export { ImageResourceArgs } from "./image-args";
export { GoldenImage, GoldenImageArgs, GoldenImageBake, GoldenImageBase, GoldenImageBuildArgs, GoldenImageImageArgs } from "./golden-image";
export { ManagedAmi, ManagedAmiArgs } from "./managed-ami";
export { defaultRegion } from "./region";
export * from "./retention-plan";
export {
    AmiRetentionPolicy,
    AmiRetentionPolicyArgs,
    PendingEntry,
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
    checkRetentionPolicyInputs,
    CommonImageInputs,
    checkManagedAmiInputs,
    ManagedAmiCheckInputs,
    RetentionPolicyCheckInputs,
} from "./validation";
