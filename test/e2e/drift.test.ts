// Changes made by hand behind Pulumi's back: refresh shows them, up puts
// things right, destroy still succeeds and leaves nothing.
import {
    DeleteSnapshotCommand,
    DeregisterImageCommand,
    DescribeImageAttributeCommand,
    EC2Client,
    ModifyImageAttributeCommand,
} from "@aws-sdk/client-ec2";
import assert from "node:assert/strict";
import { motoEnv } from "../../scripts/lib/moto";
import { createSourceInstance, inventory, leftBehind } from "../../scripts/lib/ec2-fixtures";
import { newStack, Stack } from "../support/consumer";
import { currentMoto } from "../support/moto-hooks";
import { sweepAfterSuite } from "../support/sweep-teardown";

const REGION = "eu-south-1";
const ACCOUNT = "444455556666";

function op(preview: string): string | undefined {
    const steps: { op: string; urn: string }[] = JSON.parse(preview).steps ?? [];
    return steps.find((s) => s.urn.endsWith("::web"))?.op;
}

describe("drift (real pulumi CLI, moto)", () => {
    const ec2 = new EC2Client({ region: REGION });
    let stack: Stack;
    let baseline: Awaited<ReturnType<typeof inventory>>;

    before(async () => {
        const { instanceId } = await createSourceInstance(REGION);
        baseline = await inventory(REGION);
        stack = await newStack("ami-from-instance", "drift", motoEnv(currentMoto().endpoint, REGION));
        await stack.config({ "aws:region": REGION, sourceInstanceId: instanceId, shareWith: ACCOUNT });
        await stack.run(["up", "--yes", "--skip-preview"]);
    });
    after(() => ec2.destroy());

    it("a launch permission removed by hand: refresh shows it, up grants it again", async () => {
        const { imageId } = (await stack.outputs()) as { imageId: string };
        await ec2.send(new ModifyImageAttributeCommand({ ImageId: imageId, LaunchPermission: { Remove: [{ UserId: ACCOUNT }] } }));
        await stack.run(["refresh", "--yes", "--skip-preview"]);
        assert.equal(op((await stack.run(["preview", "--json"])).stdout), "update");
        await stack.run(["up", "--yes", "--skip-preview"]);
        const perms = await ec2.send(new DescribeImageAttributeCommand({ ImageId: imageId, Attribute: "launchPermission" }));
        assert.deepEqual(perms.LaunchPermissions, [{ UserId: ACCOUNT }]);
    });

    it("an image and its snapshot removed by hand: refresh drops the image from state", async () => {
        const before = (await stack.outputs()) as { imageId: string; snapshotIds: string[] };
        // moto refuses to delete a snapshot its image uses; EC2 does too, so this is
        // what a person can do: deregister by hand, then delete the snapshot.
        await ec2.send(new DeregisterImageCommand({ ImageId: before.imageId }));
        await ec2.send(new DeleteSnapshotCommand({ SnapshotId: before.snapshotIds[0] }));
        await stack.run(["refresh", "--yes", "--skip-preview"]);
        const state = await stack.export();
        assert.ok(
            !state.deployment.resources!.some((r) => r.type.endsWith(":AmiFromInstance")),
            "an image gone by hand leaves state on refresh",
        );
    });

    it("an AMI deregistered by hand: up makes it again, and destroy leaves nothing", async () => {
        assert.equal(op((await stack.run(["preview", "--json"])).stdout), "create");
        await stack.run(["up", "--yes", "--skip-preview"]);
        const { imageId } = (await stack.outputs()) as { imageId: string };
        assert.ok((await inventory(REGION)).images.some((i) => i.id === imageId));
        await stack.run(["destroy", "--yes", "--skip-preview"]);
        assert.deepEqual(leftBehind(baseline, await inventory(REGION)), { images: [], snapshots: [] });
    });

    it("destroy succeeds when the image and its snapshot were both removed by hand", async () => {
        await stack.run(["up", "--yes", "--skip-preview"]);
        const s = (await stack.outputs()) as { imageId: string; snapshotIds: string[] };
        await ec2.send(new DeregisterImageCommand({ ImageId: s.imageId }));
        await ec2.send(new DeleteSnapshotCommand({ SnapshotId: s.snapshotIds[0] }));
        await stack.run(["destroy", "--yes", "--skip-preview"]);
        assert.deepEqual(leftBehind(baseline, await inventory(REGION)), { images: [], snapshots: [] });
    });

    // Last, so it runs after the suite's own teardown (instances terminated, clients closed).
    sweepAfterSuite([REGION]);
});
