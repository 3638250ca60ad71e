// Packer's amazon-ebs builder, unchanged, against `npx golden-ami emulator`:
// it bakes an image from the public Amazon Linux 2023 image, copies it to a
// second region and cleans up after itself. The template
// (test/packer/amazon-ebs.pkr.hcl) sets no option for the emulator but
// `communicator = "none"`; the endpoint and the dummy credentials come from
// the environment the emulator prints.
//
// Not part of `npm test`: `npm run test:packer` (scripts/test.js builds Packer
// and the amazon plugin once from their Go modules, scripts/packer.js, and
// passes them as GOLDEN_AMI_PACKER and PACKER_PLUGIN_PATH).
import {
    DescribeImagesCommand,
    DescribeInstancesCommand,
    DescribeKeyPairsCommand,
    DescribeSecurityGroupsCommand,
    DescribeSnapshotsCommand,
    EC2Client,
    type Image,
} from "@aws-sdk/client-ec2";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";

const ROOT = path.resolve(__dirname, "..", "..");
const TEMPLATE = path.join(__dirname, "amazon-ebs.pkr.hcl");
const HOME = "us-east-1";
const COPY = "us-west-2";
const AMI_NAME = `golden-ami-packer-${process.pid}`;

/** `npx golden-ami emulator --json`: the package's bin, as a user's project runs it. */
async function startCliEmulator(): Promise<{ child: ChildProcess; env: Record<string, string>; stderr: () => string }> {
    const child = spawn(process.execPath, [path.join(ROOT, "dist", "emulator", "cli.js"), "emulator", "--json", "--region", HOME], {
        cwd: ROOT,
        stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const line = await new Promise<string>((resolve, reject) => {
        const rl = readline.createInterface({ input: child.stdout! });
        rl.once("line", (l) => {
            rl.close();
            resolve(l);
        });
        child.once("exit", (code) => reject(new Error(`golden-ami emulator exited ${code} before printing its environment:\n${stderr}`)));
    });
    return { child, env: JSON.parse(line) as Record<string, string>, stderr: () => stderr };
}

interface PackerRun {
    code: number | null;
    /** Packer's -machine-readable lines, split on commas (unescaped). */
    lines: string[][];
    output: string;
}

function runPacker(packer: string, env: NodeJS.ProcessEnv, cwd: string): Promise<PackerRun> {
    return new Promise((resolve, reject) => {
        const child = spawn(packer, ["build", "-machine-readable", "-var", `ami_name=${AMI_NAME}`, TEMPLATE], { cwd, env });
        let output = "";
        child.stdout.on("data", (d: Buffer) => (output += d.toString()));
        child.stderr.on("data", (d: Buffer) => (output += d.toString()));
        child.once("error", reject);
        child.once("exit", (code) => {
            const lines = output
                .split("\n")
                .filter((l) => /^\d+,/.test(l))
                .map((l) => l.split(",").map((f) => f.replace(/%!\(PACKER_COMMA\)/g, ",").replace(/\\n/g, "\n")));
            resolve({ code, lines, output });
        });
    });
}

describe("Packer amazon-ebs against `golden-ami emulator`", function () {
    this.timeout(20 * 60_000);
    let emulator: Awaited<ReturnType<typeof startCliEmulator>> | undefined;
    let run: PackerRun;
    let workDir: string;
    const clients: Record<string, EC2Client> = {};

    before(async function () {
        const packer = process.env.GOLDEN_AMI_PACKER;
        if (!packer) throw new Error("GOLDEN_AMI_PACKER is not set: run this file through `npm run test:packer`");
        emulator = await startCliEmulator();
        workDir = fs.mkdtempSync(path.join(os.tmpdir(), "golden-ami-packer-"));
        // The emulator's environment, and nothing from this machine's AWS setup. HOME stays: a
        // `packer` from PATH finds its plugins (`packer init`) under it when PACKER_PLUGIN_PATH is unset.
        const env: NodeJS.ProcessEnv = {
            PATH: process.env.PATH,
            HOME: process.env.HOME,
            TMPDIR: os.tmpdir(),
            ...(process.env.PACKER_PLUGIN_PATH ? { PACKER_PLUGIN_PATH: process.env.PACKER_PLUGIN_PATH } : {}),
            PACKER_CACHE_DIR: path.join(workDir, "cache"),
            CHECKPOINT_DISABLE: "1",
            AWS_CONFIG_FILE: path.join(workDir, "aws-config"),
            AWS_SHARED_CREDENTIALS_FILE: path.join(workDir, "aws-credentials"),
            ...emulator.env,
        };
        for (const region of [HOME, COPY]) {
            clients[region] = new EC2Client({
                region,
                endpoint: emulator.env.AWS_ENDPOINT_URL_EC2,
                credentials: { accessKeyId: emulator.env.AWS_ACCESS_KEY_ID, secretAccessKey: emulator.env.AWS_SECRET_ACCESS_KEY },
            });
        }
        const started = Date.now();
        run = await runPacker(packer, env, workDir);
        console.log(`      packer build: exit ${run.code} after ${Math.round((Date.now() - started) / 1000)} s`);
    });

    after(async function () {
        for (const c of Object.values(clients)) c.destroy();
        if (emulator && emulator.child.exitCode === null) {
            const exited = new Promise((r) => emulator!.child.once("exit", r));
            emulator.child.kill("SIGTERM");
            await exited;
        }
        if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
    });

    const ui = (type: string) => run.lines.filter((l) => l[2] === "ui" && l[3] === type).map((l) => l.slice(4).join(","));
    const artifacts = (): Record<string, string> => {
        const id = run.lines.find((l) => l[2] === "artifact" && l[4] === "id");
        assert.ok(id, `packer printed no artifact id:\n${run.output}`);
        return Object.fromEntries(
            id
                .slice(5)
                .join(",")
                .split(",")
                .map((pair) => pair.split(":") as [string, string]),
        );
    };
    const image = async (region: string, imageId: string): Promise<Image> => {
        const images = (await clients[region].send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images ?? [];
        assert.equal(images.length, 1, `${imageId} in ${region}`);
        return images[0];
    };

    it("exits 0 and names one image in each region", function () {
        assert.equal(run.code, 0, `packer build failed:\n${ui("error").join("\n") || run.output}`);
        const ids = artifacts();
        assert.deepEqual(Object.keys(ids).sort(), [HOME, COPY]);
        for (const id of Object.values(ids)) assert.match(id, /^ami-[0-9a-f]{8,17}$/);
        assert.notEqual(ids[HOME], ids[COPY]);
    });

    it("baked from the public Amazon Linux 2023 image, mapping the builder's volumes, in both regions", async function () {
        const ids = artifacts();
        const baked = await image(HOME, ids[HOME]);
        const copy = await image(COPY, ids[COPY]);
        for (const [region, img] of [
            [HOME, baked],
            [COPY, copy],
        ] as const) {
            assert.equal(img.Name, AMI_NAME, region);
            assert.equal(img.State, "available", region);
            assert.equal(img.RootDeviceType, "ebs", region);
            assert.equal(img.RootDeviceName, "/dev/xvda", region);
            const byDevice = Object.fromEntries((img.BlockDeviceMappings ?? []).map((m) => [m.DeviceName!, m.Ebs]));
            assert.deepEqual(
                Object.keys(byDevice).sort(),
                ["/dev/sdf", "/dev/xvda"],
                `${region}: ${JSON.stringify(img.BlockDeviceMappings)}`,
            );
            assert.equal(byDevice["/dev/xvda"]?.VolumeSize, 8, `${region}: the base image's root volume`);
            assert.equal(byDevice["/dev/sdf"]?.VolumeSize, 4, `${region}: the template's data volume`);
            assert.equal(byDevice["/dev/sdf"]?.VolumeType, "gp3", region);
            // Each mapping names a snapshot of this account in the image's own region.
            const snapshotIds = Object.values(byDevice).map((e) => e!.SnapshotId!);
            const snapshots = (await clients[region].send(new DescribeSnapshotsCommand({ SnapshotIds: snapshotIds }))).Snapshots ?? [];
            assert.equal(snapshots.length, 2, `${region}: snapshots ${snapshotIds.join(", ")}`);
        }
        // The copy has snapshots of its own.
        const snaps = (img: Image) => new Set((img.BlockDeviceMappings ?? []).map((m) => m.Ebs?.SnapshotId));
        for (const s of snaps(copy)) assert.ok(!snaps(baked).has(s), `copy shares snapshot ${s}`);
        // The source is the public al2023 image the filter picked.
        const source = ui("say")
            .join("\n")
            .match(/Found Image ID: (ami-[0-9a-f]+)/);
        assert.ok(source, `packer did not say which source image it found:\n${run.output}`);
        const base = await image(HOME, source[1]);
        assert.equal(base.ImageOwnerAlias, "amazon");
        assert.match(base.Name!, /^al2023-ami-.*-x86_64$/);
    });

    it("leaves no instance, temporary key pair or security group behind", async function () {
        const said = ui("say").join("\n");
        const keyPair = said.match(/Creating temporary keypair: (packer_\S+)/)?.[1];
        const group = said.match(/Creating temporary security group for this instance: (packer_\S+)/)?.[1];
        assert.ok(keyPair, `packer created no temporary key pair:\n${said}`);
        assert.ok(group, `packer created no temporary security group:\n${said}`);
        for (const region of [HOME, COPY]) {
            const reservations = (await clients[region].send(new DescribeInstancesCommand({}))).Reservations ?? [];
            const alive = reservations.flatMap((r) => r.Instances ?? []).filter((i) => i.State?.Name !== "terminated");
            assert.deepEqual(
                alive.map((i) => `${i.InstanceId} ${i.State?.Name}`),
                [],
                `${region}: instances left`,
            );
            const keys = (await clients[region].send(new DescribeKeyPairsCommand({}))).KeyPairs ?? [];
            assert.deepEqual(
                keys.map((k) => k.KeyName).filter((n) => n?.startsWith("packer_")),
                [],
                `${region}: key pairs left`,
            );
            const groups = (await clients[region].send(new DescribeSecurityGroupsCommand({}))).SecurityGroups ?? [];
            assert.deepEqual(
                groups.map((g) => g.GroupName).filter((n) => n?.startsWith("packer_")),
                [],
                `${region}: security groups left`,
            );
        }
    });
});
