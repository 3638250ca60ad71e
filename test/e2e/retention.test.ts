// AmiRetentionPolicy under the real `pulumi` CLI, from a project that installs
// the packed package, against moto with seeded images and instances.
import { CreateImageCommand, EC2Client, RunInstancesCommand, TerminateInstancesCommand } from "@aws-sdk/client-ec2";
import assert from "node:assert/strict";
import { motoEnv } from "../../scripts/lib/moto";
import { createSourceInstance, inventory } from "../../scripts/lib/ec2-fixtures";
import { newStack, Stack } from "../support/consumer";
import { currentMoto } from "../support/moto-hooks";
import { sweepAfterSuite } from "../support/sweep-teardown";

const REGION = "ap-northeast-1";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Step {
    op: string;
    urn: string;
    newState?: { inputs?: { pending?: { imageId: string; reason: string }[] } };
}

function policyStep(preview: string): Step | undefined {
    return ((JSON.parse(preview).steps ?? []) as Step[]).find((s) => s.urn.endsWith("::web-images"));
}

describe("AmiRetentionPolicy end to end (real pulumi CLI, packed package, moto)", () => {
    const ec2 = new EC2Client({ region: REGION });
    const images: string[] = [];
    let stack: Stack;
    let sourceInstance: string;
    let user: string;

    async function bake(n: number) {
        const r = await ec2.send(new CreateImageCommand({ InstanceId: sourceInstance, Name: `e2e-ret-${n}` }));
        images.push(r.ImageId!);
    }

    before(async function () {
        this.timeout(120_000);
        ({ instanceId: sourceInstance } = await createSourceInstance(REGION));
        for (let n = 1; n <= 5; n++) {
            await bake(n);
            await sleep(1100); // creation dates have one-second resolution
        }
        // the oldest image still runs an instance: in use, never retired
        const run = await ec2.send(new RunInstancesCommand({ ImageId: images[0], MinCount: 1, MaxCount: 1 }));
        user = run.Instances![0].InstanceId!;
        stack = await newStack("retention", "ret", motoEnv(currentMoto().endpoint, REGION));
        await stack.config({ "aws:region": REGION, namePattern: "e2e-ret-*", keepLatest: "2" });
    });
    after(async () => {
        await ec2.send(new TerminateInstancesCommand({ InstanceIds: [user] }));
        ec2.destroy();
    });

    it("preview --json names exactly the images the policy will retire, with why", async () => {
        const { stdout } = await stack.run(["preview", "--json"]);
        const pending = policyStep(stdout)?.newState?.inputs?.pending ?? [];
        assert.deepEqual(pending.map((p) => p.imageId).sort(), [images[1], images[2]].sort());
        for (const p of pending) assert.match(p.reason, /newest in group ap-northeast-1 \(keepLatest 2\)/);
    });

    it("up retires them and their snapshots; the image in use and the newest stay", async () => {
        const before = await inventory(REGION);
        await stack.run(["up", "--yes", "--skip-preview"]);
        const after = await inventory(REGION);
        const left = after.images.map((i: { id: string }) => i.id).filter((i: string) => images.includes(i));
        assert.deepEqual(left.sort(), [images[0], images[3], images[4]].sort());
        assert.equal(before.snapshots.length - after.snapshots.length, 2);
        const out = await stack.outputs();
        const run = out.lastRun as { retired: { imageId: string }[]; snapshotsDeleted: string[] };
        assert.equal(run.retired.length, 2);
        assert.equal(run.snapshotsDeleted.length, 2);
    });

    it("a second preview is a no-op", async () => {
        const { stdout } = await stack.run(["preview", "--json"]);
        assert.ok([undefined, "same"].includes(policyStep(stdout)?.op), stdout.slice(0, 1500));
    });

    it("a newer image pushes the next one out, shown in preview as a change of pending", async () => {
        await bake(6);
        const { stdout } = await stack.run(["preview", "--json"]);
        const step = policyStep(stdout);
        assert.equal(step?.op, "update");
        assert.deepEqual(
            step?.newState?.inputs?.pending?.map((p) => p.imageId),
            [images[3]],
        );
    });

    it("destroying the policy leaves the remaining images alone", async () => {
        const before = await inventory(REGION);
        await stack.run(["destroy", "--yes", "--skip-preview"]);
        assert.deepEqual((await inventory(REGION)).images, before.images);
    });

    // Last, so it runs after the suite's own teardown (instances terminated, clients closed).
    sweepAfterSuite([REGION]);
});
