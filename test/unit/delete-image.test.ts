import { DeleteSnapshotCommand, DeregisterImageCommand, DescribeImagesCommand, EC2Client } from "@aws-sdk/client-ec2";
import { mockClient } from "aws-sdk-client-mock";
import assert from "node:assert/strict";
import { deleteImageWithSnapshots, SnapshotStillInUseError } from "../../dynamic-providers/ec2/delete-image";
import { ec2Error } from "../support/aws-errors";

const ec2 = mockClient(EC2Client);
const client = new EC2Client({ region: "us-east-1" });
const IMAGE = { imageId: "ami-0123456789abcdef0", snapshotIds: ["snap-00000000000000001", "snap-00000000000000002"] };

describe("deleting an image with its snapshots", () => {
    before(() => {
        process.env.GOLDEN_AMI_POLL_SCALE = "0.001";
    });
    after(() => {
        delete process.env.GOLDEN_AMI_POLL_SCALE;
    });
    beforeEach(() => ec2.reset());

    it("retries InvalidSnapshot.InUse right after deregistration until the snapshot is free", async () => {
        ec2.on(DeregisterImageCommand).resolves({});
        ec2.on(DescribeImagesCommand).resolves({ Images: [] });
        ec2.on(DeleteSnapshotCommand)
            .rejectsOnce(ec2Error("InvalidSnapshot.InUse"))
            .rejectsOnce(ec2Error("InvalidSnapshot.InUse"))
            .resolves({});
        const r = await deleteImageWithSnapshots(client, IMAGE, { deleteSnapshots: true, timeoutMinutes: 1 });
        assert.deepEqual(r.snapshotsDeleted, IMAGE.snapshotIds);
        assert.equal(ec2.commandCalls(DeleteSnapshotCommand).length, 4);
    });

    it("never deletes a snapshot another image still uses", async () => {
        ec2.on(DeregisterImageCommand).resolves({});
        ec2.on(DeleteSnapshotCommand, { SnapshotId: "snap-00000000000000001" }).rejects(ec2Error("InvalidSnapshot.InUse"));
        ec2.on(DeleteSnapshotCommand, { SnapshotId: "snap-00000000000000002" }).resolves({});
        ec2.on(DescribeImagesCommand).resolves({
            Images: [
                {
                    ImageId: "ami-0fedcba9876543210",
                    State: "available",
                    BlockDeviceMappings: [{ Ebs: { SnapshotId: "snap-00000000000000001" } }],
                },
            ],
        });
        const r = await deleteImageWithSnapshots(client, IMAGE, { deleteSnapshots: true, timeoutMinutes: 1 });
        assert.deepEqual(r.snapshotsDeleted, ["snap-00000000000000002"]);
        assert.deepEqual(r.snapshotsKept, [{ snapshotId: "snap-00000000000000001", reason: "still used by ami-0fedcba9876543210" }]);
        assert.equal(ec2.commandCalls(DeleteSnapshotCommand, { SnapshotId: "snap-00000000000000001" }).length, 1);
        const filter = ec2.commandCalls(DescribeImagesCommand)[0].args[0].input.Filters;
        assert.deepEqual(filter, [{ Name: "block-device-mapping.snapshot-id", Values: ["snap-00000000000000001"] }]);
    });

    it("fails, naming the snapshots, when they stay in use past the limit", async () => {
        ec2.on(DeregisterImageCommand).resolves({});
        ec2.on(DescribeImagesCommand).resolves({ Images: [] });
        ec2.on(DeleteSnapshotCommand).rejects(ec2Error("InvalidSnapshot.InUse"));
        await assert.rejects(
            deleteImageWithSnapshots(client, IMAGE, { deleteSnapshots: true, timeoutMinutes: 0.001 }),
            (e: unknown) => e instanceof SnapshotStillInUseError && e.snapshotIds.length === 2,
        );
    });

    it("counts snapshots and images already gone as done", async () => {
        ec2.on(DeregisterImageCommand).rejects(ec2Error("InvalidAMIID.NotFound"));
        ec2.on(DeleteSnapshotCommand).rejects(ec2Error("InvalidSnapshot.NotFound"));
        const r = await deleteImageWithSnapshots(client, IMAGE, { deleteSnapshots: true, timeoutMinutes: 1 });
        assert.equal(r.deregistered, false);
        assert.deepEqual(r.snapshotsDeleted, IMAGE.snapshotIds);
    });

    it("passes on other errors at once", async () => {
        ec2.on(DeregisterImageCommand).resolves({});
        ec2.on(DeleteSnapshotCommand).rejects(ec2Error("UnauthorizedOperation"));
        await assert.rejects(
            deleteImageWithSnapshots(client, IMAGE, { deleteSnapshots: true, timeoutMinutes: 1 }),
            /UnauthorizedOperation/,
        );
        assert.equal(ec2.commandCalls(DeleteSnapshotCommand).length, 1);
    });
});
