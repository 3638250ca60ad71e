// Issue 12's "done when", under the real `pulumi` CLI from a project that
// installs the packed package: a policy over an account holding every kind of
// reference (an Auto Scaling group pinned to launch-template version 1 whose
// $Default moved on, a MixedInstancesPolicy override, a launch configuration,
// an SSM aws:ec2:image parameter, a running instance, a shared image) retires
// every unreferenced old image and none of the referenced ones, both with
// DescribeImageReferences (emulated from moto's data by the proxy) and
// without it (the proxy answers InvalidAction, so the inventory enumerates).
import assert from "node:assert/strict";
import { Ec2Proxy, startEc2Proxy } from "../../emulator/ec2-proxy";
import { imageReferencesHandler } from "../../emulator/references";
import { motoEnv } from "../../scripts/lib/moto";
import { pendingEntries } from "../../sdk/retention-pending-entry";
import { inventory } from "../../scripts/lib/ec2-fixtures";
import { newStack, Stack } from "../support/consumer";
import { currentMoto } from "../support/moto-hooks";
import { seedReferences } from "../support/reference-seed";
import { sweepAfterSuite } from "../support/sweep-teardown";

interface Step {
    op: string;
    urn: string;
    newState?: {
        inputs?: {
            pending?: {
                total: number;
                groups: { region: string; group: string; images: string[] }[];
                heldBack: { first: { imageId: string }[] };
            };
        };
    };
}

function policyStep(preview: string): Step | undefined {
    return ((JSON.parse(preview).steps ?? []) as Step[]).find((s) => s.urn.endsWith("::seeded-images"));
}

const MODES = [
    { imageReferences: "emulate" as const, region: "eu-west-2", label: "with DescribeImageReferences" },
    { imageReferences: "unsupported" as const, region: "ap-northeast-2", label: "without DescribeImageReferences (InvalidAction)" },
];

for (const { imageReferences, region, label } of MODES) {
    describe(`AmiRetentionPolicy keeps every referenced image, ${label} (real pulumi CLI, moto)`, () => {
        let proxy: Ec2Proxy;
        let stack: Stack;
        let seed: Awaited<ReturnType<typeof seedReferences>>;
        const prefix = `refs-e2e-${imageReferences}`;

        before(async function () {
            this.timeout(180_000);
            proxy = await startEc2Proxy({ target: currentMoto().endpoint, handlers: [imageReferencesHandler({ imageReferences })] });
            seed = await seedReferences(region, prefix);
            stack = await newStack("retention-references", `refs-${imageReferences}`, motoEnv(proxy.endpoint, region));
            await stack.config({ "aws:region": region, namePattern: `${prefix}-*`, keepLatest: "2" });
        });
        after(async function () {
            this.timeout(60_000);
            await seed?.cleanup();
            await proxy?.stop();
        });

        it("preview --diff lists exactly the unreferenced old images", async () => {
            const before = proxy.stats().byAction.DescribeImageReferences ?? 0;
            const { stdout } = await stack.run(["preview", "--json"]);
            const summary = policyStep(stdout)?.newState?.inputs?.pending;
            assert.ok(summary, `the policy's pending summary is in the preview:\n${stdout}`);
            const pending = pendingEntries(summary);
            assert.equal(summary.total, seed.unreferenced.length);
            assert.deepEqual(pending.map((p) => p.imageId).sort(), [...seed.unreferenced].sort());
            assert.ok((proxy.stats().byAction.DescribeImageReferences ?? 0) > before, "the reference check was asked");

            const diff = await stack.run(["preview", "--diff"]);
            for (const id of seed.unreferenced) assert.ok(diff.stdout.includes(id), `preview --diff names ${id}:\n${diff.stdout}`);
            for (const id of seed.referenced) assert.ok(!pending.some((p) => p.imageId === id), `${id} is not pending`);
        });

        it("up retires them and none of the referenced images; a second preview is a no-op", async () => {
            await stack.run(["up", "--yes", "--skip-preview"]);
            const left = new Set((await inventory(region)).images.map((i) => i.id));
            const lastRun = JSON.stringify((await stack.outputs()).lastRun).slice(0, 3000);
            for (const id of seed.referenced) assert.ok(left.has(id), `referenced ${id} is still there; the run: ${lastRun}`);
            for (const id of seed.unreferenced) assert.ok(!left.has(id), `unreferenced ${id} is gone`);
            for (const id of seed.images.slice(8)) assert.ok(left.has(id), `the newest ${id} is kept`);
            const run = (await stack.outputs()).lastRun as { retired: { imageId: string }[]; failed: unknown[] };
            assert.deepEqual(run.retired.map((r) => r.imageId).sort(), [...seed.unreferenced].sort());
            assert.deepEqual(run.failed, []);

            const { stdout } = await stack.run(["preview", "--json"]);
            assert.ok([undefined, "same"].includes(policyStep(stdout)?.op), stdout.slice(0, 1500));
            await stack.run(["destroy", "--yes", "--skip-preview"]);
        });

        // Last, so it runs after the suite's own teardown.
        sweepAfterSuite([region]);
    });
}
