// SIGKILL of `pulumi` (and every plugin it started) in the middle of a create,
// a copy and a retention run, at chosen and at random points; then the
// documented recovery: `pulumi cancel` (the local backend's lock), `pulumi
// refresh`, `pulumi up`. No orphan, no duplicate, and destroy leaves nothing.
// The proxy keeps new images pending for a while, as EC2 does (moto does not),
// refuses duplicate names as EC2 does (moto allows them), and honours
// CopyImage's ClientToken as EC2 does (moto ignores it).
import {
    CreateImageCommand,
    EC2Client,
    RunInstancesCommand,
    TerminateInstancesCommand,
    waitUntilImageAvailable,
} from "@aws-sdk/client-ec2";
import assert from "node:assert/strict";
import { motoEnv } from "../../scripts/lib/moto";
import { createSourceInstance, inventory, leftBehind } from "../../scripts/lib/ec2-fixtures";
import { newStack, Stack } from "../support/consumer";
import { Ec2Proxy, startEc2Proxy } from "../../emulator/ec2-proxy";
import { currentMoto } from "../support/moto-hooks";
import { sweepAfterSuite } from "../support/sweep-teardown";
import { descendants } from "../../scripts/lib/pulumi";
import * as fs from "node:fs";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Kills the running command once the proxy has seen `action` `count` times (plus `afterMs`). */
async function killWhen(stack: Stack, args: string[], proxy: Ec2Proxy, action: string, afterMs = 300, count = 1) {
    const p = stack.start(args);
    const deadline = Date.now() + 120_000;
    while ((proxy.stats().byAction[action] ?? 0) < count) {
        if (Date.now() > deadline) throw new Error(`${action} never happened`);
        await sleep(50);
    }
    await sleep(afterMs);
    p.kill();
    const r = await p.done;
    assert.equal((r as { signal: string }).signal, "SIGKILL", "the CLI was killed, not finished");
}

/** README "Recovering an interrupted run", command for command. */
async function recover(stack: Stack) {
    await stack.run(["cancel", "--yes"]);
    await stack.run(["refresh", "--yes", "--skip-preview", "--clear-pending-creates"]);
    await stack.run(["up", "--yes", "--skip-preview"]);
}

async function namesAreUnique(regions: string[]) {
    for (const r of regions) {
        const names = (await inventory(r)).images.map((i) => i.name);
        assert.equal(names.length, new Set(names).size, `duplicate image names in ${r}: ${names.join(", ")}`);
    }
}

describe("interrupted pulumi (SIGKILL) recovers with no orphan and no duplicate (real CLI, moto)", () => {
    let proxy: Ec2Proxy;
    const env = () => ({ ...motoEnv(proxy.endpoint, "us-east-1"), GOLDEN_AMI_POLL_SCALE: "0.05" });

    beforeEach(async () => {
        proxy = await startEc2Proxy({ target: currentMoto().endpoint, pendingPolls: 8, duplicateNames: true });
    });
    afterEach(async () => proxy.stop());

    it("during a create: the re-run adopts the image the killed run made", async () => {
        const region = "us-east-1";
        const { instanceId } = await createSourceInstance(region);
        const baseline = await inventory(region);
        const stack = await newStack("ami-from-instance", "kill-create", env());
        await stack.config({ "aws:region": region, sourceInstanceId: instanceId });
        await killWhen(stack, ["up", "--yes", "--skip-preview"], proxy, "CreateImage");
        await recover(stack);
        const made = leftBehind(baseline, await inventory(region)).images;
        assert.equal(made.length, 1, `exactly one image: ${JSON.stringify(made)}`);
        assert.equal((await stack.outputs()).imageId, made[0].id, "and it is the one in state");
        await stack.run(["destroy", "--yes", "--skip-preview"]);
        assert.deepEqual(leftBehind(baseline, await inventory(region)), { images: [], snapshots: [] });
    });

    it("during a copy: the re-run gets the same copy back through its idempotency token", async () => {
        const regions = ["us-east-1", "us-west-2", "eu-west-1"];
        const { instanceId } = await createSourceInstance(regions[0]);
        const baseline = Object.fromEntries(await Promise.all(regions.map(async (r) => [r, await inventory(r)] as const)));
        const stack = await newStack("replica-pipeline", "kill-copy", env());
        await stack.config({ "aws:region": regions[0], sourceInstanceId: instanceId });
        await stack.run(["config", "set", "--path", "regions[0]", regions[1]]);
        await stack.run(["config", "set", "--path", "regions[1]", regions[2]]);
        await killWhen(stack, ["up", "--yes", "--skip-preview"], proxy, "CopyImage");
        await recover(stack);
        for (const r of regions.slice(1)) {
            const made = leftBehind(baseline[r], await inventory(r)).images;
            assert.equal(made.length, 1, `one copy in ${r}: ${JSON.stringify(made)}`);
        }
        await namesAreUnique(regions);
        await stack.run(["destroy", "--yes", "--skip-preview"]);
        for (const r of regions) assert.deepEqual(leftBehind(baseline[r], await inventory(r)), { images: [], snapshots: [] }, r);
    });

    it("during retention: the re-run retires the rest, and the image in use stays", async () => {
        const region = "ap-southeast-1";
        const ec2 = new EC2Client({ region, endpoint: currentMoto().endpoint });
        const { instanceId } = await createSourceInstance(region);
        const images: string[] = [];
        for (let n = 1; n <= 6; n++) {
            images.push((await ec2.send(new CreateImageCommand({ InstanceId: instanceId, Name: `kill-ret-${n}` }))).ImageId!);
            await sleep(1100);
        }
        // Every seeded image available first: EC2 launches only available images, and retention retires only available ones.
        await waitUntilImageAvailable({ client: ec2, maxWaitTime: 120, minDelay: 1, maxDelay: 2 }, { ImageIds: images });
        const user = (await ec2.send(new RunInstancesCommand({ ImageId: images[0], MinCount: 1, MaxCount: 1 }))).Instances![0].InstanceId!;
        proxy.setOptions({ latencyMs: 200 }); // slow enough to be killed in the middle
        const stack = await newStack("retention", "kill-retention", { ...env(), AWS_REGION: region });
        await stack.config({ "aws:region": region, namePattern: "kill-ret-*", keepLatest: "1" });
        await killWhen(stack, ["up", "--yes", "--skip-preview"], proxy, "DeregisterImage", 100);
        const partway = (await inventory(region)).images.map((i) => i.id);
        assert.ok(
            images.slice(1, 5).some((i) => partway.includes(i)),
            "the kill came before the run finished",
        );
        proxy.setOptions({ latencyMs: 0 });
        await recover(stack);
        const left = (await inventory(region)).images.map((i) => i.id).filter((i) => images.includes(i));
        assert.deepEqual(left.sort(), [images[0], images[5]].sort(), "the one in use and the newest stay");
        await stack.run(["destroy", "--yes", "--skip-preview"]);
        await ec2.send(new TerminateInstancesCommand({ InstanceIds: [user] }));
        ec2.destroy();
    });

    it("a provider left behind by a killed pulumi exits instead of spinning on its dead output", async () => {
        // Pulumi starts plugins in process groups of their own, so killing the
        // CLI's group leaves the provider alive; its next progress line fails
        // with EPIPE, which the dynamic-provider host used to turn into an
        // endless loop at full CPU.
        const { instanceId } = await createSourceInstance("us-east-1");
        const stack = await newStack("ami-from-instance", "kill-orphan", env());
        await stack.config({ "aws:region": "us-east-1", sourceInstanceId: instanceId });
        proxy.setOptions({ pendingPolls: 15 });
        const p = stack.start(["up", "--yes", "--skip-preview"]);
        while ((proxy.stats().byAction.CreateImage ?? 0) < 1) await sleep(50);
        await sleep(300);
        const providers = descendants(p.pid!).filter((pid: number) => {
            try {
                return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("dynamic-provider");
            } catch {
                return false;
            }
        });
        assert.ok(providers.length > 0, "a provider process is running");
        process.kill(-p.pid!, "SIGKILL"); // the CLI's own group only
        await p.done;
        const alive = () =>
            providers.filter(
                (pid: number) => fs.existsSync(`/proc/${pid}`) && !fs.readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z "),
            );
        const deadline = Date.now() + 30_000;
        while (alive().length > 0 && Date.now() < deadline) await sleep(250);
        const left = alive();
        for (const pid of left) process.kill(pid, "SIGKILL");
        assert.deepEqual(left, [], "the orphaned provider exited by itself");
        await recover(stack);
        await stack.run(["destroy", "--yes", "--skip-preview"]);
    });

    for (const seed of [11, 23]) {
        it(`at a random point of the multi-region pipeline (seed ${seed})`, async () => {
            const regions = ["us-east-1", "us-west-2", "eu-west-1"];
            const { instanceId } = await createSourceInstance(regions[0]);
            const baseline = Object.fromEntries(await Promise.all(regions.map(async (r) => [r, await inventory(r)] as const)));
            const stack = await newStack("replica-pipeline", `kill-random-${seed}`, env());
            await stack.config({ "aws:region": regions[0], sourceInstanceId: instanceId });
            await stack.run(["config", "set", "--path", "regions[0]", regions[1]]);
            await stack.run(["config", "set", "--path", "regions[1]", regions[2]]);
            // a point between the first call and well after the copies started
            const delay = ((seed * 7919) % 4000) + 200;
            await killWhen(stack, ["up", "--yes", "--skip-preview"], proxy, "CreateImage", delay);
            await recover(stack);
            const out = await stack.outputs();
            assert.deepEqual(Object.keys(out.imageIds as object).sort(), regions.slice(1).sort());
            for (const r of regions) {
                const made = leftBehind(baseline[r], await inventory(r)).images;
                assert.equal(made.length, 1, `one image in ${r} after recovery: ${JSON.stringify(made)}`);
            }
            await stack.run(["destroy", "--yes", "--skip-preview"]);
            for (const r of regions) assert.deepEqual(leftBehind(baseline[r], await inventory(r)), { images: [], snapshots: [] }, r);
        });
    }

    // Last, so it runs after the suite's own teardown (instances terminated, clients closed).
    sweepAfterSuite(["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-1"]);
});
