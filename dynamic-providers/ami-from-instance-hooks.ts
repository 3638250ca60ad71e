import type * as dynamic from "@pulumi/pulumi/dynamic";
import { AmiFromInstanceInputs, descriptor } from "../sdk/ami-from-instance";
import { replaceKeys } from "../sdk/image-kind";
import { existingVolumeProblem } from "../sdk/rules/block-devices";
import type { CheckFailure } from "../sdk/rules/primitives";
import { ec2Client } from "./ec2/client";
import { createImageFromInstance } from "./ec2/create-copy-register-image";
import { removeImageLeftBehind } from "./ec2/delete-image";
import { IMAGE_NAME_DUPLICATE } from "./ec2/error-codes";
import { hasCode, isNotFound, OperationError } from "./ec2/errors";
import { findInstanceWithVolumes, findOwnImagesByName } from "./ec2/finders";
import type { EC2Client } from "./ec2/sdk-types";
import { findSource, printProgress } from "./ec2/waiters";
import { finishCreate, imageHooks } from "./image-hooks";
import { markedTags } from "./image-planning";
import { isFinishedCreate, KeptImageError, keptImageError } from "./kept-image";

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
        tags: markedTags(inputs.tags ?? {}, inputs.owner),
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
            if (isFinishedCreate(ours)) throw keptImageError(op, ours);
            printProgress(`${op}: adopting ${ours.ImageId}, the image of this name an interrupted run left behind`);
            return ours.ImageId;
        }
        const failed = existing.filter((i) => i.State === "failed" || i.State === "error");
        if (failed.length === 0) throw e;
        for (const f of failed) await removeImageLeftBehind(client, inputs.region, f.ImageId!);
        return createImageFromInstance(client, spec);
    }
}

/**
 * The preflight of a replacement (and of block devices on a create), run by
 * `check` when the descriptor's needsEc2Check says so, i.e. before the engine
 * deletes anything: the source instance must exist and not be terminated,
 * and the block devices must satisfy CreateImage's rules against the
 * instance's existing volumes (existingVolumeProblem). A same-name
 * replacement deletes the old image before CreateImage (EC2 names are unique
 * per region), so there any failed lookup fails `check` and the old image
 * stays; elsewhere an unreachable EC2 is left for `up` to report.
 */
export async function checkWithEc2(
    news: Partial<AmiFromInstanceInputs>,
    olds?: Partial<AmiFromInstanceInputs>,
): Promise<CheckFailure | undefined> {
    const { region, sourceInstanceId } = news;
    const sameNameReplacement = !!olds?.sourceInstanceId && olds.name === news.name && olds.region === region;
    const keeps = sameNameReplacement ? "; nothing was changed and the current image is kept" : "";
    let found: Awaited<ReturnType<typeof findInstanceWithVolumes>>;
    try {
        const client = ec2Client(region!);
        const volumes = (news.blockDeviceMappings ?? []).length > 0;
        found = await findSource(client, () => findInstanceWithVolumes(client, sourceInstanceId!, { volumes }));
    } catch (e) {
        if (isNotFound(e)) {
            return {
                property: "sourceInstanceId",
                reason:
                    `sourceInstanceId: instance ${sourceInstanceId} does not exist in ${region} or is terminated` +
                    `${keeps}; set sourceInstanceId to a running or stopped instance of that region`,
            };
        }
        if (!sameNameReplacement) return undefined; // CreateImage will say so, with EC2's code
        const err = new OperationError(
            `checking instance (${sourceInstanceId}) before replacing AMI (${news.name})`,
            "DescribeInstances",
            e,
            { region },
        );
        return {
            property: "sourceInstanceId",
            reason: `sourceInstanceId: ${err.message}${keeps}; fix the cause and run the command again`,
        };
    }
    const problem = existingVolumeProblem(news.blockDeviceMappings, found.volumes, sourceInstanceId!);
    return problem ? { property: "blockDeviceMappings", reason: `blockDeviceMappings${problem}${keeps}` } : undefined;
}

/** AmiFromInstance's own create: CreateImage (or adopt what an interrupted run left), then the shared finish. */
async function create(inputs: AmiFromInstanceInputs): Promise<dynamic.CreateResult> {
    const client = ec2Client(inputs.region);
    const op = `creating AMI (${inputs.name}) from instance (${inputs.sourceInstanceId})`;
    let imageId: string;
    try {
        imageId = await createOrAdopt(client, inputs, op);
    } catch (e) {
        if (e instanceof KeptImageError) throw e;
        throw new OperationError(op, "CreateImage", e, { region: inputs.region });
    }
    return finishCreate(client, imageId, inputs, op, inputs.createTimeoutMinutes ?? descriptor.createTimeoutMinutes);
}

const hooks = imageHooks(descriptor, create, checkWithEc2);
export const { check, diff, read, update } = hooks;
export { create };
const remove = hooks.delete;
export { remove as delete };
