// Issue 20's matrix of kinds and users, lean: one stack of the in-use-matrix
// program (an AmiCopy, an AmiFromSnapshot, a ManagedAmi with deleteOnRelease)
// in one region of the strict emulator. Replaced while nothing uses them, the
// old images are gone (the copy's snapshots with it; the user's snapshot
// behind AmiFromSnapshot stays, it is not the stack's), and a launch
// template naming the copy only in an old version nothing launches from does
// not hold it (launchTemplateVersions "in-use"), which preview says.
// Replaced while an Auto Scaling group pins a launch-template version of the
// copy and an SSM aws:ec2:image parameter holds the registered image, both
// are kept with a warning naming the user and tagged for retention. A destroy while a
// template's $Default launches the adopted image fails naming it and changes
// nothing of that image; once the template is gone the same destroy
// deregisters it with its snapshots. (A running instance as the user: the
// AmiFromInstance e2e, in-use-guard.test.ts, and the GoldenImage copy one.)
import { AutoScalingClient, CreateAutoScalingGroupCommand, DeleteAutoScalingGroupCommand } from "@aws-sdk/client-auto-scaling";
import {
    CreateImageCommand,
    CreateLaunchTemplateCommand,
    CreateLaunchTemplateVersionCommand,
    CreateSnapshotCommand,
    CreateVolumeCommand,
    DeleteLaunchTemplateCommand,
    DescribeImagesCommand,
    EC2Client,
    ModifyLaunchTemplateCommand,
    waitUntilImageAvailable,
    waitUntilSnapshotCompleted,
} from "@aws-sdk/client-ec2";
import { DeleteParameterCommand, PutParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import assert from "node:assert/strict";
import { sweep } from "../../dynamic-providers/ec2/sweeper";
import { motoEnv } from "../../scripts/lib/moto";
import { createSourceInstance, inventory, leftBehind } from "../../scripts/lib/ec2-fixtures";
import { newStack, type Stack } from "../support/consumer";
import { currentMoto } from "../support/moto-hooks";
import { sweepAfterSuite } from "../support/sweep-teardown";

const REGION = "af-south-1";
const PARAMETER = "/matrix/restored";
const GROUP = "matrix-web";

describe("the in-use guard for AmiCopy, AmiFromSnapshot and ManagedAmi, users of each kind (real pulumi CLI, strict emulator)", () => {
    const ec2 = new EC2Client({ region: REGION });
    const asg = new AutoScalingClient({ region: REGION });
    const ssm = new SSMClient({ region: REGION });
    let stack: Stack;
    let baseline: Awaited<ReturnType<typeof inventory>>;
    let baseImageId: string;
    let sources: string[];
    let userSnapshots: string[];
    let adoptImageId: string;
    const cleanup: (() => Promise<unknown>)[] = [];
    type Out = { copyId: string; copySnapshotIds: string[]; restoredId: string; adoptedId?: string };

    const image = async (id: string) => (await ec2.send(new DescribeImagesCommand({ ImageIds: [id] }))).Images?.[0];
    const snapshotsOf = async (id: string) =>
        ((await image(id))?.BlockDeviceMappings ?? []).map((m) => m.Ebs?.SnapshotId).filter((s): s is string => !!s);
    const replaceAll = async (n: number) => {
        await stack.config({ copySource: sources[n], snapshotId: userSnapshots[n] });
        return stack.run(["up", "--yes", "--skip-preview"]);
    };
    const template = async (name: string, imageId: string) => {
        const id = (await ec2.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: name, LaunchTemplateData: { ImageId: imageId } })))
            .LaunchTemplate!.LaunchTemplateId!;
        cleanup.push(() => ec2.send(new DeleteLaunchTemplateCommand({ LaunchTemplateId: id })));
        return id;
    };

    before(async () => {
        const source = await createSourceInstance(REGION, { name: "matrix-base" });
        baseImageId = source.baseImageId;
        const made = async (name: string) =>
            (await ec2.send(new CreateImageCommand({ InstanceId: source.instanceId, Name: `${name}-${Date.now()}` }))).ImageId!;
        sources = [await made("matrix-source-1"), await made("matrix-source-2")];
        adoptImageId = await made("matrix-legacy");
        await waitUntilImageAvailable(
            { client: ec2, maxWaitTime: 120, minDelay: 1, maxDelay: 2 },
            { ImageIds: [...sources, adoptImageId] },
        );
        userSnapshots = [];
        for (const n of [1, 2]) {
            const volume = (await ec2.send(new CreateVolumeCommand({ AvailabilityZone: `${REGION}a`, Size: 8 }))).VolumeId!;
            userSnapshots.push((await ec2.send(new CreateSnapshotCommand({ VolumeId: volume, Description: `user's ${n}` }))).SnapshotId!);
        }
        await waitUntilSnapshotCompleted({ client: ec2, maxWaitTime: 120, minDelay: 1, maxDelay: 2 }, { SnapshotIds: userSnapshots });
        baseline = await inventory(REGION);
        stack = await newStack("in-use-matrix", "matrix", { ...motoEnv(currentMoto().endpoint, REGION), GOLDEN_AMI_POLL_SCALE: "0.05" });
        await stack.config({ "aws:region": REGION, copySource: sources[0], snapshotId: userSnapshots[0], adoptImageId });
        await stack.run(["up", "--yes", "--skip-preview"]);
    });
    after(async () => {
        for (const undo of cleanup.reverse()) await undo().catch(() => undefined);
        ec2.destroy();
        asg.destroy();
        ssm.destroy();
    });

    it("replaced while nothing uses them (an old template version naming the copy is no use, and preview says so): the old copy is gone with its snapshots, the old registered image is gone and the user's snapshot stays", async () => {
        const first = (await stack.outputs()) as Out;
        assert.ok(first.copySnapshotIds.length > 0);
        // A template names the copy only in an old version ($Default and $Latest moved on, nothing pins it): by
        // launchTemplateVersions "in-use" nothing launches it, and preview says so.
        const old = await template("matrix-old", first.copyId);
        await ec2.send(new CreateLaunchTemplateVersionCommand({ LaunchTemplateId: old, LaunchTemplateData: { ImageId: baseImageId } }));
        await ec2.send(new ModifyLaunchTemplateCommand({ LaunchTemplateId: old, DefaultVersion: "2" }));
        await stack.config({ copySource: sources[1], snapshotId: userSnapshots[1] });
        const preview = await stack.run(["preview", "--diff"]);
        assert.match(
            preview.stdout + preview.stderr,
            new RegExp(
                `count as unused although a launch template names them in a version nothing launches from: [^\n]*${first.copyId} \\(${old}\\)`,
            ),
            preview.stdout,
        );
        const r = await replaceAll(1);
        assert.doesNotMatch(r.stdout + r.stderr, /is kept, not deregistered/);
        const left = await inventory(REGION);
        for (const id of [first.copyId, first.restoredId]) assert.ok(!left.images.some((i) => i.id === id), `${id} is gone`);
        for (const s of first.copySnapshotIds) assert.ok(!left.snapshots.some((x) => x.id === s), `the copy's snapshot ${s} is gone`);
        assert.ok(
            left.snapshots.some((x) => x.id === userSnapshots[0]),
            "the user's snapshot behind AmiFromSnapshot is not the stack's",
        );
    });

    it("replaced while an Auto Scaling group pins a template version of the copy and an SSM parameter holds the registered image: both kept, tagged, the warning names each", async () => {
        const second = (await stack.outputs()) as Out;
        // Version 1 launches the copy; $Default and $Latest moved on to the base image: only the group's pin holds the copy.
        const pinned = await template("matrix-pinned", second.copyId);
        await ec2.send(new CreateLaunchTemplateVersionCommand({ LaunchTemplateId: pinned, LaunchTemplateData: { ImageId: baseImageId } }));
        await ec2.send(new ModifyLaunchTemplateCommand({ LaunchTemplateId: pinned, DefaultVersion: "2" }));
        await asg.send(
            new CreateAutoScalingGroupCommand({
                AutoScalingGroupName: GROUP,
                MinSize: 0,
                MaxSize: 1,
                AvailabilityZones: [`${REGION}a`],
                LaunchTemplate: { LaunchTemplateId: pinned, Version: "1" },
            }),
        );
        cleanup.push(() => asg.send(new DeleteAutoScalingGroupCommand({ AutoScalingGroupName: GROUP, ForceDelete: true })));
        await ssm.send(new PutParameterCommand({ Name: PARAMETER, Value: second.restoredId, Type: "String", DataType: "aws:ec2:image" }));
        cleanup.push(() => ssm.send(new DeleteParameterCommand({ Name: PARAMETER })));

        const r = await replaceAll(0);
        const said = r.stdout + r.stderr;
        const kept = (id: string) => new RegExp(`${id}[^\\n]*the old image is kept, not deregistered: it is still in use: ([^\\n]*)`);
        assert.match(said, kept(second.copyId), said);
        assert.match(
            said.match(kept(second.copyId))![1],
            new RegExp(`launch template ${pinned} \\(version 1, pinned by Auto Scaling group ${GROUP}`),
        );
        assert.match(said, kept(second.restoredId), said);
        assert.match(said.match(kept(second.restoredId))![1], new RegExp(`SSM parameter ${PARAMETER}`));
        for (const id of [second.copyId, second.restoredId]) {
            const img = await image(id);
            assert.equal(img?.State, "available", `${id} is kept`);
            assert.ok(
                (img?.Tags ?? []).some((t) => t.Key === "golden-ami:kept-in-use"),
                `${id} is tagged for retention`,
            );
        }
    });

    it("destroy while a template's $Default launches the adopted image fails naming it; after the template is gone it deregisters it with its snapshots", async () => {
        const adoptedSnapshots = await snapshotsOf(adoptImageId);
        const users = await template("matrix-default", adoptImageId);
        const r = await stack.run(["destroy", "--yes", "--skip-preview"], { check: false });
        assert.notEqual(r.code, 0, "destroy must fail");
        assert.match(r.stdout + r.stderr, new RegExp(`still in use: launch template ${users} \\(version 1, \\$Default`));
        assert.match(r.stdout + r.stderr, /retainOnDelete/);
        assert.equal((await image(adoptImageId))?.State, "available");
        const resources = (await stack.export()).deployment.resources ?? [];
        assert.equal(resources.find((x) => x.type.endsWith(":ManagedAmi"))?.id, adoptImageId, "still in state");

        await cleanup.pop()!(); // the use ends: the template (the last thing made) is deleted
        await stack.run(["destroy", "--yes", "--skip-preview"]);
        const left = await inventory(REGION);
        assert.ok(!left.images.some((i) => i.id === adoptImageId), "the adopted image is deregistered");
        for (const s of adoptedSnapshots)
            assert.ok(!left.snapshots.some((x) => x.id === s), `with its snapshot ${s} (deleteSnapshotsOnDestroy)`);

        // The users end; the images the replacements kept left the stack, and the sweeper finds them by golden-ami's marks.
        for (const undo of cleanup.splice(0).reverse()) await undo();
        const [swept] = await sweep({ regions: [REGION], tags: { "golden-ami:kept-in-use": "*" }, delete: true, timeoutMinutes: 2 });
        assert.deepEqual(swept.failed, []);
        const gone = new Set([adoptImageId, ...adoptedSnapshots]);
        const remaining = await inventory(REGION);
        assert.deepEqual(leftBehind(baseline, remaining), { images: [], snapshots: [] });
        assert.deepEqual(
            baseline.images.filter((i) => !gone.has(i.id) && !remaining.images.some((x) => x.id === i.id)),
            [],
            "every image the account had stays",
        );
    });

    // Last, so it runs after the suite's own teardown.
    sweepAfterSuite([REGION]);
});
