import * as pulumi from "@pulumi/pulumi";
import type { ImageOutputs } from "./types";

/** A plain shape's properties as a resource's outputs. */
export type OutputsOf<T> = { readonly [K in keyof T]-?: pulumi.Output<T[K]> };

/**
 * The outputs every golden-ami image resource has (AmiFromInstance, AmiCopy,
 * AmiFromSnapshot, ManagedAmi), written once in ImageOutputs (sdk/types.ts);
 * each resource declares only its own.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unsafe-declaration-merging
export interface ImageResource extends OutputsOf<ImageOutputs> {}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export abstract class ImageResource extends pulumi.dynamic.Resource {}
