// instance → AmiFromInstance → AmiReplicaSet to two regions, under the real
// `pulumi` CLI from a project that installs the packed package, against moto.
import { DescribeImagesCommand, EC2Client } from "@aws-sdk/client-ec2";
import assert from "node:assert/strict";
import { motoEnv } from "../../scripts/lib/moto";
import { createSourceInstance, inventory, leftBehind } from "../../scripts/lib/ec2-fixtures";
import { newStack, Stack } from "../support/consumer";
import { currentMoto } from "../support/moto-hooks";
import { sweepAfterSuite } from "../support/sweep-teardown";

const SOURCE = "us-east-1";
const REGIONS = ["us-west-2", "eu-west-1"];
const ALL = [SOURCE, ...REGIONS, "ap-southeast-2"];

interface Step {
    op: string;
    urn: string;
}

function ops(preview: string): Record<string, string> {
    const steps: Step[] = JSON.parse(preview).steps ?? [];
    return Object.fromEntries(steps.map((s) => [s.urn.split("::").pop()!, s.op]));
}

async function tagsOf(region: string, imageId: string): Promise<Record<string, string>> {
    const ec2 = new EC2Client({ region });
    try {
        const img = (await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images![0];
        // Without golden-ami's mark of a finished create (kept-image.ts).
        return Object.fromEntries((img.Tags ?? []).filter((t) => t.Key !== "golden-ami:create-finished").map((t) => [t.Key!, t.Value!]));
    } finally {
        ec2.destroy();
    }
}

describe("multi-region pipeline end to end (real pulumi CLI, packed package, moto)", () => {
    let stack: Stack;
    let baseline: Record<string, Awaited<ReturnType<typeof inventory>>>;
    let imageIds: Record<string, string>;

    before(async () => {
        const { instanceId } = await createSourceInstance(SOURCE);
        baseline = Object.fromEntries(await Promise.all(ALL.map(async (r) => [r, await inventory(r)] as const)));
        stack = await newStack("replica-pipeline", "dr", motoEnv(currentMoto().endpoint, SOURCE));
        await stack.config({ "aws:region": SOURCE, sourceInstanceId: instanceId });
        await stack.run(["config", "set", "--path", "regions[0]", REGIONS[0]]);
        await stack.run(["config", "set", "--path", "regions[1]", REGIONS[1]]);
    });

    it("pulumi up bakes the image and copies it to both regions", async () => {
        await stack.run(["up", "--yes", "--skip-preview"]);
        const out = await stack.outputs();
        imageIds = out.imageIds as Record<string, string>;
        assert.deepEqual(Object.keys(imageIds).sort(), [...REGIONS].sort());
        for (const region of REGIONS) {
            const { "golden-ami:owner": mark, ...tags } = await tagsOf(region, imageIds[region]);
            assert.deepEqual(tags, { App: "web", Replica: "1" });
            assert.match(mark ?? "", new RegExp(`/AmiCopy/web-${region}$`), "each copy marked as golden-ami's");
        }
    });

    it("a tag change on the copies is an update in place of each copy, and nothing else", async () => {
        await stack.config({ replicaTag: "2" });
        const { stdout } = await stack.run(["preview", "--json"]);
        const o = ops(stdout);
        for (const region of REGIONS) assert.equal(o[`web-${region}`], "update", JSON.stringify(o));
        assert.ok([undefined, "same"].includes(o.web), "the source image is untouched");
        await stack.run(["up", "--yes", "--skip-preview"]);
        const out = await stack.outputs();
        assert.deepEqual(out.imageIds, imageIds, "same copies, updated in place");
        for (const region of REGIONS) assert.equal((await tagsOf(region, imageIds[region])).Replica, "2");
    });

    it("adding a region creates only that region's copy", async () => {
        await stack.run(["config", "set", "--path", "regions[2]", "ap-southeast-2"]);
        const { stdout } = await stack.run(["preview", "--json"]);
        const o = ops(stdout);
        assert.equal(o["web-ap-southeast-2"], "create");
        for (const region of REGIONS) assert.ok([undefined, "same"].includes(o[`web-${region}`]), JSON.stringify(o));
        await stack.run(["config", "rm", "--path", "regions[2]"]);
    });

    it("pulumi destroy leaves no AMI and no snapshot in any region", async () => {
        const r = await stack.run(["destroy", "--yes", "--skip-preview"]);
        for (const region of ALL) {
            assert.deepEqual(
                leftBehind(baseline[region], await inventory(region)),
                { images: [], snapshots: [] },
                `${region}\n${r.stdout}`,
            );
        }
    });

    // Last, so it runs after the suite's own teardown (instances terminated, clients closed).
    sweepAfterSuite(ALL);
});
