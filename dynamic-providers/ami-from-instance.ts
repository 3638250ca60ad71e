import type * as dynamic from "@pulumi/pulumi/dynamic";
import { AmiFromInstanceInputs, descriptor } from "../sdk/ami-from-instance";
import { replaceKeys } from "../sdk/image-kind";
import { ec2Client } from "./ec2/client";
import { createImageFromInstance } from "./ec2/create-image";
import { removeImageLeftBehind } from "./ec2/delete-image";
import { IMAGE_NAME_DUPLICATE } from "./ec2/error-codes";
import { hasCode, OperationError } from "./ec2/errors";
import { findOwnImagesByName } from "./ec2/finders";
import type { EC2Client } from "./ec2/types";
import { printProgress } from "./ec2/waiters";
import { finishCreate, imageHooks } from "./image-hooks";

export { AmiFromInstanceInputs };

/** Changing any of these makes a new image. */
export const REPLACE_KEYS = replaceKeys(descriptor);

/**
 * CreateImage; when EC2 says the name is taken by an image of ours made from
 * the same instance (left by an interrupted run), that image is adopted
 * instead of making a second one.
 */
async function createOrAdopt(client: EC2Client, inputs: AmiFromInstanceInputs, op: string): Promise<string> {
    const spec = {
        instanceId: inputs.sourceInstanceId,
        name: inputs.name,
        description: inputs.description,
        noReboot: inputs.snapshotWithoutReboot,
        blockDeviceMappings: inputs.blockDeviceMappings,
        tags: inputs.tags,
    };
    try {
        return await createImageFromInstance(client, spec);
    } catch (e) {
        if (!hasCode(e, IMAGE_NAME_DUPLICATE)) throw e;
        const existing = await findOwnImagesByName(client, inputs.name);
        const ours = existing.find(
            (i) =>
                (i.State === "pending" || i.State === "available") &&
                (!i.SourceInstanceId || i.SourceInstanceId === inputs.sourceInstanceId),
        );
        if (ours?.ImageId) {
            printProgress(`${op}: adopting ${ours.ImageId}, the image of this name an interrupted run left behind`);
            return ours.ImageId;
        }
        const failed = existing.filter((i) => i.State === "failed" || i.State === "error");
        if (failed.length === 0) throw e;
        for (const f of failed) await removeImageLeftBehind(client, f.ImageId!);
        return createImageFromInstance(client, spec);
    }
}

/** AmiFromInstance's own create: CreateImage (or adopt what an interrupted run left), then the shared finish. */
async function create(inputs: AmiFromInstanceInputs): Promise<dynamic.CreateResult> {
    const client = ec2Client(inputs.region);
    const op = `creating AMI (${inputs.name}) from instance (${inputs.sourceInstanceId})`;
    let imageId: string;
    try {
        imageId = await createOrAdopt(client, inputs, op);
    } catch (e) {
        throw new OperationError(op, "CreateImage", e);
    }
    return finishCreate(client, imageId, inputs, op, inputs.createTimeoutMinutes ?? descriptor.createTimeoutMinutes);
}

const hooks = imageHooks(descriptor, create);
export const { check, diff, read, update } = hooks;
export { create };
const remove = hooks.delete;
export { remove as delete };
