import {
    DescribeImageAttributeCommand,
    DescribeImagesCommand,
    DescribeInstancesCommand,
    DescribeSnapshotsCommand,
    DescribeVolumesCommand,
    EC2Client,
    Filter,
    Image,
    Instance,
    LaunchPermission,
    paginateDescribeImages,
    paginateDescribeSnapshots,
    Snapshot,
} from "@aws-sdk/client-ec2";
import type { InstanceVolume } from "../../sdk/rules/block-devices";
import { tagsToRecord } from "./converters";
import { isNotFoundCode, NotFoundError } from "./errors";

/**
 * Finders: every EC2 lookup of golden-ami goes through here. A missing or
 * deregistered image is a typed NotFoundError, never an empty result.
 */

/** The image with this id; NotFoundError when EC2 does not know it or it is deregistered. */
export async function findImageById(client: EC2Client, imageId: string): Promise<Image> {
    let images: Image[];
    try {
        const out = await client.send(new DescribeImagesCommand({ ImageIds: [imageId], IncludeDeprecated: true, IncludeDisabled: true }));
        images = out.Images ?? [];
    } catch (e) {
        if (isNotFoundCode(e, "image")) {
            throw new NotFoundError("AMI", imageId, { cause: e });
        }
        throw e;
    }
    // EC2 answers an id lookup with that id only; anything else is not ours.
    const image = images.find((i) => i.ImageId === imageId);
    if (!image || image.State === "deregistered") throw new NotFoundError("AMI", imageId);
    return image;
}

/** Images of `owners` matching all filters, across every page. */
export async function describeImages(client: EC2Client, filters: Filter[], owners: string[] = ["self"]): Promise<Image[]> {
    return describeImagesAs(client, filters, owners, (i) => i);
}

/**
 * The same listing, each image converted as its page arrives: a large
 * account's SDK image objects (block devices, tags, ...) are never all held
 * at once, only what `convert` keeps of them. Pages of 500: the SDK parses a
 * page's XML whole, and a page of 1,000 images is ~1.5 MB of it (measured:
 * the dynamic provider's peak RSS over 10,000 images fell from 301–329 MB to
 * 294 MB with pages of 500 and 8 attribute reads at a time); the extra calls
 * fall in the describe bucket's burst.
 */
export async function describeImagesAs<T>(
    client: EC2Client,
    filters: Filter[],
    owners: string[],
    convert: (image: Image) => T,
): Promise<T[]> {
    const out: T[] = [];
    const pages = paginateDescribeImages(
        { client, pageSize: 500 },
        { Owners: owners, Filters: filters, IncludeDeprecated: true, IncludeDisabled: true },
    );
    for await (const page of pages) for (const image of page.Images ?? []) if (image.State !== "deregistered") out.push(convert(image));
    return out;
}

/** Images owned by this account with exactly this name (names are unique per region). */
export async function findOwnImagesByName(client: EC2Client, name: string): Promise<Image[]> {
    return describeImages(client, [{ Name: "name", Values: [name] }]);
}

/** Images owned by this account whose block devices use any of these snapshots. */
export async function findOwnImagesUsingSnapshots(client: EC2Client, snapshotIds: string[]): Promise<Image[]> {
    if (snapshotIds.length === 0) return [];
    return describeImages(client, [{ Name: "block-device-mapping.snapshot-id", Values: snapshotIds }]);
}

/** Who may launch the image, as EC2 lists it. */
export async function findLaunchPermissions(client: EC2Client, imageId: string): Promise<LaunchPermission[]> {
    try {
        const out = await client.send(new DescribeImageAttributeCommand({ ImageId: imageId, Attribute: "launchPermission" }));
        return out.LaunchPermissions ?? [];
    } catch (e) {
        if (isNotFoundCode(e, "image")) {
            throw new NotFoundError("AMI", imageId, { cause: e });
        }
        throw e;
    }
}

/**
 * The image if this account owns it and it is not deregistered, else
 * undefined (another account's image and an unknown id look the same).
 */
export async function findOwnImageById(client: EC2Client, imageId: string): Promise<Image | undefined> {
    try {
        const out = await client.send(
            new DescribeImagesCommand({ ImageIds: [imageId], Owners: ["self"], IncludeDeprecated: true, IncludeDisabled: true }),
        );
        return out.Images?.find((i) => i.ImageId === imageId && i.State !== "deregistered");
    } catch (e) {
        if (isNotFoundCode(e, "image")) return undefined;
        throw e;
    }
}

/** These snapshots as EC2 describes them. */
export async function findSnapshots(client: EC2Client, snapshotIds: string[]): Promise<Snapshot[]> {
    if (snapshotIds.length === 0) return [];
    const out = await client.send(new DescribeSnapshotsCommand({ SnapshotIds: snapshotIds }));
    return out.Snapshots ?? [];
}

/** Snapshot ids a `snapshot-id` filter takes at once (EC2 documents no limit on filter values; this keeps requests small). */
const SNAPSHOT_IDS_PER_CALL = 200;

/**
 * These snapshots' tags, by id: this account's, filtered by id (a snapshot
 * EC2 does not list, gone meanwhile, is left out: a filter, unlike
 * SnapshotIds, never fails the call for one unknown id), every page.
 */
export async function findSnapshotTags(client: EC2Client, snapshotIds: readonly string[]): Promise<Map<string, Record<string, string>>> {
    const out = new Map<string, Record<string, string>>();
    const ids = [...new Set(snapshotIds)];
    for (let i = 0; i < ids.length; i += SNAPSHOT_IDS_PER_CALL) {
        const pages = paginateDescribeSnapshots(
            { client },
            { OwnerIds: ["self"], Filters: [{ Name: "snapshot-id", Values: ids.slice(i, i + SNAPSHOT_IDS_PER_CALL) }] },
        );
        for await (const page of pages) for (const s of page.Snapshots ?? []) if (s.SnapshotId) out.set(s.SnapshotId, tagsToRecord(s.Tags));
    }
    return out;
}

/**
 * The instance with this id and its EBS volumes by device (DescribeInstances,
 * then DescribeVolumes); NotFoundError when EC2 does not know it or it is
 * terminated (a terminated instance can no longer be imaged).
 */
export async function findInstanceWithVolumes(
    client: EC2Client,
    instanceId: string,
    /** `volumes: false`: only the instance (one call), when nothing is checked against its volumes. */
    options: { volumes?: boolean } = {},
): Promise<{ instance: Instance; volumes: InstanceVolume[] }> {
    let instance: Instance | undefined;
    try {
        const out = await client.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
        instance = out.Reservations?.flatMap((r) => r.Instances ?? []).find((i) => i.InstanceId === instanceId);
    } catch (e) {
        if (isNotFoundCode(e, "instance")) throw new NotFoundError("instance", instanceId, { cause: e });
        throw e;
    }
    if (!instance || instance.State?.Name === "terminated") throw new NotFoundError("instance", instanceId);
    const devices = (instance.BlockDeviceMappings ?? []).filter((m) => m.DeviceName && m.Ebs?.VolumeId);
    if (devices.length === 0 || options.volumes === false) return { instance, volumes: [] };
    const out = await client.send(new DescribeVolumesCommand({ VolumeIds: devices.map((m) => m.Ebs!.VolumeId!) }));
    const byId = new Map((out.Volumes ?? []).map((v) => [v.VolumeId, v]));
    const volumes = devices.map((m) => {
        const v = byId.get(m.Ebs!.VolumeId!);
        return {
            deviceName: m.DeviceName!,
            volumeId: m.Ebs!.VolumeId!,
            size: v?.Size,
            volumeType: v?.VolumeType,
            encrypted: v?.Encrypted,
            iops: v?.Iops,
            throughput: v?.Throughput,
        };
    });
    return { instance, volumes };
}

/** The snapshots of these ids that still exist (a deleted one is left out, never an error). */
export async function findExistingSnapshotIds(client: EC2Client, snapshotIds: string[]): Promise<string[]> {
    const found: string[] = [];
    // One id a call: DescribeSnapshots fails the whole call when any id is unknown.
    for (const id of snapshotIds) {
        try {
            const out = await client.send(new DescribeSnapshotsCommand({ SnapshotIds: [id] }));
            if ((out.Snapshots ?? []).some((s) => s.SnapshotId === id)) found.push(id);
        } catch (e) {
            if (!isNotFoundCode(e, "snapshot")) throw e;
        }
    }
    return found;
}
