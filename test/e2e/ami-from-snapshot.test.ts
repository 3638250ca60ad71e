// AmiFromSnapshot under the real `pulumi` CLI, from a project that installs
// the packed package, against the emulator (moto behind the EC2 proxy):
// register from the user's snapshot, tag, share, destroy keeps the snapshot.
import {
    CreateSnapshotCommand,
    CreateVolumeCommand,
    DeleteVolumeCommand,
    DescribeImageAttributeCommand,
    DescribeImagesCommand,
    DescribeSnapshotsCommand,
    EC2Client,
} from "@aws-sdk/client-ec2";
import assert from "node:assert/strict";
import { Ec2Proxy, startEc2Proxy } from "../../emulator/ec2-proxy";
import { motoEnv } from "../../scripts/lib/moto";
import { deleteSnapshotWhenFreed } from "../../scripts/lib/ec2-fixtures";
import { newStack, Stack } from "../support/consumer";
import { currentMoto } from "../support/moto-hooks";
import { sweepAfterSuite } from "../support/sweep-teardown";

const REGION = "us-east-1";
const SHARE_WITH = "111122223333";

describe("AmiFromSnapshot end to end (real pulumi CLI, packed package, emulator)", () => {
    let proxy: Ec2Proxy;
    let stack: Stack;
    let ec2: EC2Client;
    let volumeId: string;
    let snapshotId: string;
    let imageId: string;

    before(async () => {
        proxy = await startEc2Proxy({ target: currentMoto().endpoint });
        const env = motoEnv(proxy.endpoint, REGION);
        ec2 = new EC2Client({ region: REGION, endpoint: proxy.endpoint });
        volumeId = (await ec2.send(new CreateVolumeCommand({ AvailabilityZone: `${REGION}a`, Size: 8 }))).VolumeId!;
        snapshotId = (
            await ec2.send(
                new CreateSnapshotCommand({
                    VolumeId: volumeId,
                    TagSpecifications: [{ ResourceType: "snapshot", Tags: [{ Key: "Owner", Value: "user" }] }],
                }),
            )
        ).SnapshotId!;
        stack = await newStack("ami-from-snapshot", "e2e", { ...env, GOLDEN_AMI_POLL_SCALE: "0.01" });
        await stack.config({ "aws:region": REGION, snapshotId });
    });
    after(async () => {
        await deleteSnapshotWhenFreed(ec2, snapshotId);
        await ec2.send(new DeleteVolumeCommand({ VolumeId: volumeId }));
        ec2.destroy();
        await proxy.stop();
    });

    const snapshot = async () => (await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snapshotId] }))).Snapshots![0];

    it("pulumi up registers the image from exactly the given snapshot, tags the image and leaves the snapshot's tags alone", async () => {
        await stack.run(["up", "--yes", "--skip-preview"]);
        const out = await stack.outputs();
        imageId = out.imageId as string;
        assert.match(imageId, /^ami-/);
        const img = (await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images![0];
        assert.equal(img.State, "available");
        assert.deepEqual(img.Tags, [
            { Key: "App", Value: "restored" },
            { Key: "Version", Value: "1" },
            // golden-ami's mark of what it made (the image, never the user's snapshot) ...
            { Key: "golden-ami:owner", Value: "e2e-ami-from-snapshot/e2e/AmiFromSnapshot/restored" },
            // ... and of a finished create (a kept image is never adopted silently).
            { Key: "golden-ami:create-finished", Value: imageId },
        ]);
        assert.equal(img.RootDeviceName, "/dev/xvda");
        assert.deepEqual(
            img.BlockDeviceMappings!.map((m) => [m.DeviceName, m.Ebs?.SnapshotId]),
            [["/dev/xvda", snapshotId]],
            "RegisterImage maps exactly the devices and snapshots given",
        );
        assert.deepEqual(out.snapshotIds, [snapshotId]);
        assert.deepEqual((await snapshot()).Tags, [{ Key: "Owner", Value: "user" }]);
    });

    it("pulumi up shares the image and changes its tags in place, keeping the same image", async () => {
        await stack.config({ version: "2", shareWith: SHARE_WITH });
        await stack.run(["up", "--yes", "--skip-preview"]);
        assert.equal((await stack.outputs()).imageId, imageId);
        const img = (await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images![0];
        assert.ok(img.Tags!.some((t) => t.Key === "Version" && t.Value === "2"));
        const perms = await ec2.send(new DescribeImageAttributeCommand({ ImageId: imageId, Attribute: "launchPermission" }));
        assert.deepEqual(
            perms.LaunchPermissions?.map((p) => p.UserId),
            [SHARE_WITH],
        );
        assert.deepEqual((await snapshot()).Tags, [{ Key: "Owner", Value: "user" }]);
    });

    it("pulumi destroy deregisters the image and keeps the user's snapshot", async () => {
        await stack.run(["destroy", "--yes", "--skip-preview"]);
        const left = await ec2.send(new DescribeImagesCommand({ Owners: ["self"], Filters: [{ Name: "image-id", Values: [imageId] }] }));
        assert.deepEqual(
            (left.Images ?? []).filter((i) => i.State !== "deregistered"),
            [],
        );
        const kept = await snapshot();
        assert.equal(kept.SnapshotId, snapshotId);
        assert.deepEqual(kept.Tags, [{ Key: "Owner", Value: "user" }]);
    });

    // Last, so it runs after the suite's own teardown.
    sweepAfterSuite([REGION]);
});
