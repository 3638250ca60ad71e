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
export abstract class ImageResource extends pulumi.dynamic.Resource {
    constructor(
        provider: pulumi.dynamic.ResourceProvider,
        name: string,
        props: pulumi.Inputs,
        opts?: pulumi.CustomResourceOptions,
        module?: string,
        type?: string,
    ) {
        super(provider, name, props, opts, module, type);
        // The image id is the resource id. Taken from the id, it is known at
        // preview when the image is only updated in place (the engine keeps
        // the id, but a dynamic provider's preview of an update has only the
        // inputs as outputs): a copy of an image that gets a new tag then
        // previews as the update `up` makes, not as a replacement of the copy.
        // Unknown at preview exactly when the image is created or replaced.
        // An image given as an input (ManagedAmi adopts one) keeps that input.
        if (props.imageId === undefined) (this as { imageId: pulumi.Output<string> }).imageId = this.id;
    }
}
