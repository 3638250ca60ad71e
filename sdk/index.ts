export { AmiFromInstance, AmiFromInstanceArgs } from "./ami-from-instance";
export { ImageResourceArgs } from "./image-args";
export { defaultRegion } from "./region";
export * from "./types";
export { checkAmiFromInstanceInputs, CheckFailure } from "./validation";
