import type * as dynamic from "@pulumi/pulumi/dynamic";
import { AmiFromSnapshotInputs, descriptor, mappedSnapshotIds } from "../sdk/ami-from-snapshot";
import type { CheckFailure } from "../sdk/rules/primitives";
import { snapshotsOwned } from "../sdk/image-kind";
import { ec2Client } from "./ec2/client";
import { imageSnapshotIds } from "./ec2/converters";
import { registerImageFromSnapshots } from "./ec2/create-copy-register-image";
import { IMAGE_NAME_DUPLICATE } from "./ec2/error-codes";
import { hasCode, OperationError } from "./ec2/errors";
import { findExistingSnapshotIds, findOwnImagesByName } from "./ec2/finders";
import { printProgress } from "./ec2/waiters";
import { finishCreate, imageHooks } from "./image-hooks";
import { isFinishedCreate, KeptImageError, keptImageError } from "./kept-image";

export { AmiFromSnapshotInputs };

/**
 * The preflight of a create or a replacement, run by `check` when the
 * descriptor's needsEc2Check says so: every snapshot the mappings name must
 * exist in the image's region, so a wrong id is refused at preview. An
 * unreachable EC2 is left for `up` to report.
 */
export async function checkWithEc2(news: Partial<AmiFromSnapshotInputs>): Promise<CheckFailure | undefined> {
    const ids = mappedSnapshotIds(news.blockDeviceMappings);
    let found: string[];
    try {
        found = await findExistingSnapshotIds(ec2Client(news.region!), ids);
    } catch {
        return undefined; // RegisterImage will say so, with EC2's code
    }
    const missing = ids.filter((id) => !found.includes(id));
    if (missing.length === 0) return undefined;
    return {
        property: "blockDeviceMappings",
        reason:
            `blockDeviceMappings: snapshot ${missing.join(", ")} does not exist in ${news.region}; ` +
            `set ebs.snapshotId to a completed snapshot of that region (copy it there first if it lives elsewhere)`,
    };
}

/** AmiFromSnapshot's own create: RegisterImage (or adopt the image an interrupted run registered), then the shared finish. */
async function create(inputs: AmiFromSnapshotInputs): Promise<dynamic.CreateResult> {
    const client = ec2Client(inputs.region);
    const root = inputs.blockDeviceMappings.find((m) => m.deviceName === inputs.rootDeviceName)?.ebs?.snapshotId;
    const op = `registering AMI (${inputs.name}) from snapshot (${root ?? mappedSnapshotIds(inputs.blockDeviceMappings).join(", ")})`;
    let imageId: string;
    try {
        try {
            imageId = await registerImageFromSnapshots(client, inputs);
        } catch (e) {
            if (!hasCode(e, IMAGE_NAME_DUPLICATE)) throw e;
            // Ours only when it is live and boots from the same snapshot.
            const ours = (await findOwnImagesByName(client, inputs.name)).find(
                (i) => (i.State === "pending" || i.State === "available") && !!root && imageSnapshotIds(i).includes(root),
            );
            if (!ours?.ImageId) throw e;
            if (isFinishedCreate(ours)) throw keptImageError(op, ours);
            printProgress(`${op}: adopting ${ours.ImageId}, the image of this name an interrupted run left behind`);
            imageId = ours.ImageId;
        }
    } catch (e) {
        if (e instanceof KeptImageError) throw e;
        throw new OperationError(op, "RegisterImage", e, { region: inputs.region });
    }
    return finishCreate(
        client,
        imageId,
        inputs,
        op,
        inputs.createTimeoutMinutes ?? descriptor.createTimeoutMinutes,
        undefined,
        snapshotsOwned(descriptor, inputs),
    );
}

const hooks = imageHooks(descriptor, create, checkWithEc2);
export const { check, diff, read, update } = hooks;
export { create };
const remove = hooks.delete;
export { remove as delete };
