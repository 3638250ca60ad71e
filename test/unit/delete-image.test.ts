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

    it("leaves the snapshots that are not the image's own, without DeleteAssociatedSnapshots (which would take them all)", async () => {
        ec2.on(DeregisterImageCommand).resolves({});
        ec2.on(DeleteSnapshotCommand).resolves({});
        const keepSnapshots = new Map([[IMAGE.snapshotIds[1], "not the image's own: a user's snapshot"]]);
        const r = await deleteImageWithSnapshots(client, IMAGE, { deleteSnapshots: true, keepSnapshots, timeoutMinutes: 1 });
        assert.equal(ec2.commandCalls(DeregisterImageCommand)[0].args[0].input.DeleteAssociatedSnapshots, undefined);
        assert.deepEqual(
            ec2.commandCalls(DeleteSnapshotCommand).map((c) => c.args[0].input.SnapshotId),
            [IMAGE.snapshotIds[0]],
        );
        assert.deepEqual(r.snapshotsDeleted, [IMAGE.snapshotIds[0]]);
        assert.deepEqual(r.snapshotsKept, [
            { snapshotId: IMAGE.snapshotIds[1], reason: "not the image's own: a user's snapshot", notOwned: true },
        ]);
    });

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
        assert.deepEqual(r.snapshotsKept, [
            {
                snapshotId: "snap-00000000000000001",
                reason: "still used by ami-0fedcba9876543210",
                inUse: true,
                usedBy: "ami-0fedcba9876543210",
            },
        ]);
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

    describe("with DeleteAssociatedSnapshots", () => {
        const [SNAP1, SNAP2] = IMAGE.snapshotIds;

        it("deletes image and snapshots in one DeregisterImage call when EC2 deletes them all", async () => {
            ec2.on(DeregisterImageCommand).resolves({
                Return: true,
                DeleteSnapshotResults: [
                    { SnapshotId: SNAP1, ReturnCode: "success" },
                    { SnapshotId: SNAP2, ReturnCode: "success" },
                ],
            });
            const r = await deleteImageWithSnapshots(client, IMAGE, { deleteSnapshots: true, timeoutMinutes: 1 });
            assert.deepEqual(r, { deregistered: true, snapshotsDeleted: IMAGE.snapshotIds, snapshotsKept: [], deletedWithImage: true });
            assert.deepEqual(
                ec2.calls().map((c) => c.args[0].constructor.name),
                ["DeregisterImageCommand"],
            );
            assert.deepEqual(ec2.commandCalls(DeregisterImageCommand)[0].args[0].input, {
                ImageId: IMAGE.imageId,
                DeleteAssociatedSnapshots: true,
            });
        });

        it("keeps a snapshot EC2 skipped because another image uses it, without deleting or retrying it", async () => {
            ec2.on(DeregisterImageCommand).resolves({
                DeleteSnapshotResults: [
                    { SnapshotId: SNAP1, ReturnCode: "skipped" },
                    { SnapshotId: SNAP2, ReturnCode: "success" },
                ],
            });
            const r = await deleteImageWithSnapshots(client, IMAGE, { deleteSnapshots: true, timeoutMinutes: 1 });
            assert.deepEqual(r.snapshotsDeleted, [SNAP2]);
            assert.deepEqual(r.snapshotsKept, [{ snapshotId: SNAP1, reason: "still used by another image", inUse: true }]);
            assert.equal(ec2.commandCalls(DeleteSnapshotCommand).length, 0);
        });

        it("deletes one by one what EC2 reports it could not delete, and only that", async () => {
            ec2.on(DeregisterImageCommand).resolves({
                DeleteSnapshotResults: [
                    { SnapshotId: SNAP1, ReturnCode: "internal-error" },
                    { SnapshotId: SNAP2, ReturnCode: "success" },
                ],
            });
            ec2.on(DeleteSnapshotCommand).resolves({});
            const r = await deleteImageWithSnapshots(client, IMAGE, { deleteSnapshots: true, timeoutMinutes: 1 });
            assert.deepEqual([...r.snapshotsDeleted].sort(), [...IMAGE.snapshotIds].sort());
            assert.deepEqual(
                ec2.commandCalls(DeleteSnapshotCommand).map((c) => c.args[0].input.SnapshotId),
                [SNAP1],
            );
        });

        it("reports EC2's own error when the role may not delete snapshots (missing-permissions)", async () => {
            ec2.on(DeregisterImageCommand).resolves({
                DeleteSnapshotResults: [
                    { SnapshotId: SNAP1, ReturnCode: "missing-permissions" },
                    { SnapshotId: SNAP2, ReturnCode: "missing-permissions" },
                ],
            });
            ec2.on(DeleteSnapshotCommand).rejects(ec2Error("UnauthorizedOperation"));
            await assert.rejects(
                deleteImageWithSnapshots(client, IMAGE, { deleteSnapshots: true, timeoutMinutes: 1 }),
                /UnauthorizedOperation/,
            );
        });

        it("falls back to per-snapshot deletes, InUse retries included, when the endpoint ignores the parameter", async () => {
            ec2.on(DeregisterImageCommand).resolves({ Return: true }); // no DeleteSnapshotResults: moto
            ec2.on(DescribeImagesCommand).resolves({ Images: [] });
            ec2.on(DeleteSnapshotCommand).rejectsOnce(ec2Error("InvalidSnapshot.InUse")).resolves({});
            const r = await deleteImageWithSnapshots(client, IMAGE, { deleteSnapshots: true, timeoutMinutes: 1 });
            assert.deepEqual(r.snapshotsDeleted, IMAGE.snapshotIds);
            assert.equal(r.deletedWithImage, false);
            assert.equal(ec2.commandCalls(DeleteSnapshotCommand).length, 3, "one InUse retry, then one call each");
        });

        it("deregisters again without the parameter when the endpoint refuses it, then deletes the snapshots", async () => {
            ec2.on(DeregisterImageCommand, { DeleteAssociatedSnapshots: true }).rejects(ec2Error("UnknownParameter"));
            ec2.on(DeregisterImageCommand, { ImageId: IMAGE.imageId }, true).resolves({});
            ec2.on(DeleteSnapshotCommand).resolves({});
            const r = await deleteImageWithSnapshots(client, IMAGE, { deleteSnapshots: true, timeoutMinutes: 1 });
            assert.equal(r.deregistered, true);
            assert.deepEqual(r.snapshotsDeleted, IMAGE.snapshotIds);
            assert.deepEqual(
                ec2.commandCalls(DeregisterImageCommand).map((c) => c.args[0].input.DeleteAssociatedSnapshots),
                [true, undefined],
            );
        });

        it("deletes snapshots EC2 does not mention one by one", async () => {
            ec2.on(DeregisterImageCommand).resolves({ DeleteSnapshotResults: [{ SnapshotId: SNAP2, ReturnCode: "success" }] });
            ec2.on(DeleteSnapshotCommand).resolves({});
            const r = await deleteImageWithSnapshots(client, IMAGE, { deleteSnapshots: true, timeoutMinutes: 1 });
            assert.deepEqual([...r.snapshotsDeleted].sort(), [...IMAGE.snapshotIds].sort());
            assert.deepEqual(
                ec2.commandCalls(DeleteSnapshotCommand).map((c) => c.args[0].input.SnapshotId),
                [SNAP1],
            );
        });

        it("does not ask EC2 to delete snapshots when deleteSnapshots is off", async () => {
            ec2.on(DeregisterImageCommand).resolves({});
            const r = await deleteImageWithSnapshots(client, IMAGE, { deleteSnapshots: false, timeoutMinutes: 1 });
            assert.deepEqual(ec2.commandCalls(DeregisterImageCommand)[0].args[0].input, { ImageId: IMAGE.imageId });
            assert.deepEqual(
                r.snapshotsKept.map((k) => [k.snapshotId, k.inUse]),
                [
                    [SNAP1, undefined],
                    [SNAP2, undefined],
                ],
            );
            assert.equal(ec2.commandCalls(DeleteSnapshotCommand).length, 0);
        });

        it("never treats another refusal of DeregisterImage as a refused parameter", async () => {
            ec2.on(DeregisterImageCommand).rejects(ec2Error("InvalidParameterValue", "deregistration protection is enabled"));
            await assert.rejects(
                deleteImageWithSnapshots(client, IMAGE, { deleteSnapshots: true, timeoutMinutes: 1 }),
                /deregistration protection/,
            );
            assert.equal(ec2.commandCalls(DeregisterImageCommand).length, 1);
            assert.equal(ec2.commandCalls(DeleteSnapshotCommand).length, 0);
        });
    });
});
