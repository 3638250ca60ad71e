// Changes made by hand behind Pulumi's back: refresh shows them, up puts
// things right, destroy still succeeds and leaves nothing.
import {
    CreateTagsCommand,
    DescribeImagesCommand,
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
    /** The image and its snapshots removed by hand, as `aws ec2 deregister-image --delete-associated-snapshots` does. */
    const removeByHand = async (imageId: string) => {
        const out = await ec2.send(new DeregisterImageCommand({ ImageId: imageId, DeleteAssociatedSnapshots: true }));
        assert.ok(
            (out.DeleteSnapshotResults ?? []).every((r) => r.ReturnCode === "success"),
            JSON.stringify(out.DeleteSnapshotResults),
        );
    };
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
        // EC2 refuses to delete a snapshot its image uses, and for a moment after the
        // image is deregistered too: what a person does is deregister with its snapshots.
        await removeByHand(before.imageId);
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
        await removeByHand(s.imageId);
        await stack.run(["destroy", "--yes", "--skip-preview"]);
        assert.deepEqual(leftBehind(baseline, await inventory(REGION)), { images: [], snapshots: [] });
    });

    it("tags edited by hand: after refresh, preview --diff names tags and the key that up reverts", async () => {
        await stack.run(["up", "--yes", "--skip-preview"]);
        const { imageId } = (await stack.outputs()) as { imageId: string };
        await ec2.send(new CreateTagsCommand({ Resources: [imageId], Tags: [{ Key: "Version", Value: "hand-edited" }] }));
        await stack.run(["refresh", "--yes", "--skip-preview"]);
        const preview = (await stack.run(["preview", "--diff"])).stdout;
        assert.match(preview, /~ tags\s*:\s*\{/, preview);
        assert.match(preview, /~ Version\s*:\s*"hand-edited" => "1"/, preview);
        await stack.run(["up", "--yes", "--skip-preview"]);
        const image = (await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images![0];
        assert.equal(image.Tags?.find((t) => t.Key === "Version")?.Value, "1", "up reverted the tag");
        const after = op((await stack.run(["preview", "--json"])).stdout);
        assert.ok(after === undefined || after === "same", `nothing left to change, got ${after}`);
    });

    it("an AMI deregistered by hand, its snapshots left: refresh keeps them tracked, destroy deletes them", async () => {
        const s = (await stack.outputs()) as { imageId: string; snapshotIds: string[] };
        await ec2.send(new DeregisterImageCommand({ ImageId: s.imageId }));
        await stack.run(["refresh", "--yes", "--skip-preview"]);
        const web = (await stack.export()).deployment.resources!.find((r) => r.type.endsWith(":AmiFromInstance"));
        assert.equal(web?.outputs?.state, "deregistered", "the resource stays, marked deregistered");
        assert.deepEqual(web?.outputs?.snapshotIds, s.snapshotIds, "with its snapshots");
        assert.equal(op((await stack.run(["preview", "--json"])).stdout), "replace", "up would make the image again");
        await stack.run(["destroy", "--yes", "--skip-preview"]);
        assert.deepEqual(leftBehind(baseline, await inventory(REGION)), { images: [], snapshots: [] });
    });

    it("an AMI deregistered by hand: `up --refresh` makes it again and deletes the old snapshots", async () => {
        await stack.run(["up", "--yes", "--skip-preview"]);
        const s = (await stack.outputs()) as { imageId: string; snapshotIds: string[] };
        await ec2.send(new DeregisterImageCommand({ ImageId: s.imageId }));
        await stack.run(["up", "--refresh", "--yes", "--skip-preview"]);
        const again = (await stack.outputs()) as { imageId: string; snapshotIds: string[] };
        assert.notEqual(again.imageId, s.imageId);
        const left = await inventory(REGION);
        assert.ok(
            left.images.some((i) => i.id === again.imageId),
            "the new image exists",
        );
        assert.ok(!left.snapshots.some((x) => s.snapshotIds.includes(x.id)), "the old snapshots are deleted");
        await stack.run(["destroy", "--yes", "--skip-preview"]);
        assert.deepEqual(leftBehind(baseline, await inventory(REGION)), { images: [], snapshots: [] });
    });

    // Last, so it runs after the suite's own teardown (instances terminated, clients closed).
    sweepAfterSuite([REGION]);
});
