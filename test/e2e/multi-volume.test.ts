// Images with more than one volume through every kind, under the real CLI on
// the strict emulator: an instance with a root volume (8 GiB) and two data
// volumes (20 and 5 GiB), imaged whole and shaped, copied to another region,
// older images retired by a policy, and destroyed; each step reads what
// DescribeImages answers, and no snapshot is left at the end.
import {
    CreateImageCommand,
    DeregisterImageCommand,
    DescribeImageAttributeCommand,
    DescribeImagesCommand,
    EnableImageCommand,
    DescribeSnapshotsCommand,
    EC2Client,
    Image,
    paginateDescribeSnapshots,
    RunInstancesCommand,
    Snapshot,
    TerminateInstancesCommand,
    waitUntilImageAvailable,
} from "@aws-sdk/client-ec2";
import { GetParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import assert from "node:assert/strict";
import { motoEnv } from "../../scripts/lib/moto";
import { inventory, leftBehind } from "../../scripts/lib/ec2-fixtures";
import { newStack, Stack } from "../support/consumer";
import { currentMoto } from "../support/moto-hooks";
import { sweepAfterSuite } from "../support/sweep-teardown";

const REGION = "us-east-1";
const WEST = "us-west-2";
const AL2023 = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";

describe("images with a root and two data volumes, through every kind (real pulumi CLI, strict emulator)", () => {
    let stack: Stack;
    let ec2: EC2Client;
    let west: EC2Client;
    let instanceId: string;
    let baseline: Awaited<ReturnType<typeof inventory>>;
    let baselineWest: Awaited<ReturnType<typeof inventory>>;
    const old: string[] = [];
    const toDisable: string[] = [];

    const describe1 = async (client: EC2Client, id: string): Promise<Image> =>
        (await client.send(new DescribeImagesCommand({ ImageIds: [id] }))).Images![0];
    const devices = (img: Image) => img.BlockDeviceMappings!.map((m) => [m.DeviceName, m.Ebs?.VolumeSize, !!m.Ebs?.SnapshotId]);
    const liveSnapshots = async (client: EC2Client, ids: string[]) =>
        (await client.send(new DescribeSnapshotsCommand({ OwnerIds: ["self"], Filters: [{ Name: "snapshot-id", Values: ids }] })))
            .Snapshots!;

    before(async () => {
        ec2 = new EC2Client({ region: REGION });
        west = new EC2Client({ region: WEST });
        baseline = await inventory(REGION);
        baselineWest = await inventory(WEST);
        const ssm = new SSMClient({ region: REGION });
        const base = (await ssm.send(new GetParameterCommand({ Name: AL2023 }))).Parameter!.Value!;
        ssm.destroy();
        const run = await ec2.send(
            new RunInstancesCommand({
                ImageId: base,
                InstanceType: "t3.micro",
                MinCount: 1,
                MaxCount: 1,
                BlockDeviceMappings: [
                    { DeviceName: "/dev/sdf", Ebs: { VolumeSize: 20, VolumeType: "gp3" } },
                    { DeviceName: "/dev/sdg", Ebs: { VolumeSize: 5, VolumeType: "gp2" } },
                ],
            }),
        );
        instanceId = run.Instances![0].InstanceId!;
        // Three older images of the same instance, for the policy (keeps the newest).
        for (const n of [1, 2, 3]) {
            const { ImageId } = await ec2.send(new CreateImageCommand({ InstanceId: instanceId, Name: `mv-old-${n}`, NoReboot: true }));
            await waitUntilImageAvailable({ client: ec2, maxWaitTime: 60, minDelay: 1, maxDelay: 1 }, { ImageIds: [ImageId!] });
            old.push(ImageId!);
        }
        for (const n of [1, 2]) {
            const { ImageId } = await ec2.send(new CreateImageCommand({ InstanceId: instanceId, Name: `mv-dis-${n}`, NoReboot: true }));
            await waitUntilImageAvailable({ client: ec2, maxWaitTime: 60, minDelay: 1, maxDelay: 1 }, { ImageIds: [ImageId!] });
            toDisable.push(ImageId!);
        }
        stack = await newStack("multi-volume", "e2e", motoEnv(currentMoto().endpoint, REGION));
        await stack.config({ "aws:region": REGION, sourceInstanceId: instanceId });
    });
    after(async () => {
        // The images the test made and the policies kept or disabled (not the stack's own).
        for (const id of [...old, ...toDisable]) {
            await ec2.send(new EnableImageCommand({ ImageId: id })).catch(() => undefined);
            await ec2.send(new DeregisterImageCommand({ ImageId: id, DeleteAssociatedSnapshots: true })).catch(() => undefined);
        }
        await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] })).catch(() => undefined);
        ec2.destroy();
        west.destroy();
    });
    sweepAfterSuite([REGION, WEST]);

    it("up: the whole image has three mappings and three snapshots of the instance's sizes; the shaped one leaves /dev/sdf out and adds /dev/sdh", async () => {
        await stack.run(["up", "--yes", "--skip-preview"]);
        const out = await stack.outputs();
        const whole = await describe1(ec2, out.wholeId as string);
        assert.deepEqual(devices(whole), [
            ["/dev/xvda", 8, true],
            ["/dev/sdf", 20, true],
            ["/dev/sdg", 5, true],
        ]);
        assert.deepEqual(
            [...(out.wholeSnapshots as string[])].sort(),
            whole.BlockDeviceMappings!.map((m) => m.Ebs!.SnapshotId!).sort(),
            "snapshotIds lists every snapshot",
        );
        const shaped = await describe1(ec2, out.shapedId as string);
        assert.deepEqual(devices(shaped), [
            ["/dev/xvda", 8, true],
            ["/dev/sdg", 5, true],
            ["/dev/sdh", 10, false],
        ]);
        assert.equal((out.shapedSnapshots as string[]).length, 2);
    });

    it("the copy has three new snapshots in its region, listed in snapshotIds", async () => {
        const out = await stack.outputs();
        const copy = await describe1(west, out.copyId as string);
        const snaps = copy.BlockDeviceMappings!.map((m) => m.Ebs!.SnapshotId!);
        assert.equal(snaps.length, 3);
        assert.ok(snaps.every((s) => !(out.wholeSnapshots as string[]).includes(s)));
        assert.deepEqual([...(out.copySnapshots as string[])].sort(), [...snaps].sort());
        assert.equal((await liveSnapshots(west, snaps)).length, 3);
    });

    it("the policy retired the two older images with all six of their snapshots, and kept the newest", async () => {
        const before = await Promise.all(old.map((id) => describe1(ec2, id).catch(() => undefined)));
        const kept = before.filter((i) => i && i.State === "available");
        assert.equal(kept.length, 1, "keepLatest: 1");
        const out = await stack.outputs();
        const run = out.retired as { counts: { retired: number } };
        assert.equal(run.counts.retired, 2);
        // The retired images' snapshots: read from the images the policy retired (those not kept).
        const keptSnaps = kept[0]!.BlockDeviceMappings!.map((m) => m.Ebs!.SnapshotId!);
        const all: Snapshot[] = [];
        for await (const page of paginateDescribeSnapshots({ client: ec2 }, { OwnerIds: ["self"] })) all.push(...(page.Snapshots ?? []));
        const mine = all.filter((s) => (s.Description ?? "").match(new RegExp(`for (${old.join("|")}) from`)));
        assert.deepEqual(
            mine.map((s) => s.SnapshotId).sort(),
            [...keptSnaps].sort(),
            "only the kept image's three snapshots are left of the older images",
        );
    });

    it("retention with action disable disables the older image (launches refused, snapshots kept), keeps the newest", async () => {
        const out = await stack.outputs();
        assert.equal((out.disabled as { counts: { retired: number } }).counts.retired, 1);
        const listed = await ec2.send(new DescribeImagesCommand({ ImageIds: toDisable, IncludeDisabled: true }));
        const states = Object.fromEntries(listed.Images!.map((i) => [i.ImageId, i.State]));
        assert.deepEqual(Object.values(states).sort(), ["available", "disabled"]);
        const disabled = listed.Images!.find((i) => i.State === "disabled")!;
        assert.equal(
            (
                await liveSnapshots(
                    ec2,
                    disabled.BlockDeviceMappings!.map((m) => m.Ebs!.SnapshotId!),
                )
            ).length,
            3,
            "a disabled image keeps its snapshots",
        );
        await assert.rejects(
            ec2.send(new RunInstancesCommand({ ImageId: disabled.ImageId, InstanceType: "t3.micro", MinCount: 1, MaxCount: 1 })),
            /InvalidAMIID\.Unavailable|disabled/,
        );
    });

    it("a description change updates the image in place, and EC2 has it", async () => {
        const before = (await stack.outputs()).wholeId as string;
        await stack.config({ description: "web, three volumes" });
        await stack.run(["up", "--yes", "--skip-preview"]);
        const out = await stack.outputs();
        assert.equal(out.wholeId, before, "same image");
        const attr = await ec2.send(new DescribeImageAttributeCommand({ ImageId: before, Attribute: "description" }));
        assert.equal(attr.Description?.Value, "web, three volumes");
    });

    it("destroy leaves no image and no snapshot of the stack in either region", async () => {
        await stack.run(["destroy", "--yes", "--skip-preview"]);
        const testMade = [...old, ...toDisable];
        const leftEast = leftBehind(baseline, await inventory(REGION));
        const leftWest = leftBehind(baselineWest, await inventory(WEST));
        // In us-east-1 only what the test itself made (the older images the policies kept or disabled) remains.
        assert.ok(
            leftEast.images.every((i) => testMade.includes(i.id)),
            JSON.stringify(leftEast.images),
        );
        const ofTestImages = new RegExp(`for (${testMade.join("|")}) from`);
        assert.ok(
            leftEast.snapshots.every((s) => ofTestImages.test(s.description ?? "")),
            JSON.stringify(leftEast.snapshots),
        );
        assert.deepEqual(leftWest, { images: [], snapshots: [] });
    });
});
