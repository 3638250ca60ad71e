// GoldenImage under the real `pulumi` CLI, from a project that installs the
// packed package, against moto: first build, a script change (replace, the
// parameter repointed, the old image retired), a new base image named in the
// preview, a kill of `pulumi` in the middle of a build, and destroy.
// Moto runs no user data: the emulator's build instances (emulator/builders.ts,
// behind the EC2 proxy) power a builder off after a seeded delay when its
// script ends with `poweroff`, and leave it running otherwise.
import { DescribeInstancesCommand, EC2Client } from "@aws-sdk/client-ec2";
import { PutParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import assert from "node:assert/strict";
import { motoEnv } from "../../scripts/lib/moto";
import { createSourceInstance, inventory, leftBehind } from "../../scripts/lib/ec2-fixtures";
import { newStack, Stack } from "../support/consumer";
import { currentMoto } from "../support/moto-hooks";
import { builderEmulation, BuilderEmulation } from "../../emulator/builders";
import { Ec2Proxy, startEc2Proxy } from "../../emulator/ec2-proxy";

const HOME = "ap-northeast-2";
const COPY = "ap-southeast-2";
const PARAM = "/golden/e2e/web";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface PreviewStep {
    op: string;
    urn: string;
    replaceReasons?: string[];
    oldState?: { inputs?: Record<string, unknown> };
    newState?: { inputs?: Record<string, unknown> };
}

function bakeStep(preview: string): PreviewStep | undefined {
    const steps: PreviewStep[] = JSON.parse(preview).steps ?? [];
    return steps.find((s) => s.urn.includes("GoldenImageBake::web"));
}

/** Builders (any pipeline) not terminated, in `region`. */
async function liveBuilders(region: string): Promise<string[]> {
    const ec2 = new EC2Client({ region });
    try {
        const out = await ec2.send(
            new DescribeInstancesCommand({
                Filters: [
                    { Name: "tag-key", Values: ["golden-ami:builder"] },
                    { Name: "instance-state-name", Values: ["pending", "running", "stopping", "stopped"] },
                ],
            }),
        );
        return (out.Reservations ?? []).flatMap((r) => r.Instances ?? []).map((i) => i.InstanceId!);
    } finally {
        ec2.destroy();
    }
}

/** Every builder ever launched in `region` (terminated ones too, while EC2 still lists them). */
async function liveBuildersEver(region: string): Promise<string[]> {
    const ec2 = new EC2Client({ region });
    try {
        const out = await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: "tag-key", Values: ["golden-ami:builder"] }] }));
        return (out.Reservations ?? []).flatMap((r) => r.Instances ?? []).map((i) => i.InstanceId!);
    } finally {
        ec2.destroy();
    }
}

async function parameterValue(): Promise<string | undefined> {
    const ssm = new SSMClient({ region: HOME });
    try {
        const { GetParameterCommand } = await import("@aws-sdk/client-ssm");
        return (await ssm.send(new GetParameterCommand({ Name: PARAM }))).Parameter?.Value;
    } catch (e) {
        if ((e as Error).name === "ParameterNotFound") return undefined;
        throw e;
    } finally {
        ssm.destroy();
    }
}

describe("GoldenImage end to end (real pulumi CLI, packed package, moto)", () => {
    let stack: Stack;
    let proxy: Ec2Proxy;
    let builders: BuilderEmulation;
    let baseline: Record<string, Awaited<ReturnType<typeof inventory>>>;
    let firstBase: string;
    let secondBase: string;
    let first: Record<string, unknown>;
    let second: Record<string, unknown>;

    const made = async (region: string) => leftBehind(baseline[region], await inventory(region)).images;
    const setBase = async (imageId: string) => {
        const ssm = new SSMClient({ region: HOME });
        await ssm.send(
            new PutParameterCommand({ Name: "/e2e/base", Value: imageId, Type: "String", DataType: "aws:ec2:image", Overwrite: true }),
        );
        ssm.destroy();
    };

    before(async () => {
        firstBase = (await createSourceInstance(HOME, { name: "e2e-golden-base" })).baseImageId;
        secondBase = (await createSourceInstance(HOME, { name: "e2e-golden-base-2" })).baseImageId;
        await setBase(firstBase);
        baseline = { [HOME]: await inventory(HOME), [COPY]: await inventory(COPY) };
        builders = builderEmulation({ seed: 7, builderBootMs: 3000 });
        proxy = await startEc2Proxy({ target: currentMoto().endpoint, handlers: [builders.handler] });
        stack = await newStack("golden-pipeline", "golden", {
            ...motoEnv(proxy.endpoint, HOME),
            AWS_ENDPOINT_URL_SSM: currentMoto().endpoint,
            GOLDEN_AMI_POLL_SCALE: "0.05",
        });
        await stack.config({ "aws:region": HOME, baseParameter: "/e2e/base", version: "1" });
        await stack.run(["config", "set", "--path", "regions[0]", COPY]);
    });
    after(async () => {
        builders?.dispose();
        await proxy?.stop();
    });

    it("a script that fails (no power-off) fails the up at its timeout with the console tail, and leaves no builder and no image", async () => {
        await stack.config({ lastLine: "echo forgot to power off", timeoutMinutes: "0.25" });
        const r = await stack.run(["up", "--yes", "--skip-preview"], { check: false });
        assert.notEqual(r.code, 0);
        const out = r.stdout + r.stderr;
        assert.match(out, /still running after 0.25 minutes: the provisioning script failed/, out.slice(-3000));
        assert.match(out, /Last console output/);
        assert.match(out, /forgot to power off/, "the console tail shows the script's last line");
        assert.deepEqual(await liveBuilders(HOME), []);
        assert.deepEqual(await made(HOME), []);
        await stack.run(["config", "rm", "lastLine"]);
        await stack.run(["config", "rm", "timeoutMinutes"]);
    });

    it("a first up builds the image from the base, copies it, publishes it, and leaves no builder", async () => {
        const r = await stack.run(["up", "--yes", "--skip-preview"]);
        first = await stack.outputs();
        assert.match(first.imageId as string, /^ami-/);
        assert.equal(first.baseImageId, firstBase);
        assert.match(first.buildHash as string, /^[0-9a-f]{16}$/);
        assert.deepEqual(Object.keys(first.imageIds as object).sort(), [HOME, COPY].sort());
        assert.equal(await parameterValue(), first.imageId);
        assert.deepEqual(await liveBuilders(HOME), []);
        const launched = (await liveBuildersEver(HOME)).filter((id) => builders.instance(id)?.outcome === "stopped");
        assert.equal(launched.length, 1, "one successful builder was launched");
        assert.deepEqual(
            (await made(HOME)).map((i) => i.id),
            [first.imageId],
        );
        assert.equal((await made(COPY)).length, 1);
        assert.match(r.stdout, /builder i-[0-9a-f]+ launched/, "progress of the build is shown");
    });

    it("a changed script previews as a replace naming userData, and nothing else rebuilds", async () => {
        const same = await stack.run(["preview", "--json"]);
        assert.ok([undefined, "same"].includes(bakeStep(same.stdout)?.op), "no change, no rebuild");
        await stack.config({ version: "2" });
        const { stdout } = await stack.run(["preview", "--json"]);
        const step = bakeStep(stdout);
        assert.equal(step?.op, "replace", JSON.stringify(step));
        assert.ok(step?.replaceReasons?.includes("userData"), JSON.stringify(step?.replaceReasons));
        assert.ok(!step?.replaceReasons?.includes("baseImageId"));
    });

    it("up makes the new image, repoints the parameter and retires the old image and its copy", async () => {
        await stack.run(["up", "--yes", "--skip-preview"]);
        second = await stack.outputs();
        assert.notEqual(second.imageId, first.imageId);
        assert.equal(await parameterValue(), second.imageId);
        assert.deepEqual(
            (await made(HOME)).map((i) => i.id),
            [second.imageId],
            "the old image is gone",
        );
        assert.deepEqual(
            (await made(COPY)).map((i) => i.id),
            [(second.imageIds as Record<string, string>)[COPY]],
            "the old copy is gone",
        );
        assert.deepEqual(await liveBuilders(HOME), []);
    });

    it("a new base AMI behind the parameter previews as a replace: baseImageId ami-a => ami-b", async () => {
        await setBase(secondBase);
        const json = await stack.run(["preview", "--json"]);
        const step = bakeStep(json.stdout);
        assert.equal(step?.op, "replace");
        assert.ok(step?.replaceReasons?.includes("baseImageId"), JSON.stringify(step?.replaceReasons));
        assert.equal(step?.oldState?.inputs?.baseImageId, firstBase);
        assert.equal(step?.newState?.inputs?.baseImageId, secondBase);
        const diff = await stack.run(["preview", "--diff"]);
        assert.match(diff.stdout, new RegExp(`baseImageId\\s*:\\s*"${firstBase}"\\s*=>\\s*"${secondBase}"`), diff.stdout);
    });

    it("pulumi killed in the middle of a build: the re-run leaves exactly one image and no builder", async () => {
        // The emulator powers the builder off 1.5 to 4.5 s after launch: the kill comes while it provisions.
        const p = stack.start(["up", "--yes", "--skip-preview"]);
        const deadline = Date.now() + 120_000;
        while ((await liveBuilders(HOME)).length === 0) {
            if (Date.now() > deadline) throw new Error("no builder was launched");
            await sleep(200);
        }
        await sleep(500);
        p.kill();
        assert.equal(((await p.done) as { signal: string }).signal, "SIGKILL");
        assert.equal((await liveBuilders(HOME)).length, 1, "the killed run left its builder");
        await stack.run(["cancel", "--yes"]);
        const refresh = await stack.run(["refresh", "--yes", "--skip-preview"]);
        assert.deepEqual(await liveBuilders(HOME), [], `refresh terminated the stray builder:\n${refresh.stdout}`);
        await stack.run(["up", "--yes", "--skip-preview"]);
        const out = await stack.outputs();
        assert.equal(out.baseImageId, secondBase);
        assert.deepEqual(
            (await made(HOME)).map((i) => i.id),
            [out.imageId],
            "exactly one image",
        );
        assert.equal((await made(COPY)).length, 1, "exactly one copy");
        assert.equal(await parameterValue(), out.imageId);
        assert.deepEqual(await liveBuilders(HOME), []);
    });

    it("killed again, a plain re-run of up (no refresh) terminates the stray builder and builds exactly once", async () => {
        await stack.config({ version: "3" });
        const before = new Set(await liveBuildersEver(HOME));
        const p = stack.start(["up", "--yes", "--skip-preview"]);
        const deadline = Date.now() + 120_000;
        let stray: string | undefined;
        while (!stray) {
            if (Date.now() > deadline) throw new Error("no builder was launched");
            stray = (await liveBuilders(HOME)).find((id) => !before.has(id));
            await sleep(200);
        }
        await sleep(300);
        p.kill();
        await p.done;
        await stack.run(["cancel", "--yes"]);
        const r = await stack.run(["up", "--yes", "--skip-preview"]);
        assert.match(r.stdout, new RegExp(`terminated builder\\(s\\) ${stray} left behind by an interrupted run`), r.stdout);
        const out = await stack.outputs();
        assert.deepEqual(
            (await made(HOME)).map((i) => i.id),
            [out.imageId],
            "exactly one image",
        );
        assert.equal((await made(COPY)).length, 1, "exactly one copy");
        assert.deepEqual(await liveBuilders(HOME), []);
    });

    it("a script change with a failing test: up fails naming the test, the previous image stays published, the untested one is gone", async () => {
        const previous = await stack.outputs();
        await stack.config({ version: "4", test: "fail", testTimeoutMinutes: "0.1" });
        const r = await stack.run(["up", "--yes", "--skip-preview"], { check: false });
        assert.notEqual(r.code, 0);
        const out = r.stdout + r.stderr;
        assert.match(out, /the test of ami-\w+ failed \(test\.userData\)/, out.slice(-3000));
        assert.match(out, /testing the new image/, "the console tail of the test");
        assert.equal(await parameterValue(), previous.imageId, "the parameter still holds the previous image");
        assert.deepEqual(
            (await made(HOME)).map((i) => i.id),
            [previous.imageId],
            "the previous image is there, the untested one is gone",
        );
        assert.deepEqual(
            (await made(COPY)).map((i) => i.id),
            [(previous.imageIds as Record<string, string>)[COPY]],
            "its copy is there, and the untested image was never copied",
        );
        assert.deepEqual(await liveBuilders(HOME), [], "no builder or test instance is left");
    });

    it("fixing the test ships the new image", async () => {
        await stack.config({ test: "pass" });
        await stack.run(["up", "--yes", "--skip-preview"]);
        const out = await stack.outputs();
        assert.equal(await parameterValue(), out.imageId);
        assert.deepEqual(
            (await made(HOME)).map((i) => i.id),
            [out.imageId],
        );
        assert.deepEqual(await liveBuilders(HOME), []);
    });

    it("without a script the base image is baked once it booted, and no builder is left", async () => {
        await stack.run(["config", "rm", "test"]);
        await stack.config({ noScript: "true" });
        const r = await stack.run(["up", "--yes", "--skip-preview"]);
        assert.match(r.stdout, /no script: waiting for it to boot/, r.stdout);
        const out = await stack.outputs();
        assert.equal(await parameterValue(), out.imageId);
        assert.deepEqual(await liveBuilders(HOME), []);
    });

    it("destroy leaves no image, copy, snapshot, parameter or builder", async () => {
        await stack.run(["destroy", "--yes", "--skip-preview"]);
        for (const r of [HOME, COPY]) assert.deepEqual(leftBehind(baseline[r], await inventory(r)), { images: [], snapshots: [] }, r);
        assert.equal(await parameterValue(), undefined);
        assert.deepEqual(await liveBuilders(HOME), []);
    });
});
