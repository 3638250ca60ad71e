// How many EC2 calls an image's life costs, counted by the test proxy
// (emulator/ec2-proxy.ts) in front of moto, through the providers' own paced
// client. Moto ignores DeregisterImage's DeleteAssociatedSnapshots (its
// DeregisterImage reads only ImageId and answers no DeleteSnapshotResults), so
// those runs take the fallback path: one DeleteSnapshot per snapshot after the
// deregistration. With the proxy's `deleteAssociatedSnapshots` it honours the
// parameter as EC2 documents, and that call is not made. (A snapshot shared by
// two images cannot be made in moto: RegisterImage makes its own snapshot, so
// keeping a shared one is covered by test/unit/delete-image.test.ts.)
import {
    CreateImageCommand,
    DeleteSnapshotCommand,
    DeleteVolumeCommand,
    DeregisterImageCommand,
    DescribeImagesCommand,
    DescribeSnapshotsCommand,
    EC2Client,
    TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import type { FinalizeRequestMiddleware } from "@smithy/types";
import assert from "node:assert/strict";
import * as sinon from "sinon";
import * as hooks from "../../dynamic-providers/ami-from-instance-hooks";
import { ec2Client } from "../../dynamic-providers/ec2/client";
import { deleteImageWithSnapshots } from "../../dynamic-providers/ec2/delete-image";
import { Ec2Proxy, startEc2Proxy } from "../../emulator/ec2-proxy";
import { createSourceInstance, inventory, leftBehind } from "../../scripts/lib/ec2-fixtures";
import { currentMoto } from "../support/moto-hooks";

// A region no other test's provider client uses: the providers keep one client
// per region for the process, and this one must go through the proxy.
const REGION = "eu-north-1";

describe("EC2 calls per image life, counted against moto", () => {
    let direct: EC2Client; // straight to moto: setup and cleanup
    let proxy: Ec2Proxy;
    let source: { instanceId: string; baseImageId: string; baseSnapshotId: string };
    let before0: Awaited<ReturnType<typeof inventory>>;
    let savedEndpoint: string | undefined;
    const sent: { action: string; input: Record<string, unknown> }[] = [];
    let log: sinon.SinonStub;

    before(async () => {
        direct = new EC2Client({ region: REGION, endpoint: currentMoto().endpoint });
        before0 = await inventory(REGION);
        const made = await createSourceInstance(REGION, { name: "calls-test-base" });
        source = { instanceId: made.instanceId!, baseImageId: made.baseImageId!, baseSnapshotId: made.baseSnapshotId! };
        proxy = await startEc2Proxy({ target: currentMoto().endpoint });
        savedEndpoint = process.env.AWS_ENDPOINT_URL_EC2;
        process.env.AWS_ENDPOINT_URL_EC2 = proxy.endpoint;
        // What the providers' client sends, attempt by attempt, next to the proxy's count.
        const record: FinalizeRequestMiddleware<object, object> = (next, context) => async (args) => {
            sent.push({ action: String(context.commandName).replace(/Command$/, ""), input: args.input as Record<string, unknown> });
            return next(args);
        };
        ec2Client(REGION).middlewareStack.addRelativeTo(record as never, {
            name: "countCalls",
            relation: "after",
            toMiddleware: "goldenAmiPacing",
        });
    });

    after(async () => {
        process.env.AWS_ENDPOINT_URL_EC2 = savedEndpoint;
        await proxy.stop();
        const snap = (await direct.send(new DescribeSnapshotsCommand({ SnapshotIds: [source.baseSnapshotId] }))).Snapshots![0];
        await direct.send(new TerminateInstancesCommand({ InstanceIds: [source.instanceId] }));
        const base = (await direct.send(new DescribeImagesCommand({ ImageIds: [source.baseImageId] }))).Images![0];
        await direct.send(new DeregisterImageCommand({ ImageId: source.baseImageId }));
        const baseSnapshots = (base.BlockDeviceMappings ?? []).map((b) => b.Ebs?.SnapshotId).filter((s): s is string => !!s);
        for (const snapshotId of new Set([source.baseSnapshotId, ...baseSnapshots])) {
            await direct.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId }));
        }
        if (snap.VolumeId) await direct.send(new DeleteVolumeCommand({ VolumeId: snap.VolumeId }));
        const left = leftBehind(before0, await inventory(REGION));
        direct.destroy();
        assert.deepEqual(left, { images: [], snapshots: [] }, "these tests leave no image or snapshot behind");
    });

    beforeEach(() => {
        proxy.setOptions({ snapshotInUseCalls: 0, deleteAssociatedSnapshots: false });
        proxy.resetStats();
        sent.length = 0;
        log = sinon.stub(console, "log");
    });
    afterEach(() => log.restore());

    /** The guard's reads before a DeregisterImage (what uses the image, who it is shared with): at most one each, read only. */
    const GUARD_READS = [
        "DescribeImageReferences",
        "DescribeInstances",
        "DescribeLaunchTemplateVersions",
        "DescribeFleets",
        "DescribeSpotFleetRequests",
        "DescribeImageAttribute",
    ];
    const withoutGuardReads = (byAction: Record<string, number>) => {
        const rest = { ...byAction };
        for (const a of GUARD_READS) {
            if (a === "DescribeImageReferences" || a === "DescribeImageAttribute") assert.equal(rest[a], 1, `${a} once`);
            if (rest[a] !== undefined && --rest[a] === 0) delete rest[a];
        }
        return rest;
    };

    it("an AmiFromInstance create + destroy is DescribeInstances (check: the source exists), CreateImage, one DescribeImages, the guard's reads, the finished mark, DeregisterImage, and (moto) one DeleteSnapshot", async () => {
        const { inputs, failures } = await hooks.check({}, { sourceInstanceId: source.instanceId, name: "calls-life", region: REGION });
        assert.deepEqual(failures, []);
        const r = await hooks.create(inputs);
        await hooks.delete(r.id, r.outs);

        // CreateTags: golden-ami:create-finished, so that a kept image is never adopted by a later create (kept-image.ts).
        assert.deepEqual(withoutGuardReads(proxy.stats().byAction), {
            DescribeInstances: 1,
            CreateImage: 1,
            DescribeImages: 1,
            CreateTags: 1,
            DeregisterImage: 1,
            DeleteSnapshot: 1,
        });
        const deregister = sent.find((s) => s.action === "DeregisterImage");
        assert.equal(deregister?.input.DeleteAssociatedSnapshots, true, "EC2 is asked to delete the snapshots with the image");
        const left = await inventory(REGION);
        assert.ok(!left.images.some((i) => i.id === r.id), "image gone");
        assert.ok(!left.snapshots.some((s) => (r.outs.snapshotIds as string[]).includes(s.id)), "snapshots gone");
    });

    it("falls back to deleting each snapshot, retrying InUse, where the endpoint ignores DeleteAssociatedSnapshots", async () => {
        const imageId = (await direct.send(new CreateImageCommand({ InstanceId: source.instanceId, Name: "calls-fallback" }))).ImageId!;
        const image = (await direct.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images![0];
        const snapshotIds = (image.BlockDeviceMappings ?? []).map((b) => b.Ebs!.SnapshotId!);
        proxy.setOptions({ snapshotInUseCalls: 2 });
        const savedScale = process.env.GOLDEN_AMI_POLL_SCALE;
        process.env.GOLDEN_AMI_POLL_SCALE = "0.01";
        try {
            const r = await deleteImageWithSnapshots(
                ec2Client(REGION),
                { imageId, snapshotIds },
                { deleteSnapshots: true, timeoutMinutes: 1 },
            );
            assert.deepEqual(r, { deregistered: true, snapshotsDeleted: snapshotIds, snapshotsKept: [], deletedWithImage: false });
        } finally {
            if (savedScale === undefined) delete process.env.GOLDEN_AMI_POLL_SCALE;
            else process.env.GOLDEN_AMI_POLL_SCALE = savedScale;
        }
        assert.equal(proxy.stats().byAction.DeleteSnapshot, snapshotIds.length * 3, "two InUse answers, then deleted");
        const left = await inventory(REGION);
        assert.ok(!left.snapshots.some((s) => snapshotIds.includes(s.id)));
    });

    it("is 5 calls besides the guard's reads where DeregisterImage deletes the snapshots: DescribeInstances (check), CreateImage, one DescribeImages, the finished mark, DeregisterImage", async () => {
        proxy.setOptions({ deleteAssociatedSnapshots: true });
        const { inputs } = await hooks.check({}, { sourceInstanceId: source.instanceId, name: "calls-life-ec2", region: REGION });
        const r = await hooks.create(inputs);
        await hooks.delete(r.id, r.outs);
        assert.deepEqual(withoutGuardReads(proxy.stats().byAction), {
            DescribeInstances: 1,
            CreateImage: 1,
            DescribeImages: 1,
            CreateTags: 1,
            DeregisterImage: 1,
        });
        const left = await inventory(REGION);
        assert.ok(!left.images.some((i) => i.id === r.id), "image gone");
        assert.ok(!left.snapshots.some((s) => (r.outs.snapshotIds as string[]).includes(s.id)), "snapshots gone with it");
    });
});
