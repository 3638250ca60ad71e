export { AmiCopy, AmiCopyArgs } from "./ami-copy";
export { AmiFromInstance, AmiFromInstanceArgs } from "./ami-from-instance";
export { AmiReplicaSet, AmiReplicaSetArgs } from "./ami-replica-set";
export { ImageResourceArgs } from "./image-args";
export { defaultRegion } from "./region";
export * from "./types";
export { checkAmiCopyInputs, checkAmiFromInstanceInputs, CheckFailure } from "./validation";
