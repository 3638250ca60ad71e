// Every TypeScript example in README.md, extracted and run as a user would run
// it: typechecked against the packed package, previewed under the real
// `pulumi` CLI against the local emulator (`startEmulator`, what
// `npx golden-ami emulator` and `npm run demo` run), and the main ones (the
// first AmiFromInstance, the GoldenImage) brought up and destroyed to nothing.
// An example that stops working fails here.
import {
    CreateImageCommand,
    CreateSnapshotCommand,
    CreateVolumeCommand,
    DescribeImagesCommand,
    EC2Client,
    waitUntilImageAvailable,
} from "@aws-sdk/client-ec2";
import { GetParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import assert from "node:assert/strict";
import { createSourceInstance, inventory, leftBehind } from "../../scripts/lib/ec2-fixtures";
import { Emulator, startEmulator } from "../../emulator/emulator";
import { consumerProject, newStack, programDir, Stack } from "../support/consumer";
import { ExampleIds, filesFor, readmeExamples, ReadmeExample, writeExampleProject } from "../support/readme-examples";

const REGION = "us-east-1";
const PUBLIC_AL2023 = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";
const EXAMPLES = readmeExamples();

/** Runs `fn` with the process's AWS environment pointed at the emulator (fixtures and sweeps use the default clients). */
async function inEmulator<T>(emulator: Emulator, fn: () => Promise<T>): Promise<T> {
    const saved = Object.fromEntries(Object.keys(emulator.env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, emulator.env);
    try {
        return await fn();
    } finally {
        for (const [k, v] of Object.entries(saved)) {
            if (v === undefined) delete process.env[k];
            else process.env[k] = v;
        }
    }
}

/** The AMI a public parameter names, when the emulator has it available. */
async function availableImageOf(parameter: string): Promise<string | undefined> {
    const ssm = new SSMClient({ region: REGION });
    const ec2 = new EC2Client({ region: REGION });
    try {
        const value = await ssm.send(new GetParameterCommand({ Name: parameter })).then(
            (r) => r.Parameter?.Value,
            () => undefined,
        );
        if (!value) return undefined;
        const images = await ec2.send(new DescribeImagesCommand({ ImageIds: [value] })).catch(() => ({ Images: [] }));
        return images.Images?.[0]?.State === "available" ? value : undefined;
    } finally {
        ssm.destroy();
        ec2.destroy();
    }
}

function find(what: string, test: (e: ReadmeExample) => boolean): ReadmeExample {
    const found = EXAMPLES.find(test);
    assert.ok(found, `README has no ${what} example any more: update test/e2e/readme-examples.test.ts`);
    return found;
}

describe("README examples (extracted, packed package, real pulumi CLI, emulator)", () => {
    let emulator: Emulator;
    let ids: ExampleIds;
    let parent: string;
    const stacks = new Map<number, Stack>();
    const regions = [REGION, "us-west-2", "eu-west-1"];
    let baseline: Record<string, Awaited<ReturnType<typeof inventory>>>;

    const stackOf = async (example: ReadmeExample): Promise<Stack> => {
        let stack = stacks.get(example.index);
        if (!stack) {
            stack = await newStack(path.join(parent, `readme-${example.index}`), `readme-${example.index}`, {
                ...emulator.env,
                GOLDEN_AMI_POLL_SCALE: "0.05",
            });
            await stack.config({ "aws:region": REGION });
            stacks.set(example.index, stack);
        }
        return stack;
    };
    const sweep = () =>
        inEmulator(emulator, async () => Object.fromEntries(await Promise.all(regions.map(async (r) => [r, await inventory(r)]))));

    before(async function () {
        this.timeout(300_000);
        assert.ok(EXAMPLES.length >= 6, `README has ${EXAMPLES.length} TypeScript examples; expected at least 6`);
        emulator = await startEmulator({ region: REGION, builderBootMs: 300 });
        ids = await inEmulator(emulator, async () => {
            const { instanceId } = await createSourceInstance(REGION, { name: "readme-base" });
            const ec2 = new EC2Client({ region: REGION });
            try {
                const imageId = (await ec2.send(new CreateImageCommand({ InstanceId: instanceId, Name: "readme-legacy-web" }))).ImageId!;
                await waitUntilImageAvailable({ client: ec2, maxWaitTime: 60, minDelay: 1, maxDelay: 2 }, { ImageIds: [imageId] });
                // AmiFromSnapshot's example registers from a snapshot of the user's.
                const volume = await ec2.send(new CreateVolumeCommand({ AvailabilityZone: `${REGION}a`, Size: 8 }));
                const snapshotId = (await ec2.send(new CreateSnapshotCommand({ VolumeId: volume.VolumeId }))).SnapshotId!;
                const out: ExampleIds = { instanceId, imageId, snapshotId };
                // The README's GoldenImage starts from AWS's public Amazon Linux parameter: the emulator serves it.
                assert.ok(await availableImageOf(PUBLIC_AL2023), `the emulator has an available image behind ${PUBLIC_AL2023}`);
                return out;
            } finally {
                ec2.destroy();
            }
        });
        parent = fs.mkdtempSync(path.join(os.tmpdir(), "golden-ami-readme-"));
        for (const e of EXAMPLES) writeExampleProject(parent, e, ids, filesFor(e));
        baseline = await sweep();
    });
    after(async function () {
        this.timeout(120_000);
        await emulator?.stop();
        if (parent) fs.rmSync(parent, { recursive: true, force: true });
    });

    it("every example typechecks against the packed package", async function () {
        this.timeout(300_000);
        const project = await consumerProject();
        const files = await Promise.all(
            EXAMPLES.map(async (e) => path.join(await programDir(path.join(parent, `readme-${e.index}`)), "index.ts")),
        );
        const tsc = path.join(project, "node_modules", "typescript", "bin", "tsc");
        const flags = ["--noEmit", "--strict", "--skipLibCheck", "--esModuleInterop", "--target", "ES2022", "--module", "commonjs"];
        try {
            execFileSync(process.execPath, [tsc, ...flags, "--moduleResolution", "node", ...files], {
                cwd: project,
                encoding: "utf8",
                stdio: "pipe",
            });
        } catch (e) {
            assert.fail(`a README example does not typecheck:\n${(e as { stdout?: string }).stdout}`);
        }
    });

    it("every example previews against the emulator", async function () {
        this.timeout(600_000);
        for (const e of EXAMPLES) {
            const stack = await stackOf(e);
            const r = await stack.run(["preview"], { check: false });
            assert.equal(
                r.code,
                0,
                `README.md line ${e.line} (${e.heading}) fails at preview:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-2000)}`,
            );
        }
    });

    it("the first AmiFromInstance example: up bakes the image, destroy leaves nothing", async function () {
        this.timeout(300_000);
        const e = find("AmiFromInstance", (x) => /new AmiFromInstance\("web"/.test(x.code) && x.code.includes('"i-0123456789abcdef0"'));
        const stack = await stackOf(e);
        await stack.run(["up", "--yes", "--skip-preview"]);
        const out = await stack.outputs();
        assert.match(out.amiId as string, /^ami-/);
        const preview = await stack.run(["preview", "--expect-no-changes"], { check: false });
        assert.equal(preview.code, 0, `a second preview shows changes:\n${preview.stdout}`);
        await stack.run(["destroy", "--yes", "--skip-preview"]);
        const after = await sweep();
        for (const r of regions) assert.deepEqual(leftBehind(baseline[r], after[r]), { images: [], snapshots: [] }, r);
    });

    it("the GoldenImage example: up bakes, copies to us-west-2 and publishes; destroy leaves nothing", async function () {
        this.timeout(600_000);
        const e = find("GoldenImage", (x) => /new GoldenImage\(/.test(x.code));
        const stack = await stackOf(e);
        await stack.run(["up", "--yes", "--skip-preview"]);
        const out = await stack.outputs();
        assert.match(out.amiId as string, /^ami-/);
        const made = await sweep();
        const copies = leftBehind(baseline["us-west-2"], made["us-west-2"]).images;
        assert.equal(copies.length, 1, `one copy in us-west-2: ${JSON.stringify(copies)}`);
        const published = await inEmulator(emulator, async () => {
            const ssm = new SSMClient({ region: REGION });
            try {
                return (await ssm.send(new GetParameterCommand({ Name: "/golden/web/latest" }))).Parameter?.Value;
            } finally {
                ssm.destroy();
            }
        });
        assert.equal(published, out.amiId, "the image id is published");
        const again = await stack.run(["preview", "--expect-no-changes"], { check: false });
        assert.equal(again.code, 0, `a second preview shows changes:\n${again.stdout}`);
        await stack.run(["destroy", "--yes", "--skip-preview"]);
        const after = await sweep();
        for (const r of regions) assert.deepEqual(leftBehind(baseline[r], after[r]), { images: [], snapshots: [] }, r);
    });
});
