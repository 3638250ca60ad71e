// AmiFromInstance under the real `pulumi` CLI, from a project that installs
// the packed package, against moto.
import { CreateTagsCommand, DescribeImagesCommand, EC2Client } from "@aws-sdk/client-ec2";
import assert from "node:assert/strict";
import { motoEnv } from "../../scripts/lib/moto";
import { createSourceInstance, inventory, leftBehind } from "../../scripts/lib/ec2-fixtures";
import { newStack, Stack } from "../support/consumer";
import { currentMoto } from "../support/moto-hooks";
import { sweepAfterSuite } from "../support/sweep-teardown";

const REGION = "us-east-1";

interface PreviewStep {
    op: string;
    urn: string;
    replaceReasons?: string[];
    oldState?: { inputs?: Record<string, unknown> };
    newState?: { inputs?: Record<string, unknown> };
}

function stepFor(preview: string, name: string): PreviewStep | undefined {
    const steps: PreviewStep[] = JSON.parse(preview).steps ?? [];
    return steps.find((s) => s.urn.endsWith(`::${name}`));
}

describe("AmiFromInstance end to end (real pulumi CLI, packed package, moto)", () => {
    let stack: Stack;
    let ec2: EC2Client;
    let baseline: Awaited<ReturnType<typeof inventory>>;
    let imageId: string;

    before(async () => {
        const env = motoEnv(currentMoto().endpoint, REGION);
        ec2 = new EC2Client({ region: REGION });
        const { instanceId } = await createSourceInstance(REGION);
        baseline = await inventory(REGION);
        stack = await newStack("ami-from-instance", "e2e", env);
        await stack.config({ "aws:region": REGION, sourceInstanceId: instanceId, version: "1" });
    });
    after(() => ec2.destroy());

    it("pulumi up bakes the AMI and waits until it is available", async () => {
        await stack.run(["up", "--yes", "--skip-preview"]);
        const out = await stack.outputs();
        imageId = out.imageId as string;
        assert.match(imageId, /^ami-/);
        assert.match(out.imageName as string, /^web-[0-9a-f]{8}$/);
        const img = (await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images![0];
        assert.equal(img.State, "available");
        const {
            "golden-ami:owner": mark,
            "golden-ami:create-finished": finished,
            ...tags
        } = Object.fromEntries((img.Tags ?? []).map((t) => [t.Key!, t.Value!]));
        assert.deepEqual(tags, { App: "web", Version: "1" });
        assert.match(mark ?? "", /\/AmiFromInstance\/web$/, "marked as golden-ami's, naming stack and resource");
        assert.equal(finished, imageId, "and as a finished create (a kept image is never adopted silently)");
    });

    it("state holds a short reference to the installed package, not the provider's source", async () => {
        const state = await stack.export();
        const res = state.deployment.resources!.find((r) => r.type.endsWith(":AmiFromInstance"))!;
        const provider = String(res.inputs!.__provider);
        console.log(`      serialized provider: ${provider.length} bytes per resource`);
        assert.ok(provider.length < 2048, `provider text is ${provider.length} bytes`);
        assert.match(provider, /require\("golden-ami\/providers\/ami-from-instance"\)/);
    });

    it("preview --json shows a tag change as an update in place", async () => {
        await stack.config({ version: "2" });
        const { stdout } = await stack.run(["preview", "--json"]);
        const step = stepFor(stdout, "web");
        assert.equal(step?.op, "update", stdout.slice(0, 2000));
        assert.deepEqual(step?.replaceReasons ?? [], []);
        assert.deepEqual(step?.newState?.inputs?.tags, { App: "web", Version: "2" });
    });

    it("preview --json shows a name change as a replacement", async () => {
        await stack.config({ imageName: "web-renamed" });
        const { stdout } = await stack.run(["preview", "--json"]);
        const step = stepFor(stdout, "web");
        assert.equal(step?.op, "replace", JSON.stringify(step));
        assert.ok(step?.replaceReasons?.includes("name"), JSON.stringify(step));
        await stack.run(["config", "rm", "imageName"]);
    });

    it("pulumi up applies the tag change in place, keeping the same image", async () => {
        await stack.run(["up", "--yes", "--skip-preview"]);
        const out = await stack.outputs();
        assert.equal(out.imageId, imageId);
        const img = (await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images![0];
        assert.ok(img.Tags!.some((t) => t.Key === "Version" && t.Value === "2"));
    });

    it("refresh picks up a tag changed by hand, and up puts it back", async () => {
        await ec2.send(new CreateTagsCommand({ Resources: [imageId], Tags: [{ Key: "App", Value: "by-hand" }] }));
        await stack.run(["refresh", "--yes", "--skip-preview"]);
        const { stdout } = await stack.run(["preview", "--json"]);
        assert.equal(stepFor(stdout, "web")?.op, "update", "after refresh the drift shows as an update");
        await stack.run(["up", "--yes", "--skip-preview"]);
        const img = (await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images![0];
        assert.ok(img.Tags!.some((t) => t.Key === "App" && t.Value === "web"));
        const again = await stack.run(["preview", "--json"]);
        assert.ok([undefined, "same"].includes(stepFor(again.stdout, "web")?.op), "nothing left to change");
    });

    it("bad input fails at preview, naming the property, and creates nothing", async () => {
        const bad = await newStack("ami-from-instance", "bad-input", motoEnv(currentMoto().endpoint, REGION));
        await bad.config({ "aws:region": REGION, sourceInstanceId: "instance-1" });
        const snapshot = await inventory(REGION);
        const r = await bad.run(["preview"], { check: false });
        assert.notEqual(r.code, 0);
        assert.match(r.stdout + r.stderr, /sourceInstanceId: "instance-1" is not an EC2 instance id/);
        const up = await bad.run(["up", "--yes", "--skip-preview"], { check: false });
        assert.notEqual(up.code, 0);
        assert.deepEqual(leftBehind(snapshot, await inventory(REGION)), { images: [], snapshots: [] });
    });

    it("pulumi destroy leaves no AMI and no snapshot behind", async () => {
        const r = await stack.run(["destroy", "--yes", "--skip-preview"]);
        assert.deepEqual(leftBehind(baseline, await inventory(REGION)), { images: [], snapshots: [] }, r.stdout);
    });

    // Last, so it runs after the suite's own teardown (instances terminated, clients closed).
    sweepAfterSuite([REGION]);
});
