// The in-use guard through the real pulumi CLI: a replaced AmiFromInstance
// whose old image nothing uses is gone with its snapshots; one a running
// instance uses is kept with a warning and tagged for retention; a destroy
// while an instance uses the image fails naming it and succeeds once it ends.
import { DescribeImagesCommand, EC2Client, RunInstancesCommand, TerminateInstancesCommand } from "@aws-sdk/client-ec2";
import assert from "node:assert/strict";
import { motoEnv } from "../../scripts/lib/moto";
import { createSourceInstance, inventory, leftBehind } from "../../scripts/lib/ec2-fixtures";
import { sweep } from "../../dynamic-providers/ec2/sweeper";
import { newStack, Stack } from "../support/consumer";
import { currentMoto } from "../support/moto-hooks";
import { sweepAfterSuite } from "../support/sweep-teardown";

const REGION = "eu-central-1";

describe("images in use are never deregistered (real pulumi CLI, moto)", () => {
    const ec2 = new EC2Client({ region: REGION });
    let stack: Stack;
    let sources: string[];
    let baseline: Awaited<ReturnType<typeof inventory>>;
    const launched: string[] = [];
    type Out = { imageId: string; snapshotIds: string[] };

    const launch = async (imageId: string) => {
        const id = (await ec2.send(new RunInstancesCommand({ ImageId: imageId, InstanceType: "t3.micro", MinCount: 1, MaxCount: 1 })))
            .Instances![0].InstanceId!;
        launched.push(id);
        return id;
    };
    const image = async (id: string) => (await ec2.send(new DescribeImagesCommand({ ImageIds: [id] }))).Images?.[0];

    before(async () => {
        sources = [(await createSourceInstance(REGION)).instanceId, (await createSourceInstance(REGION)).instanceId];
        baseline = await inventory(REGION);
        stack = await newStack("ami-from-instance", "in-use", motoEnv(currentMoto().endpoint, REGION));
        await stack.config({ "aws:region": REGION, sourceInstanceId: sources[0] });
        await stack.run(["up", "--yes", "--skip-preview"]);
    });
    after(async () => {
        if (launched.length) await ec2.send(new TerminateInstancesCommand({ InstanceIds: launched }));
        ec2.destroy();
    });

    it("a replaced image nothing uses is gone with its snapshots; one a running instance uses is kept, tagged, with a warning", async () => {
        const first = (await stack.outputs()) as Out;
        await stack.config({ sourceInstanceId: sources[1] });
        await stack.run(["up", "--yes", "--skip-preview"]);
        const second = (await stack.outputs()) as Out;
        const left = await inventory(REGION);
        assert.ok(!left.images.some((i) => i.id === first.imageId), "the unused old image is gone");
        for (const s of first.snapshotIds) assert.ok(!left.snapshots.some((x) => x.id === s), `its snapshot ${s} is gone`);

        const user = await launch(second.imageId);
        await stack.config({ sourceInstanceId: sources[0] });
        const r = await stack.run(["up", "--yes", "--skip-preview"]);
        assert.match(r.stdout + r.stderr, new RegExp(`the old image is kept, not deregistered: it is still in use: instance ${user}`));
        const kept = await image(second.imageId);
        assert.equal(kept?.State, "available", "the image the instance runs from is kept");
        const tags = Object.fromEntries((kept?.Tags ?? []).map((t) => [t.Key, t.Value]));
        assert.match(tags["golden-ami:owner"] ?? "", /\/in-use\/AmiFromInstance\/web$/);
        assert.ok(tags["golden-ami:kept-in-use"], "tagged as kept for retention");
    });

    it("destroy while an instance uses the image fails naming it, leaves it in state, and succeeds once the use ends", async () => {
        const current = (await stack.outputs()) as Out;
        const user = await launch(current.imageId);
        const r = await stack.run(["destroy", "--yes", "--skip-preview"], { check: false });
        assert.notEqual(r.code, 0, "destroy must fail");
        assert.match(r.stdout + r.stderr, new RegExp(`still in use: instance ${user}`));
        assert.match(r.stdout + r.stderr, /retainOnDelete/);
        assert.equal((await image(current.imageId))?.State, "available");
        const resources = (await stack.export()).deployment.resources ?? [];
        assert.equal(resources.find((x) => x.type.endsWith(":AmiFromInstance"))?.id, current.imageId, "still in state");

        await ec2.send(new TerminateInstancesCommand({ InstanceIds: launched.splice(0) }));
        await stack.run(["destroy", "--yes", "--skip-preview"]);
        // The image the replacement kept left the stack; the sweeper finds it by golden-ami's marks.
        const [swept] = await sweep({ regions: [REGION], tags: { "golden-ami:kept-in-use": "*" }, delete: true, timeoutMinutes: 2 });
        assert.deepEqual(swept.failed, []);
        assert.deepEqual(leftBehind(baseline, await inventory(REGION)), { images: [], snapshots: [] });
    });

    // Last, so it runs after the suite's own teardown.
    sweepAfterSuite([REGION]);
});
