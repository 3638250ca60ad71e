// AmiRetentionPolicy under the real `pulumi` CLI, from a project that installs
// the packed package, against moto with seeded images and instances.
import {
    CreateImageCommand,
    EC2Client,
    RunInstancesCommand,
    TerminateInstancesCommand,
    waitUntilImageAvailable,
} from "@aws-sdk/client-ec2";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { motoEnv } from "../../scripts/lib/moto";
import { pendingEntries } from "../../sdk/retention-pending-entry";
import { createSourceInstance, inventory } from "../../scripts/lib/ec2-fixtures";
import { newStack, Stack } from "../support/consumer";
import { currentMoto } from "../support/moto-hooks";
import { sweepAfterSuite } from "../support/sweep-teardown";

const REGION = "ap-northeast-1";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Entry {
    imageId: string;
    reason: string;
}
interface Pending {
    status: string;
    digest: string;
    summary: string;
    total: number;
    groups: { region: string; group: string; count: number; images: string[] }[];
    heldBack: { total: number; byReason: { reason: string; count: number }[]; first: Entry[] };
    unknownInputs?: string[];
}
interface Step {
    op: string;
    urn: string;
    newState?: { inputs?: { pending?: Pending } };
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
        // Available before the policy sees it, as an image baked a while ago is (EC2 images are pending for minutes).
        await waitUntilImageAvailable({ client: ec2, maxWaitTime: 120, minDelay: 1, maxDelay: 2 }, { ImageIds: [r.ImageId!] });
    }

    before(async function () {
        this.timeout(300_000); // seeds five images one second apart, then waits until they are available
        ({ instanceId: sourceInstance } = await createSourceInstance(REGION));
        for (let n = 1; n <= 5; n++) {
            await bake(n);
            await sleep(1100); // creation dates have one-second resolution
        }
        // the oldest image still runs an instance: in use, never retired
        const run = await ec2.send(new RunInstancesCommand({ ImageId: images[0], MinCount: 1, MaxCount: 1 }));
        user = run.Instances![0].InstanceId!;
        // The full plan on demand: one JSON file per policy, relative to the program's directory.
        stack = await newStack("retention", "ret", {
            ...motoEnv(currentMoto().endpoint, REGION),
            GOLDEN_AMI_RETENTION_PLAN_DIR: "retention-plan",
        });
        await stack.config({ "aws:region": REGION, namePattern: "e2e-ret-*", keepLatest: "2", excludeViaResource: images[1] });
    });
    after(async () => {
        await ec2.send(new TerminateInstancesCommand({ InstanceIds: [user] }));
        ec2.destroy();
    });

    it("first preview, the exclusion coming from a resource not created yet: plain preview says the plan is computed at apply", async () => {
        const { stdout } = await stack.run(["preview"]);
        assert.match(stdout, /retention web-images: plan computed at apply \(inputs not known yet: exclude\.imageIds\)/);
        const json = await stack.run(["preview", "--json"]);
        const pending = policyStep(json.stdout)?.newState?.inputs?.pending;
        assert.equal(pending?.status, "at-apply");
        assert.deepEqual(pending?.unknownInputs, ["exclude.imageIds"]);
    });

    it("up plans with the then-known exclusion and retires the rest with their snapshots; the image in use and the newest stay", async () => {
        const before = await inventory(REGION);
        const { stdout } = await stack.run(["up", "--yes", "--skip-preview"]);
        const after = await inventory(REGION);
        const left = after.images.map((i: { id: string }) => i.id).filter((i: string) => images.includes(i));
        // images[0] in use, images[1] excluded through the other resource, images[3..4] the newest two
        assert.deepEqual(left.sort(), [images[0], images[1], images[3], images[4]].sort());
        assert.equal(before.snapshots.length - after.snapshots.length, 1);
        assert.match(stdout, /retention web-images: will retire 1 image \(ap-northeast-1: 1\); 2 held back/);
        const out = await stack.outputs();
        const run = out.lastRun as { counts: { retired: number; snapshotsDeleted: number }; retired: { imageId: string }[] };
        assert.deepEqual(
            run.retired.map((r) => r.imageId),
            [images[2]],
        );
        assert.equal(run.counts.retired, 1);
        assert.equal(run.counts.snapshotsDeleted, 1);
        assert.equal((out.pending as Pending).status, "done", "no stale plan in state after up");
        const policy = (await stack.export()).deployment.resources?.find((r) => r.urn.endsWith("::web-images"));
        assert.equal((policy?.outputs?.pending as Pending).total, 0);
        assert.equal((policy?.inputs?.pending as Pending).status, "planned", "the inputs hold the summary check made, never a list");
        assert.deepEqual(
            (policy?.inputs?.pending as Pending).groups.map((g) => g.images),
            [[]],
            "up keeps the counts, not the lines the preview printed",
        );
        assert.equal((policy?.inputs?.pending as Pending).groups[0].count, 1);
        assert.equal("previewing" in (policy?.inputs ?? {}), false);
    });

    it("a second preview is a no-op", async () => {
        const { stdout } = await stack.run(["preview", "--json"]);
        assert.ok([undefined, "same"].includes(policyStep(stdout)?.op), stdout.slice(0, 1500));
    });

    it("a newer image pushes the next one out: preview shows which image and why, the count, and what is held back", async () => {
        await bake(6);
        const plain = await stack.run(["preview"]);
        assert.match(
            plain.stdout,
            /retention web-images: will retire 1 image \(ap-northeast-1: 1\); 2 held back \(exclude\.imageIds, in use\)/,
        );
        const { stdout } = await stack.run(["preview", "--json"]);
        const step = policyStep(stdout);
        assert.equal(step?.op, "update");
        const pending = step?.newState?.inputs?.pending;
        assert.equal(pending?.total, 1);
        assert.deepEqual(
            pending?.groups.map((g) => [g.group, g.count]),
            [["ap-northeast-1", 1]],
        );
        const listed = pendingEntries(pending!);
        assert.deepEqual(
            listed.map((p) => p.imageId),
            [images[3]],
        );
        // One line per image, as `pulumi preview --diff` prints it: the why without the group and keepLatest.
        assert.match(pending!.groups[0].images[0], new RegExp(`^${images[3]} \\d{4}-\\d{2}-\\d{2} .+: 3rd newest$`));
        assert.deepEqual(pending?.heldBack.first.map((h) => h.imageId).sort(), [images[0], images[1]].sort());
        const diff = await stack.run(["preview", "--diff"]);
        assert.ok(diff.stdout.includes(JSON.stringify(pending!.groups[0].images[0])), `the line, whole, in:\n${diff.stdout}`);
        assert.equal(
            diff.stdout.split("--outputs:--")[0].split(JSON.stringify(pending!.groups[0].images[0])).length - 1,
            1,
            `the line printed once among the inputs (the CLI shows it again among the changed outputs):\n${diff.stdout}`,
        );
        assert.ok(!diff.stdout.includes(images[2]), `the last up's line (${images[2]}) is not printed again:\n${diff.stdout}`);
        const file = JSON.parse(fs.readFileSync(path.join(stack.dir, "retention-plan", "web-images.json"), "utf8"));
        assert.deepEqual(
            file.retire.map((p: Entry) => p.imageId),
            [images[3]],
        );
        assert.equal(file.digest, pending?.digest);
    });

    it("destroying the policy leaves the remaining images alone", async () => {
        const before = await inventory(REGION);
        await stack.run(["destroy", "--yes", "--skip-preview"]);
        assert.deepEqual((await inventory(REGION)).images, before.images);
    });

    // Last, so it runs after the suite's own teardown (instances terminated, clients closed).
    sweepAfterSuite([REGION]);
});
