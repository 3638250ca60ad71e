import type * as dynamic from "@pulumi/pulumi/dynamic";
import { descriptor, ManagedAmiInputs } from "../sdk/managed-ami";
import { ImageKind, replaceKeys } from "../sdk/image-kind";
import { ec2Client } from "./ec2/client";
import { OperationError } from "./ec2/errors";
import { findOwnImageById } from "./ec2/finders";
import { imageHooks, updateImage } from "./image-hooks";
import type { ImageResourceState } from "./image-planning";

export { ManagedAmiInputs };

/** Another image, or another region, is another resource. */
export const REPLACE_KEYS = replaceKeys(descriptor);

/**
 * Adopts the image: makes sure this account owns it, then brings its tags,
 * description, deprecation, protection and launch permissions to the inputs
 * (the same code as an update). No image is created.
 */
async function create(inputs: ManagedAmiInputs): Promise<dynamic.CreateResult> {
    const client = ec2Client(inputs.region);
    const op = `adopting AMI ${inputs.imageId} in ${inputs.region}`;
    let owned: boolean;
    try {
        owned = (await findOwnImageById(client, inputs.imageId)) !== undefined;
    } catch (e) {
        throw new OperationError(op, "describing the image", e);
    }
    if (!owned) {
        throw new Error(
            `${op}: it is not an image this account owns in ${inputs.region} (check imageId and region; only your own images can be managed)`,
        );
    }
    const r = await updateImage(inputs.imageId, {} as ImageResourceState, { ...inputs, name: "" }, descriptor.createTimeoutMinutes, {
        full: true,
    });
    return { id: inputs.imageId, outs: r.outs };
}

// The name is the image's own, not an input: the shared hooks fill it in from state.
const hooks = imageHooks(descriptor as unknown as ImageKind<ManagedAmiInputs & { name: string }>, create);
export const check = hooks.check as (olds: Partial<ManagedAmiInputs>, news: Partial<ManagedAmiInputs>) => Promise<dynamic.CheckResult>;
export const diff = hooks.diff as (id: string, olds: ImageResourceState, news: ManagedAmiInputs) => Promise<dynamic.DiffResult>;
export const read = hooks.read as (id: string, props: ImageResourceState) => Promise<dynamic.ReadResult>;
export const update = hooks.update as (id: string, olds: ImageResourceState, news: ManagedAmiInputs) => Promise<dynamic.UpdateResult>;
export { create };
const remove = hooks.delete as (id: string, props: ImageResourceState) => Promise<void>;
export { remove as delete };
