import { BlockDeviceMapping as Ec2BlockDeviceMapping, CreateImageCommand, EC2Client, TagSpecification } from "@aws-sdk/client-ec2";
import type * as dynamic from "@pulumi/pulumi/dynamic";
import type { BlockDeviceMapping } from "../sdk/types";
import { ec2Client } from "./ec2/client";
import { hasCode, OperationError } from "./ec2/errors";
import { findOwnImagesByName } from "./ec2/finders";
import { recordToTags } from "./ec2/image-lifecycle";
import { CREATE_IMAGE_TIMEOUT_MINUTES } from "./ec2/limits";
import { printProgress } from "./ec2/waiters";
import { deleteImage, finishCreate, ImageState, readImage, removeImageLeftBehind, updateImage } from "./image-resource";
import { AmiFromInstanceInputs } from "./ami-from-instance-checks";

export { AmiFromInstanceInputs, check, diff, REPLACE_KEYS } from "./ami-from-instance-checks";

function toEc2BlockDeviceMappings(mappings: BlockDeviceMapping[] | undefined): Ec2BlockDeviceMapping[] | undefined {
    if (!mappings?.length) return undefined;
    return mappings.map((m) => ({
        DeviceName: m.deviceName,
        ...(m.noDevice ? { NoDevice: "" } : {}),
        ...(m.virtualName ? { VirtualName: m.virtualName } : {}),
        ...(m.ebs
            ? {
                  Ebs: {
                      VolumeSize: m.ebs.volumeSize,
                      VolumeType: m.ebs.volumeType as NonNullable<Ec2BlockDeviceMapping["Ebs"]>["VolumeType"],
                      Iops: m.ebs.iops,
                      Throughput: m.ebs.throughput,
                      DeleteOnTermination: m.ebs.deleteOnTermination,
                      Encrypted: m.ebs.encrypted,
                  },
              }
            : {}),
    }));
}

/** Image tags go on at create; snapshot tags once the snapshots exist (finishCreate). */
function tagSpecifications(inputs: AmiFromInstanceInputs): TagSpecification[] | undefined {
    if (Object.keys(inputs.tags ?? {}).length === 0) return undefined;
    return [{ ResourceType: "image", Tags: recordToTags(inputs.tags) }];
}

/**
 * CreateImage; when EC2 says the name is taken by an image of ours made from
 * the same instance (left by an interrupted run), that image is adopted
 * instead of making a second one.
 */
async function createOrAdopt(client: EC2Client, inputs: AmiFromInstanceInputs, op: string): Promise<string> {
    const request = new CreateImageCommand({
        InstanceId: inputs.sourceInstanceId,
        Name: inputs.name,
        Description: inputs.description,
        NoReboot: inputs.snapshotWithoutReboot,
        BlockDeviceMappings: toEc2BlockDeviceMappings(inputs.blockDeviceMappings),
        TagSpecifications: tagSpecifications(inputs),
    });
    try {
        const out = await client.send(request);
        return out.ImageId!;
    } catch (e) {
        if (!hasCode(e, "InvalidAMIName.Duplicate")) throw e;
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
        const out = await client.send(request);
        return out.ImageId!;
    }
}

export async function create(inputs: AmiFromInstanceInputs): Promise<dynamic.CreateResult> {
    const client = ec2Client(inputs.region);
    const op = `creating AMI (${inputs.name}) from instance (${inputs.sourceInstanceId})`;
    let imageId: string;
    try {
        imageId = await createOrAdopt(client, inputs, op);
    } catch (e) {
        throw new OperationError(op, "CreateImage", e);
    }
    return finishCreate(client, imageId, inputs, op, inputs.createTimeoutMinutes ?? CREATE_IMAGE_TIMEOUT_MINUTES);
}

export async function read(id: string, props: ImageState<AmiFromInstanceInputs>): Promise<dynamic.ReadResult> {
    return readImage(id, props);
}

export async function update(
    id: string,
    olds: ImageState<AmiFromInstanceInputs>,
    news: AmiFromInstanceInputs,
): Promise<dynamic.UpdateResult> {
    return updateImage(id, olds, news, CREATE_IMAGE_TIMEOUT_MINUTES);
}

export { deleteImage as delete };
