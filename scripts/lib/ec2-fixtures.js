// What the demo and the tests need in a fresh emulator: a source instance,
// and a sweep of what is left afterwards.
"use strict";

const {
    CreateSnapshotCommand,
    DeleteSnapshotCommand,
    CreateVolumeCommand,
    EC2Client,
    paginateDescribeImages,
    paginateDescribeSnapshots,
    RegisterImageCommand,
    RunInstancesCommand,
    waitUntilImageAvailable,
    waitUntilImageExists,
} = require("@aws-sdk/client-ec2");

/**
 * How long a just-registered image may stay invisible before RunInstances.
 * EC2 is eventually consistent: a new id can answer InvalidAMIID.NotFound
 * for a while ("Eventual consistency in the Amazon EC2 API" says to describe
 * with backoff "up to a few minutes"); the SDK's ImageExists waiter retries it.
 */
const IMAGE_VISIBLE_SECONDS = 300;

/**
 * Registers a small base image and launches an instance from it, the way a
 * golden-image pipeline starts from a vendor AMI. Returns their ids.
 * @param {string} region
 * @param {{ name?: string, dataVolumes?: number[] }} [options] dataVolumes: sizes in GiB of EBS volumes beside the root
 * @returns {Promise<{ instanceId: string, baseImageId: string, baseSnapshotId: string }>}
 */
async function createSourceInstance(region, { name = "golden-ami-base", dataVolumes = [] } = {}) {
    const ec2 = new EC2Client({ region });
    try {
        const volume = await ec2.send(new CreateVolumeCommand({ AvailabilityZone: `${region}a`, Size: 8 }));
        const snapshot = await ec2.send(new CreateSnapshotCommand({ VolumeId: volume.VolumeId, Description: "base image root" }));
        const base = await ec2.send(
            new RegisterImageCommand({
                Name: `${name}-${Date.now()}`,
                RootDeviceName: "/dev/xvda",
                Architecture: "x86_64",
                VirtualizationType: "hvm",
                BlockDeviceMappings: [{ DeviceName: "/dev/xvda", Ebs: { SnapshotId: snapshot.SnapshotId } }],
            }),
        );
        // Visible first (the ImageExists waiter retries InvalidAMIID.NotFound), then available:
        // RunInstances refuses an image that is still pending, as EC2 does.
        await waitUntilImageExists(
            { client: ec2, maxWaitTime: IMAGE_VISIBLE_SECONDS, minDelay: 1, maxDelay: 5 },
            { ImageIds: [base.ImageId] },
        );
        await waitUntilImageAvailable(
            { client: ec2, maxWaitTime: IMAGE_VISIBLE_SECONDS, minDelay: 1, maxDelay: 5 },
            { ImageIds: [base.ImageId] },
        );
        // Data volumes beside the root (/dev/sdf, /dev/sdg, ...): their images have a snapshot each.
        const BlockDeviceMappings = dataVolumes.map((size, i) => ({
            DeviceName: `/dev/sd${String.fromCharCode(102 + i)}`,
            Ebs: { VolumeSize: size, VolumeType: "gp3", DeleteOnTermination: true },
        }));
        const run = await ec2.send(
            new RunInstancesCommand({
                ImageId: base.ImageId,
                InstanceType: "t3.micro",
                MinCount: 1,
                MaxCount: 1,
                ...(BlockDeviceMappings.length ? { BlockDeviceMappings } : {}),
            }),
        );
        return { instanceId: run.Instances[0].InstanceId, baseImageId: base.ImageId, baseSnapshotId: snapshot.SnapshotId };
    } finally {
        ec2.destroy();
    }
}

/**
 * @typedef {{ id: string, name?: string, state?: string }} ImageRef
 * @typedef {{ id: string, description?: string }} SnapshotRef
 * @typedef {{ images: ImageRef[], snapshots: SnapshotRef[] }} Inventory
 */

/**
 * Every image and snapshot this account has in `region`.
 * @param {string} region
 * @returns {Promise<Inventory>}
 */
async function inventory(region) {
    const ec2 = new EC2Client({ region });
    try {
        // Every page: EC2 pages both listings (NextToken), and so does the emulator.
        const images = [];
        for await (const page of paginateDescribeImages({ client: ec2 }, { Owners: ["self"] })) images.push(...(page.Images ?? []));
        const snapshots = [];
        for await (const page of paginateDescribeSnapshots({ client: ec2 }, { OwnerIds: ["self"] }))
            snapshots.push(...(page.Snapshots ?? []));
        return {
            images: images.filter((i) => i.State !== "deregistered").map((i) => ({ id: i.ImageId ?? "", name: i.Name, state: i.State })),
            snapshots: snapshots.map((s) => ({ id: s.SnapshotId ?? "", description: s.Description })),
        };
    } finally {
        ec2.destroy();
    }
}

/**
 * What `after` has that `before` had not: images and snapshots left behind.
 * @param {Inventory} before
 * @param {Inventory} after
 * @returns {Inventory}
 */
function leftBehind(before, after) {
    const had = new Set([...before.images.map((i) => i.id), ...before.snapshots.map((s) => s.id)]);
    return {
        images: after.images.filter((i) => !had.has(i.id)),
        snapshots: after.snapshots.filter((s) => !had.has(s.id)),
    };
}

/**
 * Deletes a snapshot the way a script must on EC2: right after its image is
 * deregistered, DeleteSnapshot may still answer InvalidSnapshot.InUse for a
 * moment, so that answer is retried a few times.
 * @param {EC2Client} ec2
 * @param {string} snapshotId
 */
async function deleteSnapshotWhenFreed(ec2, snapshotId) {
    for (let attempt = 1; ; attempt++) {
        try {
            await ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId }));
            return;
        } catch (e) {
            if (e.name !== "InvalidSnapshot.InUse" || attempt >= 5) throw e;
            await new Promise((r) => setTimeout(r, 500));
        }
    }
}

/**
 * An image of one new 1 GiB snapshot, registered with `client` (any account's
 * credentials) and waited for until available. Returns its id.
 * @param {EC2Client} client
 * @param {string} region
 * @param {string} name
 * @returns {Promise<string>}
 */
async function registerSnapshotImage(client, region, name) {
    const volume = await client.send(new CreateVolumeCommand({ AvailabilityZone: `${region}a`, Size: 1 }));
    const snapshot = await client.send(new CreateSnapshotCommand({ VolumeId: volume.VolumeId }));
    const { ImageId } = await client.send(
        new RegisterImageCommand({
            Name: name,
            RootDeviceName: "/dev/xvda",
            Architecture: "x86_64",
            VirtualizationType: "hvm",
            BlockDeviceMappings: [{ DeviceName: "/dev/xvda", Ebs: { SnapshotId: snapshot.SnapshotId } }],
        }),
    );
    if (!ImageId) throw new Error(`RegisterImage of ${name} in ${region} answered no image id`);
    await waitUntilImageAvailable({ client, maxWaitTime: 120, minDelay: 1, maxDelay: 2 }, { ImageIds: [ImageId] });
    return ImageId;
}

module.exports = { createSourceInstance, deleteSnapshotWhenFreed, inventory, leftBehind, registerSnapshotImage };
