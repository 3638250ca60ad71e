import { CopyImageCommand, CreateImageCommand, EC2Client, RegisterImageCommand, TagSpecification } from "@aws-sdk/client-ec2";
import type { BlockDeviceMapping, EbsBlockDevice } from "../../sdk/types";
import { recordToTags, toEc2BlockDeviceMappings } from "./converters";

/**
 * The EC2 calls that make a new image, one per image kind. Each takes
 * golden-ami's plain shapes and returns the new image's id; waiting and the
 * settings EC2 cannot take at create time are the shared lifecycle's job.
 */

/** Image tags go on at create; snapshot tags once the snapshots exist. */
function imageTagSpecifications(tags: Record<string, string> | undefined): TagSpecification[] | undefined {
    if (Object.keys(tags ?? {}).length === 0) return undefined;
    return [{ ResourceType: "image", Tags: recordToTags(tags) }];
}

export interface CreateImageSpec {
    instanceId: string;
    name: string;
    description?: string;
    noReboot?: boolean;
    blockDeviceMappings?: BlockDeviceMapping[];
    tags?: Record<string, string>;
}

/** CreateImage from an instance. */
export async function createImageFromInstance(client: EC2Client, spec: CreateImageSpec): Promise<string> {
    const out = await client.send(
        new CreateImageCommand({
            InstanceId: spec.instanceId,
            Name: spec.name,
            Description: spec.description,
            NoReboot: spec.noReboot,
            BlockDeviceMappings: toEc2BlockDeviceMappings(spec.blockDeviceMappings),
            TagSpecifications: imageTagSpecifications(spec.tags),
        }),
    );
    return out.ImageId!;
}

export interface CopyImageSpec {
    sourceImageId: string;
    sourceRegion: string;
    name: string;
    description?: string;
    encrypted?: boolean;
    kmsKeyId?: string;
    copyImageTags?: boolean;
    /** Idempotency token: the same token with the same parameters never makes a second copy. */
    clientToken: string;
    tags?: Record<string, string>;
}

/** CopyImage into the client's region. */
export async function copyImage(client: EC2Client, spec: CopyImageSpec): Promise<string> {
    const out = await client.send(
        new CopyImageCommand({
            SourceImageId: spec.sourceImageId,
            SourceRegion: spec.sourceRegion,
            Name: spec.name,
            Description: spec.description,
            Encrypted: spec.encrypted || undefined,
            KmsKeyId: spec.kmsKeyId,
            CopyImageTags: spec.copyImageTags || undefined,
            ClientToken: spec.clientToken,
            TagSpecifications: imageTagSpecifications(spec.tags),
        }),
    );
    return out.ImageId!;
}

export interface RegisterImageSpec {
    name: string;
    description?: string;
    rootDeviceName: string;
    /** The devices, EBS ones with the snapshot each starts from. */
    blockDeviceMappings: (BlockDeviceMapping & { ebs?: EbsBlockDevice & { snapshotId?: string } })[];
    architecture: string;
    bootMode?: string;
    enaSupport?: boolean;
    imdsSupport?: string;
    tpmSupport?: string;
    virtualizationType: string;
    tags?: Record<string, string>;
}

/** RegisterImage from EBS snapshots: the image maps exactly the devices and snapshots given. */
export async function registerImageFromSnapshots(client: EC2Client, spec: RegisterImageSpec): Promise<string> {
    const mappings = toEc2BlockDeviceMappings(spec.blockDeviceMappings) ?? [];
    const out = await client.send(
        new RegisterImageCommand({
            Name: spec.name,
            Description: spec.description,
            RootDeviceName: spec.rootDeviceName,
            BlockDeviceMappings: mappings.map((m, i) => {
                const snapshotId = spec.blockDeviceMappings[i].ebs?.snapshotId;
                return snapshotId ? { ...m, Ebs: { ...m.Ebs, SnapshotId: snapshotId } } : m;
            }),
            Architecture: spec.architecture as RegisterImageCommand["input"]["Architecture"],
            BootMode: spec.bootMode as RegisterImageCommand["input"]["BootMode"],
            EnaSupport: spec.enaSupport,
            ImdsSupport: spec.imdsSupport as RegisterImageCommand["input"]["ImdsSupport"],
            TpmSupport: spec.tpmSupport as RegisterImageCommand["input"]["TpmSupport"],
            VirtualizationType: spec.virtualizationType,
            TagSpecifications: imageTagSpecifications(spec.tags),
        }),
    );
    return out.ImageId!;
}
