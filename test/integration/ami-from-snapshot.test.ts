// AmiFromSnapshot's hooks through the real AWS SDK against moto: register an
// image from the user's snapshot, tag and share it, destroy it, and the
// snapshot is still there with the user's tags.
// Moto gap: its RegisterImage ignores RootDeviceName and BlockDeviceMappings
// and makes a snapshot of its own, so the mapping of exactly the given
// devices and snapshots is asserted by the unit test (the RegisterImage call)
// and by the e2e test on the emulator, not here.
import {
    CreateSnapshotCommand,
    CreateVolumeCommand,
    DeleteSnapshotCommand,
    DeleteVolumeCommand,
    DescribeImagesCommand,
    DescribeSnapshotsCommand,
    EC2Client,
} from "@aws-sdk/client-ec2";
import assert from "node:assert/strict";
import * as sinon from "sinon";
import * as hooks from "../../dynamic-providers/ami-from-snapshot-hooks";

const REGION = "us-east-1";

describe("AmiFromSnapshot against moto", () => {
    let ec2: EC2Client;
    let log: sinon.SinonStub;
    let volumeId: string;
    let snapshotId: string;

    before(async () => {
        ec2 = new EC2Client({ region: REGION });
        volumeId = (await ec2.send(new CreateVolumeCommand({ AvailabilityZone: `${REGION}a`, Size: 8 }))).VolumeId!;
        snapshotId = (
            await ec2.send(
                new CreateSnapshotCommand({
                    VolumeId: volumeId,
                    TagSpecifications: [{ ResourceType: "snapshot", Tags: [{ Key: "Owner", Value: "user" }] }],
                }),
            )
        ).SnapshotId!;
    });
    after(async () => {
        await ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId }));
        await ec2.send(new DeleteVolumeCommand({ VolumeId: volumeId }));
        ec2.destroy();
    });
    beforeEach(() => {
        log = sinon.stub(console, "log");
    });
    afterEach(() => log.restore());

    const snapshotTags = async () => (await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snapshotId] }))).Snapshots![0].Tags ?? [];

    it("refuses at preview a snapshot that does not exist in the region", async () => {
        const r = await hooks.check(
            {},
            {
                name: "integ-snap-missing",
                region: REGION,
                blockDeviceMappings: [{ deviceName: "/dev/xvda", ebs: { snapshotId: "snap-0123456789abcdef0" } }],
            },
        );
        assert.equal(r.failures?.[0]?.property, "blockDeviceMappings");
        assert.match(r.failures![0].reason, /snap-0123456789abcdef0 does not exist in us-east-1/);
    });

    it("registers from the snapshot, tags and shares the image, and destroy keeps the user's snapshot and its tags", async () => {
        const { inputs, failures } = await hooks.check(
            {},
            {
                name: "integ-from-snapshot",
                region: REGION,
                blockDeviceMappings: [{ deviceName: "/dev/xvda", ebs: { snapshotId, volumeType: "gp3" } }],
                tags: { App: "web" },
            },
        );
        assert.deepEqual(failures, []);
        const r = await hooks.create(inputs as never);
        const img = (await ec2.send(new DescribeImagesCommand({ ImageIds: [r.id] }))).Images![0];
        assert.equal(img.State, "available");
        assert.equal(img.Name, "integ-from-snapshot");
        // golden-ami's mark of a finished create (kept-image.ts).
        assert.deepEqual(Object.fromEntries(img.Tags!.map((t) => [t.Key, t.Value])), { App: "web", "golden-ami:create-finished": r.id });
        assert.deepEqual(await snapshotTags(), [{ Key: "Owner", Value: "user" }], "the user's snapshot is never retagged");

        const shared = await hooks.update(
            r.id,
            r.outs as never,
            {
                ...(inputs as never as Record<string, unknown>),
                tags: { App: "web", Version: "2" },
                launchPermissions: { userIds: ["111122223333"] },
            } as never,
        );
        const read = await hooks.read(r.id, shared.outs as never);
        assert.deepEqual(read.props?.launchPermissions, { userIds: ["111122223333"] });
        assert.deepEqual(read.props?.tags, { App: "web", Version: "2" });
        assert.deepEqual(await snapshotTags(), [{ Key: "Owner", Value: "user" }]);

        await hooks.delete(r.id, shared.outs as never);
        const gone = (
            await ec2.send(new DescribeImagesCommand({ Owners: ["self"], Filters: [{ Name: "name", Values: ["integ-from-snapshot"] }] }))
        ).Images;
        assert.deepEqual(gone?.filter((i) => i.State !== "deregistered") ?? [], []);
        assert.deepEqual(await snapshotTags(), [{ Key: "Owner", Value: "user" }], "destroy keeps the user's snapshot");
    });
});
