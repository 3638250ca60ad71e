// The sweeper through the real AWS SDK against moto, in an account where
// golden-ami's images and snapshots sit beside another tool's images and a
// user's snapshots made in the same hour: only what golden-ami marked is
// listed, and deleted only when asked, through the in-use guard.
import {
    CreateImageCommand,
    CreateSnapshotCommand,
    CreateVolumeCommand,
    DeleteSnapshotCommand,
    DeleteVolumeCommand,
    DeregisterImageCommand,
    DescribeImagesCommand,
    EC2Client,
    RunInstancesCommand,
    TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import * as sinon from "sinon";
import * as hooks from "../../dynamic-providers/ami-from-instance-hooks";
import { sweep } from "../../dynamic-providers/ec2/sweeper";
import { createSourceInstance, inventory } from "../../scripts/lib/ec2-fixtures";

const REGION = "eu-west-1";
const OWNER = "itest/dev/AmiFromInstance";

describe("sweeper against moto", () => {
    let ec2: EC2Client;
    let source: Awaited<ReturnType<typeof createSourceInstance>>;
    let started: Date;
    let log: sinon.SinonStub;
    const ours: { imageId: string; snapshotIds: string[] }[] = [];
    let othersImage: string;
    let usersSnapshot: string;
    let usersVolume: string;
    let markedOrphan: string;
    let runningOnOurs: string;

    /** A golden-ami image, made as AmiFromInstance makes it: marked, snapshots too. */
    async function goldenImage(name: string, tags: Record<string, string>) {
        const { inputs, failures } = await hooks.check(
            {},
            { sourceInstanceId: source.instanceId, name, region: REGION, tags, owner: `${OWNER}/${name}` },
        );
        assert.deepEqual(failures, []);
        const r = await hooks.create(inputs as never);
        return { imageId: r.id, snapshotIds: r.outs.snapshotIds as string[] };
    }

    before(async function () {
        this.timeout(300_000);
        ec2 = new EC2Client({ region: REGION });
        source = await createSourceInstance(REGION);
        // moto stamps creation times to the second
        started = new Date(Math.floor(Date.now() / 1000) * 1000 - 1000);
        log = sinon.stub(console, "log");
        try {
            ours.push(await goldenImage("sweep-web-1", { App: "web" }));
            ours.push(await goldenImage("sweep-web-2", { App: "web" }));
        } finally {
            log.restore();
        }
        // Another tool's image: same hour, same name pattern, same user tag, no mark.
        othersImage = (
            await ec2.send(
                new CreateImageCommand({
                    InstanceId: source.instanceId,
                    Name: "sweep-web-other-tool",
                    TagSpecifications: [{ ResourceType: "image", Tags: [{ Key: "App", Value: "web" }] }],
                }),
            )
        ).ImageId!;
        // A user's backup: a volume snapshot with the same user tag, no mark.
        usersVolume = (await ec2.send(new CreateVolumeCommand({ AvailabilityZone: `${REGION}a`, Size: 1 }))).VolumeId!;
        usersSnapshot = (
            await ec2.send(
                new CreateSnapshotCommand({
                    VolumeId: usersVolume,
                    Description: "nightly backup",
                    TagSpecifications: [{ ResourceType: "snapshot", Tags: [{ Key: "App", Value: "web" }] }],
                }),
            )
        ).SnapshotId!;
        // A snapshot golden-ami made whose image is gone: marked, no image uses it.
        markedOrphan = (
            await ec2.send(
                new CreateSnapshotCommand({
                    VolumeId: usersVolume,
                    TagSpecifications: [{ ResourceType: "snapshot", Tags: [{ Key: "golden-ami:owner", Value: `${OWNER}/gone` }] }],
                }),
            )
        ).SnapshotId!;
        // Something launches from golden-ami's second image.
        runningOnOurs = (
            await ec2.send(new RunInstancesCommand({ ImageId: ours[1].imageId, InstanceType: "t3.micro", MinCount: 1, MaxCount: 1 }))
        ).Instances![0].InstanceId!;
    });

    after(async function () {
        this.timeout(120_000);
        await ec2.send(new TerminateInstancesCommand({ InstanceIds: [source.instanceId, runningOnOurs] }));
        const left = await inventory(REGION);
        const images = (await ec2.send(new DescribeImagesCommand({ Owners: ["self"] }))).Images ?? [];
        for (const id of [...ours.map((o) => o.imageId), othersImage, source.baseImageId]) {
            if (!left.images.some((i) => i.id === id)) continue;
            const snaps = images.find((i) => i.ImageId === id)?.BlockDeviceMappings?.map((b) => b.Ebs?.SnapshotId) ?? [];
            await ec2.send(new DeregisterImageCommand({ ImageId: id }));
            for (const s of snaps) if (s) await ec2.send(new DeleteSnapshotCommand({ SnapshotId: s })).catch(() => undefined);
        }
        for (const s of [usersSnapshot, markedOrphan, source.baseSnapshotId])
            await ec2.send(new DeleteSnapshotCommand({ SnapshotId: s })).catch(() => undefined);
        await ec2.send(new DeleteVolumeCommand({ VolumeId: usersVolume })).catch(() => undefined);
        ec2.destroy();
    });

    it("refuses to run without a filter", async () => {
        await assert.rejects(sweep({ regions: [REGION] }), /give a name pattern, tags or a creation time/);
    });

    it("by time, lists only golden-ami's images and its orphan snapshot, never another tool's image or a user's snapshot", async () => {
        const [r] = await sweep({ regions: [REGION], createdAfter: started });
        assert.deepEqual(r.images.map((i) => i.imageId).sort(), ours.map((o) => o.imageId).sort());
        assert.deepEqual(
            r.images.find((i) => i.imageId === ours[0].imageId)?.snapshotIds,
            ours[0].snapshotIds,
            "an image's snapshots are listed with it",
        );
        assert.deepEqual(
            r.orphanSnapshots.map((s) => s.snapshotId),
            [markedOrphan],
        );
    });

    it("a name pattern and tags narrow golden-ami's set, never widen it", async () => {
        const [byName] = await sweep({ regions: [REGION], namePattern: "sweep-web-*", createdAfter: started });
        assert.deepEqual(byName.images.map((i) => i.imageId).sort(), ours.map((o) => o.imageId).sort());
        assert.deepEqual(byName.orphanSnapshots, [], "a snapshot has no name: a name pattern selects none");
        const [byTag] = await sweep({ regions: [REGION], tags: { App: "web" } });
        assert.deepEqual(byTag.images.map((i) => i.imageId).sort(), ours.map((o) => o.imageId).sort());
        assert.deepEqual(byTag.orphanSnapshots, [], "the user's tagged snapshot is not golden-ami's");
        const [narrower] = await sweep({ regions: [REGION], namePattern: "sweep-web-1" });
        assert.deepEqual(
            narrower.images.map((i) => i.imageId),
            [ours[0].imageId],
        );
    });

    it("npm run sweep --delete prints what it will delete, deletes only golden-ami's, and keeps the image an instance runs from", async function () {
        this.timeout(300_000);
        const r = spawnSync(
            process.execPath,
            [
                path.join(__dirname, "..", "..", "scripts", "sweep.js"),
                "--region",
                REGION,
                "--name-pattern",
                "sweep-web-*",
                "--created-after",
                started.toISOString(),
                "--delete",
            ],
            { env: process.env, encoding: "utf8" },
        );
        assert.equal(r.status, 0, r.stderr);
        const out = r.stdout;
        const willDelete = out.indexOf(`will delete image ${ours[0].imageId}`);
        assert.ok(willDelete >= 0, out);
        assert.ok(willDelete < out.indexOf(`deleted ${ours[0].imageId}`), "printed before it is deleted");
        assert.match(out, new RegExp(`kept ${ours[1].imageId}: in use: instance ${runningOnOurs}`));

        const left = await inventory(REGION);
        const imageIds = left.images.map((i) => i.id);
        const snapshotIds = left.snapshots.map((s) => s.id);
        assert.ok(!imageIds.includes(ours[0].imageId), "golden-ami's unused image is gone");
        for (const s of ours[0].snapshotIds) assert.ok(!snapshotIds.includes(s), `its snapshot ${s} is gone`);
        assert.ok(imageIds.includes(ours[1].imageId), "the image an instance runs from is kept");
        assert.ok(imageIds.includes(othersImage), "another tool's image is kept");
        assert.ok(snapshotIds.includes(usersSnapshot), "a user's snapshot is kept");
        assert.ok(snapshotIds.includes(markedOrphan), "with a name pattern no orphan snapshot is selected");
    });

    it("by time with --delete, golden-ami's orphan snapshot goes and the user's stays", async () => {
        const [r] = await sweep({ regions: [REGION], createdAfter: started, delete: true, timeoutMinutes: 1 });
        assert.ok(r.deleted.includes(markedOrphan));
        assert.deepEqual(r.failed, []);
        const snapshotIds = (await inventory(REGION)).snapshots.map((s) => s.id);
        assert.ok(!snapshotIds.includes(markedOrphan));
        assert.ok(snapshotIds.includes(usersSnapshot));
    });
});
