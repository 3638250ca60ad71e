// The replica pipeline (instance → AmiFromInstance → AmiReplicaSet to a second
// region) under the real `pulumi` CLI with EC2's eventual consistency in
// front of moto: new ids answer InvalidAMIID.NotFound for a few reads,
// describes answer stale values after a change, CopyImage honours ClientToken
// (and refuses one reused with other parameters). Exactly one image per region
// and name; a clean preview afterwards; a copy destroyed and created again is
// exactly one new copy; destroy leaves nothing in either region.
import assert from "node:assert/strict";
import { motoEnv } from "../../scripts/lib/moto";
import { createSourceInstance, inventory, leftBehind } from "../../scripts/lib/ec2-fixtures";
import { Ec2Proxy, startEc2Proxy } from "../../emulator/ec2-proxy";
import { newStack, Stack } from "../support/consumer";
import { currentMoto } from "../support/moto-hooks";
import { sweepAfterSuite } from "../support/sweep-teardown";

const SOURCE = "us-east-2";
const DEST = "eu-west-3";
const REGIONS = [SOURCE, DEST];

/** Steps of `pulumi preview --json` that would change something. */
function changes(previewJson: string): string[] {
    const steps: { op: string; urn: string }[] = JSON.parse(previewJson).steps ?? [];
    return steps.filter((s) => !["same", "read"].includes(s.op)).map((s) => `${s.op} ${s.urn.split("::").pop()}`);
}

describe("replica pipeline under eventual consistency (real pulumi CLI, proxy in front of moto)", () => {
    let proxy: Ec2Proxy;
    let stack: Stack;
    let instanceId: string;
    let baseline: Record<string, Awaited<ReturnType<typeof inventory>>>;
    let first: { sourceImageId: string; copyId: string };

    /** What the stack made in a region, straight from moto: images and their names. */
    const made = async (region: string) => leftBehind(baseline[region], await inventory(region));

    before(async () => {
        proxy = await startEc2Proxy({
            target: currentMoto().endpoint,
            seed: 5,
            eventualConsistency: { notFoundReads: 3, staleReads: 2 },
            idempotentParameterMismatch: true,
            duplicateNames: true,
            pendingPolls: 2,
            deleteAssociatedSnapshots: true,
        });
        ({ instanceId } = await createSourceInstance(SOURCE));
        baseline = Object.fromEntries(await Promise.all(REGIONS.map(async (r) => [r, await inventory(r)] as const)));
        // 5 s polls take 50 ms; the 300 s visibility window 3 s.
        stack = await newStack("replica-pipeline", "consistency", { ...motoEnv(proxy.endpoint, SOURCE), GOLDEN_AMI_POLL_SCALE: "0.01" });
        await stack.config({ "aws:region": SOURCE, sourceInstanceId: instanceId });
        await stack.run(["config", "set", "--path", "regions[0]", DEST]);
    });
    after(async () => proxy.stop());

    it("pulumi up bakes and copies with exactly one image per region and name, and preview is clean afterwards", async () => {
        const up = await stack.run(["up", "--yes", "--skip-preview"]);
        assert.doesNotMatch(up.stdout, /the image is gone/);
        const out = await stack.outputs();
        const copies = out.imageIds as Record<string, string>;
        first = { sourceImageId: String(out.sourceImageId), copyId: copies[DEST] };
        const bakes = (await made(SOURCE)).images;
        assert.deepEqual(
            bakes.map((i) => i.id),
            [first.sourceImageId],
            `one image in ${SOURCE}: ${JSON.stringify(bakes)}`,
        );
        const dest = (await made(DEST)).images;
        assert.deepEqual(
            dest.map((i) => i.id),
            [first.copyId],
            `one copy in ${DEST}: ${JSON.stringify(dest)}`,
        );
        assert.deepEqual(changes((await stack.run(["preview", "--json"])).stdout), [], "nothing left to do");
    });

    it("a copy destroyed and created again is exactly one new copy (the idempotency token is never stuck)", async () => {
        const urn = (await stack.export()).deployment.resources?.find((r) => r.urn.endsWith(`::web-${DEST}`))?.urn;
        assert.ok(urn, "the copy's URN");
        await stack.run(["destroy", "--yes", "--skip-preview", "--target", urn]);
        assert.deepEqual((await made(DEST)).images, [], "the copy is gone");
        proxy.resetStats();
        await stack.run(["up", "--yes", "--skip-preview"]);
        const copyId = ((await stack.outputs()).imageIds as Record<string, string>)[DEST];
        assert.notEqual(copyId, first.copyId, "a new copy, not the destroyed one handed back");
        assert.deepEqual(
            (await made(DEST)).images.map((i) => i.id),
            [copyId],
            "exactly one copy",
        );
        // EC2 hands the first token's destroyed copy back, then the next token makes the new one
        assert.equal(proxy.stats().byAction.CopyImage, 2, JSON.stringify(proxy.stats().byAction));
        assert.deepEqual(
            (await made(SOURCE)).images.map((i) => i.id),
            [first.sourceImageId],
            "the bake is untouched",
        );
        assert.deepEqual(changes((await stack.run(["preview", "--json"])).stdout), [], "nothing left to do");
    });

    it("pulumi destroy leaves no AMI and no snapshot in either region", async () => {
        const r = await stack.run(["destroy", "--yes", "--skip-preview"]);
        for (const region of REGIONS) {
            assert.deepEqual(await made(region), { images: [], snapshots: [] }, `${region}\n${r.stdout}`);
        }
    });

    // Last, so it runs after the suite's own teardown.
    sweepAfterSuite(REGIONS);
});
