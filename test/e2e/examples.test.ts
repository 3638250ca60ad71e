// Every example in examples/ typechecks against the packed package and runs
// end to end under the real `pulumi` CLI against moto, as a user would run it.
import {
    CreateImageCommand,
    DeregisterImageCommand,
    DescribeImagesCommand,
    DescribeInstancesCommand,
    DescribeLaunchTemplateVersionsCommand,
    EC2Client,
    waitUntilImageAvailable,
} from "@aws-sdk/client-ec2";
import { GetParameterCommand, PutParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { fromTemporaryCredentials } from "@aws-sdk/credential-providers";
import { execFile, execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import assert from "node:assert/strict";
import { motoEnv } from "../../scripts/lib/moto";
import { createSourceInstance, inventory, leftBehind, registerSnapshotImage } from "../../scripts/lib/ec2-fixtures";
import { consumer, consumerProject, newStack, nodeEnv, programDir } from "../support/consumer";
import { pulumiEnv } from "../../scripts/lib/pulumi";
import { currentMoto } from "../support/moto-hooks";
import { sweepAfterSuite } from "../support/sweep-teardown";
import { builderEmulation } from "../../emulator/builders";
import { startEc2Proxy } from "../../emulator/ec2-proxy";

const ROOT = path.resolve(__dirname, "..", "..");
const EXAMPLES = fs.readdirSync(path.join(ROOT, "examples")).filter((d) => fs.existsSync(path.join(ROOT, "examples", d, "index.ts")));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function sweep(regions: string[]) {
    return Object.fromEntries(await Promise.all(regions.map(async (r) => [r, await inventory(r)] as const)));
}

/** A KMS key with this alias in a region, through the emulator's endpoint (KMS's JSON protocol, passed on to moto). */
async function createKmsAlias(endpoint: string, region: string, alias: string): Promise<void> {
    const call = async (target: string, body: object) => {
        const reply = await fetch(endpoint, {
            method: "POST",
            headers: {
                "content-type": "application/x-amz-json-1.1",
                "x-amz-target": `TrentService.${target}`,
                authorization: `AWS4-HMAC-SHA256 Credential=testing/20260101/${region}/kms/aws4_request, SignedHeaders=host, Signature=0`,
            },
            body: JSON.stringify(body),
        });
        const text = await reply.text();
        assert.ok(reply.ok, `KMS ${target} in ${region}: HTTP ${reply.status} ${text.slice(0, 200)}`);
        return JSON.parse(text || "{}") as { KeyMetadata?: { KeyId: string } };
    };
    const key = await call("CreateKey", { Description: "golden-ami e2e: the DR copies' key" });
    await call("CreateAlias", { AliasName: alias, TargetKeyId: key.KeyMetadata!.KeyId });
}

describe("examples (packed package, real pulumi CLI, moto)", () => {
    it("every example typechecks against the packed package", async () => {
        const project = await consumerProject();
        for (const example of EXAMPLES) {
            const dir = await programDir(`examples/${example}`);
            const tsc = path.join(project, "node_modules", "typescript", "bin", "tsc");
            try {
                execFileSync(process.execPath, [tsc, "--noEmit", "-p", "tsconfig.json"], { cwd: dir, encoding: "utf8", stdio: "pipe" });
            } catch (e) {
                assert.fail(`${example} does not typecheck:\n${(e as { stdout?: string }).stdout}`);
            }
        }
        assert.deepEqual(EXAMPLES.sort(), [
            "adopt-existing-ami",
            "golden-image",
            "golden-pipeline",
            "multi-region",
            "org-retention",
            "retention-in-pull-requests",
        ]);
    });

    it("golden-image: bakes, copies encrypted to the DR region, plans retention, and destroys to nothing", async () => {
        const regions = ["us-east-2", "us-west-1"];
        const { instanceId } = await createSourceInstance(regions[0]);
        const before = await sweep(regions);
        // The DR key the example names exists there, as it must on EC2 (a copy to a key that does not exist ends `failed`).
        await createKmsAlias(currentMoto().endpoint, regions[1], "alias/ami-dr");
        const stack = await newStack("examples/golden-image", "golden", motoEnv(currentMoto().endpoint, regions[0]));
        await stack.config({
            "aws:region": regions[0],
            sourceInstanceId: instanceId,
            drRegion: regions[1],
            drKmsKey: "alias/ami-dr",
            version: "2.0.0",
        });
        await stack.run(["up", "--yes", "--skip-preview"]);
        const out = await stack.outputs();
        assert.match(out.imageId as string, /^ami-/);
        assert.match(out.drImageId as string, /^ami-/);
        const dr = (await inventory(regions[1])).images.find((i: { id: string }) => i.id === out.drImageId);
        assert.ok(dr, "the copy is in the DR region");
        const published = async (region: string) =>
            new SSMClient({ region }).send(new GetParameterCommand({ Name: "/golden/web/golden" })).then(
                (r) => r.Parameter?.Value,
                (e) => (e.name === "ParameterNotFound" ? undefined : Promise.reject(e)),
            );
        assert.equal(out.parameter, "/golden/web/golden");
        assert.equal(await published(regions[0]), out.imageId, "the image id is published in its region");
        assert.equal(await published(regions[1]), out.drImageId, "and the copy's in the DR region");
        await stack.run(["destroy", "--yes", "--skip-preview"]);
        assert.equal(await published(regions[0]), undefined, "destroy deletes the parameter");
        const after = await sweep(regions);
        for (const r of regions) assert.deepEqual(leftBehind(before[r], after[r]), { images: [], snapshots: [] }, r);
    });

    it("golden-pipeline: builds from the base and provision.sh, copies, publishes to SSM for a launch template, destroys to nothing", async () => {
        const regions = ["eu-south-1", "eu-central-2"];
        const { baseImageId } = await createSourceInstance(regions[0], { name: "example-al2023" });
        const ssm = new SSMClient({ region: regions[0] });
        const ec2 = new EC2Client({ region: regions[0] });
        // Moto runs no user data: the emulator's build instances play provision.sh (its marker and poweroff).
        const builders = builderEmulation({ seed: 3, builderBootMs: 500 });
        const proxy = await startEc2Proxy({ target: currentMoto().endpoint, handlers: [builders.handler] });
        try {
            await ssm.send(
                new PutParameterCommand({ Name: "/example/al2023", Value: baseImageId, Type: "String", DataType: "aws:ec2:image" }),
            );
            const before = await sweep(regions);
            const stack = await newStack("examples/golden-pipeline", "pipeline", {
                ...motoEnv(proxy.endpoint, regions[0]),
                AWS_ENDPOINT_URL_SSM: currentMoto().endpoint,
                GOLDEN_AMI_POLL_SCALE: "0.05",
            });
            await stack.config({ "aws:region": regions[0], baseParameter: "/example/al2023", copyRegion: regions[1] });
            await stack.run(["up", "--yes", "--skip-preview"]);
            const out = await stack.outputs();
            assert.equal(out.baseImageId, baseImageId);
            assert.deepEqual(Object.keys(out.imageIds as object).sort(), [...regions].sort());
            const published = await ssm.send(new GetParameterCommand({ Name: "/golden/web/latest" }));
            assert.equal(published.Parameter?.Value, out.imageId);
            const versions = await ec2.send(
                new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: out.launchTemplateId as string, Versions: ["$Latest"] }),
            );
            assert.equal(versions.LaunchTemplateVersions?.[0].LaunchTemplateData?.ImageId, "resolve:ssm:/golden/web/latest");
            const builder = await ec2.send(
                new DescribeInstancesCommand({ Filters: [{ Name: "tag-key", Values: ["golden-ami:builder"] }] }),
            );
            const launched = builder.Reservations!.flatMap((r) => r.Instances ?? []);
            assert.equal(launched.length, 1, "one builder");
            assert.equal(builders.instance(launched[0].InstanceId!)?.outcome, "stopped", "provision.sh powered it off");
            assert.equal(launched[0].State?.Name, "terminated", "the builder is terminated");
            await stack.run(["destroy", "--yes", "--skip-preview"]);
            const after = await sweep(regions);
            for (const r of regions) assert.deepEqual(leftBehind(before[r], after[r]), { images: [], snapshots: [] }, r);
            await assert.rejects(ssm.send(new GetParameterCommand({ Name: "/golden/web/latest" })), /ParameterNotFound/);
        } finally {
            builders.dispose();
            await proxy.stop();
            ssm.destroy();
            ec2.destroy();
        }
    });

    it("multi-region: one copy per region, outputs per region, nothing left after destroy", async () => {
        const source = "ca-central-1";
        const regions = ["sa-east-1", "eu-north-1"];
        const { instanceId } = await createSourceInstance(source);
        const ec2 = new EC2Client({ region: source });
        const ami = (await ec2.send(new CreateImageCommand({ InstanceId: instanceId, Name: "example-multi-region-source" }))).ImageId!;
        ec2.destroy();
        const before = await sweep(regions);
        const stack = await newStack("examples/multi-region", "multi", motoEnv(currentMoto().endpoint, source));
        await stack.config({ "aws:region": source, sourceAmiId: ami });
        for (const [i, r] of regions.entries()) await stack.run(["config", "set", "--path", `regions[${i}]`, r]);
        await stack.run(["up", "--yes", "--skip-preview"]);
        const ids = (await stack.outputs()).imageIds as Record<string, string>;
        assert.deepEqual(Object.keys(ids).sort(), [...regions].sort());
        await stack.run(["destroy", "--yes", "--skip-preview"]);
        const after = await sweep(regions);
        for (const r of regions) assert.deepEqual(leftBehind(before[r], after[r]), { images: [], snapshots: [] }, r);
    });

    it("retention-in-pull-requests: preview --diff names the AMIs a merge retires", async () => {
        const region = "ap-south-1";
        const { instanceId } = await createSourceInstance(region);
        const ec2 = new EC2Client({ region });
        const amis: string[] = [];
        for (let n = 1; n <= 3; n++) {
            amis.push(
                (
                    await ec2.send(
                        new CreateImageCommand({
                            InstanceId: instanceId,
                            Name: `app-example-${n}`,
                            TagSpecifications: [{ ResourceType: "image", Tags: [{ Key: "App", Value: "shop" }] }],
                        }),
                    )
                ).ImageId!,
            );
            await sleep(1100);
        }
        // Baked a while ago, as a PR's images are: available (a pending image is never retired, nor counted as newest).
        await waitUntilImageAvailable({ client: ec2, maxWaitTime: 120, minDelay: 1, maxDelay: 2 }, { ImageIds: amis });
        ec2.destroy();
        const stack = await newStack("examples/retention-in-pull-requests", "pr", motoEnv(currentMoto().endpoint, region));
        await stack.config({ "aws:region": region, keepLatest: "1" });
        const preview = await stack.run(["preview", "--diff"]);
        assert.ok(preview.stdout.includes(amis[0]) && preview.stdout.includes(amis[1]), preview.stdout);
        assert.ok(!preview.stdout.includes(amis[2]), "the newest is kept");
        await stack.run(["up", "--yes", "--skip-preview"]);
        const left = (await inventory(region)).images.map((i: { id: string }) => i.id);
        assert.ok(left.includes(amis[2]) && !left.includes(amis[0]) && !left.includes(amis[1]));
        await stack.run(["destroy", "--yes", "--skip-preview"]);
        assert.ok(fs.existsSync(path.join(ROOT, "examples", "retention-in-pull-requests", ".github", "workflows", "preview.yml")));
    });

    it("adopt-existing-ami: adopts an AMI made by hand, tags it, and the policy retires it once a newer one exists", async () => {
        const region = "eu-west-3";
        const { instanceId } = await createSourceInstance(region);
        const ec2 = new EC2Client({ region });
        try {
            const legacy = (await ec2.send(new CreateImageCommand({ InstanceId: instanceId, Name: "web-legacy" }))).ImageId!;
            await waitUntilImageAvailable({ client: ec2, maxWaitTime: 120, minDelay: 1, maxDelay: 2 }, { ImageIds: [legacy] });
            const imagesBefore = (await inventory(region)).images.length;
            const stack = await newStack("examples/adopt-existing-ami", "adopt", motoEnv(currentMoto().endpoint, region));
            await stack.config({ "aws:region": region, legacyAmiId: legacy });
            await stack.run(["up", "--yes", "--skip-preview"]);
            const out = await stack.outputs();
            assert.equal(out.adoptedImageId, legacy);
            assert.equal(out.adoptedImageName, "web-legacy");
            assert.equal((out.retiredNext as { total: number }).total, 0);
            assert.equal((await inventory(region)).images.length, imagesBefore, "no image was made");
            const tags = (await ec2.send(new DescribeImagesCommand({ ImageIds: [legacy] }))).Images![0].Tags;
            assert.deepEqual(tags, [
                { Key: "App", Value: "web" },
                { Key: "Origin", Value: "adopted" },
            ]);

            await sleep(1100);
            const newer = await ec2.send(
                new CreateImageCommand({
                    InstanceId: instanceId,
                    Name: "web-new",
                    TagSpecifications: [{ ResourceType: "image", Tags: [{ Key: "App", Value: "web" }] }],
                }),
            );
            // A newer image counts once it is available (EC2 images are pending for minutes).
            await waitUntilImageAvailable({ client: ec2, maxWaitTime: 120, minDelay: 1, maxDelay: 2 }, { ImageIds: [newer.ImageId!] });
            const preview = await stack.run(["preview", "--diff"]);
            assert.ok(preview.stdout.includes(legacy), preview.stdout);
            await stack.run(["up", "--yes", "--skip-preview"]);
            assert.ok(
                !(await inventory(region)).images.some((i: { id: string }) => i.id === legacy),
                "the policy retired the adopted image",
            );
            await stack.run(["refresh", "--yes", "--skip-preview"]);
            await stack.run(["destroy", "--yes", "--skip-preview"]);
        } finally {
            ec2.destroy();
        }
    });

    it("org-retention: one stack per account (Automation API), preview then up, a summary line per account", async () => {
        // Two accounts: the caller's (moto's default) and a role's; the role account keeps 1, the caller's 5.
        const region = "ap-southeast-2";
        const accounts = { caller: "123456789012", other: "111122223333" };
        const roleArn = (account: string) => `arn:aws:iam::${account}:role/golden-ami-retention`;
        const mine = new EC2Client({ region });
        const theirs = new EC2Client({
            region,
            credentials: fromTemporaryCredentials({
                params: { RoleArn: roleArn(accounts.other), RoleSessionName: "e2e-seed" },
                clientConfig: { region },
            }),
        });
        const register = (client: EC2Client, n: number): Promise<string> => registerSnapshotImage(client, region, `org-example-${n}`);
        const owned = async (client: EC2Client) => {
            const out = await client.send(
                new DescribeImagesCommand({ Owners: ["self"], Filters: [{ Name: "name", Values: ["org-example-*"] }] }),
            );
            return (out.Images ?? [])
                .filter((i) => i.State !== "deregistered")
                .map((i) => i.ImageId!)
                .sort();
        };
        const images = { mine: [] as string[], theirs: [] as string[] };
        try {
            // Three images in each account, one second apart (creation dates have one-second resolution).
            for (let n = 1; n <= 3; n++) {
                const [m, t] = await Promise.all([register(mine, n), register(theirs, n)]);
                images.mine.push(m);
                images.theirs.push(t);
                await sleep(1100);
            }
            const dir = await programDir("examples/org-retention");
            fs.writeFileSync(
                path.join(dir, "accounts.json"),
                JSON.stringify({
                    namePattern: "org-example-*",
                    keepLatest: 1,
                    concurrency: 2,
                    accounts: [
                        { accountId: accounts.caller, roleArn: roleArn(accounts.caller), regions: [region], keepLatest: 5 },
                        { accountId: accounts.other, roleArn: roleArn(accounts.other), regions: [region], externalId: "e2e-org" },
                    ],
                }),
            );
            const { path: PATH, nodeVersion } = await consumer();
            const env = nodeEnv(pulumiEnv(path.join(dir, ".state"), { ...motoEnv(currentMoto().endpoint, region), PATH }), nodeVersion);
            const script = (args: string[]) =>
                new Promise<string>((resolve, reject) =>
                    execFile(
                        process.execPath,
                        ["-r", "ts-node/register/transpile-only", "index.ts", "accounts.json", ...args],
                        { cwd: dir, env, encoding: "utf8", maxBuffer: 16 << 20 },
                        (e, stdout, stderr) => (e ? reject(new Error(`${e.message}\n${stdout}\n${stderr}`)) : resolve(stdout)),
                    ),
                );
            const preview = await script([]);
            const line = (account: string, rest: string) => `account ${account} (${region}): ${rest}`;
            assert.ok(preview.includes(line(accounts.caller, "preview: would retire 0, kept 0, failed 0")), preview);
            assert.ok(preview.includes(line(accounts.other, "preview: would retire 2, kept 0, failed 0")), preview);
            assert.deepEqual(await owned(theirs), [...images.theirs].sort(), "preview retires nothing");
            const up = await script(["--up"]);
            assert.ok(up.includes(line(accounts.caller, "up: retired 0, kept 0, failed 0")), up);
            assert.ok(up.includes(line(accounts.other, "up: retired 2, kept 0, failed 0")), up);
            assert.ok(up.includes("2 accounts, 0 with failures (up)"), up);
            assert.deepEqual(await owned(theirs), [images.theirs[2]], "the role account keeps its newest only");
            assert.deepEqual(await owned(mine), [...images.mine].sort(), "the caller's account keeps 5: all stay");
        } finally {
            for (const id of await owned(theirs))
                await theirs.send(new DeregisterImageCommand({ ImageId: id, DeleteAssociatedSnapshots: true }));
            mine.destroy();
            theirs.destroy();
        }
    });

    // Last, so it runs after the suite's own teardown (instances terminated, clients closed).
    sweepAfterSuite(["us-east-2", "us-west-1", "sa-east-1", "eu-north-1", "ap-south-1", "eu-west-3", "ap-southeast-2"]);
});
