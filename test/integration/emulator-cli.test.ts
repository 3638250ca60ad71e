// `golden-ami emulator` (emulator/cli.ts) as a user runs it: spawned, its
// printed environment used by the SDK, stopped with Ctrl-C (SIGINT).
import {
    CreateImageCommand,
    DescribeImageReferencesCommand,
    EC2Client,
    RunInstancesCommand,
    waitUntilImageAvailable,
    waitUntilInstanceStopped,
} from "@aws-sdk/client-ec2";
import { GetParameterCommand, PutParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import assert from "node:assert/strict";
import { ChildProcess, spawn } from "node:child_process";
import * as path from "node:path";
import { freePort } from "../../emulator/moto-server";

const ROOT = path.resolve(__dirname, "..", "..");

interface Running {
    child: ChildProcess;
    stdout: () => string;
    stderr: () => string;
    exit: Promise<number | null>;
}

function startCli(args: string[], env: NodeJS.ProcessEnv = process.env): Running {
    const child = spawn(process.execPath, ["-r", "ts-node/register", path.join(ROOT, "emulator", "cli.ts"), ...args], {
        cwd: ROOT,
        env: { ...env, TS_NODE_TRANSPILE_ONLY: "true" },
        stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    return { child, stdout: () => out, stderr: () => err, exit };
}

async function until<T>(what: string, probe: () => T | undefined, run: Running, ms = 60_000): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
        const v = probe();
        if (v !== undefined) return v;
        if (run.child.exitCode !== null) assert.fail(`the CLI exited (${run.child.exitCode}) before ${what}: ${run.stderr()}`);
        if (Date.now() > deadline) assert.fail(`no ${what} within ${ms} ms: ${run.stderr()}`);
        await new Promise((r) => setTimeout(r, 100));
    }
}

function alive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch {
        return false;
    }
}

describe("golden-ami emulator (the CLI)", () => {
    const started: Running[] = [];

    afterEach(async () => {
        // Only the CLIs this test spawned, by their pid.
        for (const run of started.splice(0)) {
            if (run.child.exitCode === null) {
                run.child.kill("SIGINT");
                await run.exit;
            }
        }
    });

    it("prints an environment the SDK works with for EC2 and SSM, and stops moto on Ctrl-C", async () => {
        const port = await freePort();
        const run = startCli(["emulator", "--json", "--port", String(port), "--seed", "7"]);
        started.push(run);
        // stdout and stderr are separate pipes: wait for both the environment and moto's pid.
        const motoPid = await until("moto's pid", () => /moto_server listening on \S+ \(pid (\d+)\)/.exec(run.stderr())?.[1], run).then(
            Number,
        );
        const env = await until(
            "environment",
            () => {
                const line = run.stdout().split("\n")[0];
                return run.stdout().includes("\n") ? (JSON.parse(line) as Record<string, string>) : undefined;
            },
            run,
        );
        assert.equal(env.AWS_ENDPOINT_URL_EC2, `http://127.0.0.1:${port}`, "--port is the endpoint's port");
        assert.equal(env.AWS_ENDPOINT_URL_SSM, env.AWS_ENDPOINT_URL_EC2);
        assert.equal(env.AWS_ENDPOINT_URL_AUTO_SCALING, env.AWS_ENDPOINT_URL_EC2);
        assert.equal(env.AWS_ENDPOINT_URL_STS, env.AWS_ENDPOINT_URL_EC2);
        assert.equal(env.AWS_ACCESS_KEY_ID, "testing");
        assert.ok(alive(motoPid), "moto_server runs while the CLI does");

        const credentials = { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY };
        const ec2 = new EC2Client({ region: env.AWS_REGION, endpoint: env.AWS_ENDPOINT_URL_EC2, credentials });
        const ssm = new SSMClient({ region: env.AWS_REGION, endpoint: env.AWS_ENDPOINT_URL_SSM, credentials });
        try {
            // A build instance whose script powers off stops by itself (builders on)...
            const userData = Buffer.from("#!/bin/bash\necho building\npoweroff\n").toString("base64");
            // The public Amazon Linux parameter names a public image the emulator has (RunInstances refuses any other id).
            const base = await ssm.send(
                new GetParameterCommand({ Name: "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64" }),
            );
            const run1 = await ec2.send(
                new RunInstancesCommand({
                    ImageId: base.Parameter!.Value!,
                    InstanceType: "t3.micro",
                    MinCount: 1,
                    MaxCount: 1,
                    UserData: userData,
                }),
            );
            const builder = run1.Instances![0].InstanceId!;
            const stopped = await waitUntilInstanceStopped(
                { client: ec2, maxWaitTime: 30, minDelay: 1, maxDelay: 1 },
                { InstanceIds: [builder] },
            );
            assert.equal(stopped.state, "SUCCESS");
            // ...and image references are answered (moto alone does not know the action).
            const { ImageId } = await ec2.send(new CreateImageCommand({ InstanceId: builder, Name: "cli-test" }));
            // EC2 launches only an available image.
            await waitUntilImageAvailable({ client: ec2, maxWaitTime: 60, minDelay: 1, maxDelay: 1 }, { ImageIds: [ImageId!] });
            const user = await ec2.send(new RunInstancesCommand({ ImageId, InstanceType: "t3.micro", MinCount: 1, MaxCount: 1 }));
            const refs = await ec2.send(
                new DescribeImageReferencesCommand({ ImageIds: [ImageId!], ResourceTypes: [{ ResourceType: "ec2:Instance" }] }),
            );
            assert.deepEqual(
                refs.ImageReferences!.map((r) => r.Arn!.split("/")[1]),
                [user.Instances![0].InstanceId],
            );

            // SSM's JSON protocol: an aws:ec2:image value is validated after PutParameter answers, then readable.
            await ssm.send(new PutParameterCommand({ Name: "/cli-test/ami", Type: "String", DataType: "aws:ec2:image", Value: ImageId }));
            let got: string | undefined;
            for (let i = 0; i < 50 && got !== ImageId; i++) {
                await new Promise((r) => setTimeout(r, 200));
                got = await ssm.send(new GetParameterCommand({ Name: "/cli-test/ami" })).then(
                    (o) => o.Parameter?.Value,
                    () => undefined,
                );
            }
            assert.equal(got, ImageId);

            // So does Auto Scaling's Query protocol (no SDK client in this repository: a signed-looking request by hand).
            const res = await fetch(env.AWS_ENDPOINT_URL_AUTO_SCALING, {
                method: "POST",
                headers: {
                    "content-type": "application/x-www-form-urlencoded; charset=utf-8",
                    authorization: `AWS4-HMAC-SHA256 Credential=testing/20260101/${env.AWS_REGION}/autoscaling/aws4_request, SignedHeaders=host, Signature=0`,
                },
                body: "Action=DescribeAutoScalingGroups&Version=2011-01-01",
            });
            assert.equal(res.status, 200);
            assert.match(await res.text(), /<DescribeAutoScalingGroupsResponse/);

            // And STS's GetCallerIdentity, which Packer's amazon plugin calls first to check the credentials.
            const sts = await fetch(env.AWS_ENDPOINT_URL_STS, {
                method: "POST",
                headers: {
                    "content-type": "application/x-www-form-urlencoded; charset=utf-8",
                    authorization: `AWS4-HMAC-SHA256 Credential=testing/20260101/${env.AWS_REGION}/sts/aws4_request, SignedHeaders=host, Signature=0`,
                },
                body: "Action=GetCallerIdentity&Version=2011-06-15",
            });
            assert.equal(sts.status, 200);
            assert.match(await sts.text(), /<Account>123456789012<\/Account>/);
        } finally {
            ec2.destroy();
            ssm.destroy();
        }

        run.child.kill("SIGINT");
        assert.equal(await run.exit, 0, "Ctrl-C ends it cleanly");
        assert.equal(alive(motoPid), false, "moto_server is stopped with it");
    });

    it("prints export lines without --json", async () => {
        const run = startCli(["emulator"]);
        started.push(run);
        const text = await until("export lines", () => (/AWS_DEFAULT_REGION=.*\n/.test(run.stdout()) ? run.stdout() : undefined), run);
        assert.match(text, /^export AWS_ENDPOINT_URL_EC2=http:\/\/127\.0\.0\.1:\d+$/m);
        assert.match(text, /^export AWS_ENDPOINT_URL_SSM=http:\/\/127\.0\.0\.1:\d+$/m);
        assert.match(text, /^export AWS_ENDPOINT_URL_AUTO_SCALING=http:\/\/127\.0\.0\.1:\d+$/m);
        assert.match(text, /^export AWS_ACCESS_KEY_ID=testing$/m);
        await until("the note on stderr", () => (/eventual consistency off/.test(run.stderr()) ? true : undefined), run);
    });

    it("says plainly that moto_server is missing and exits 2", async () => {
        const run = startCli(["emulator"], { ...process.env, PATH: path.dirname(process.execPath) });
        started.push(run);
        assert.equal(await run.exit, 2);
        assert.match(run.stderr(), /moto_server is not on PATH: install it with `pip install 'moto\[server\]'`/);
        assert.equal(run.stdout(), "", "no environment printed");
    });

    it("refuses an unknown option with the usage and exit code 2", async () => {
        const run = startCli(["emulator", "--prot", "1"]);
        started.push(run);
        assert.equal(await run.exit, 2);
        assert.match(run.stderr(), /unknown option '--prot'/);
        assert.match(run.stderr(), /usage: golden-ami emulator/);
    });

    it("refuses an unknown --lenient name, listing the strict behaviours that can be switched off", async () => {
        const run = startCli(["emulator", "--lenient", "paging,politeness"]);
        started.push(run);
        assert.equal(await run.exit, 2);
        assert.match(run.stderr(), /--lenient takes paging, ssm-image-validation, .*never-500; got 'politeness'/);
    });
});
