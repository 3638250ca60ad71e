// Build instances in the emulator (emulator/builders.ts): user data that
// powers the instance off stops it, any other leaves it running, and the
// console output reads like cloud-init's log.
import {
    DescribeInstancesCommand,
    EC2Client,
    GetConsoleOutputCommand,
    RunInstancesCommand,
    TerminateInstancesCommand,
    waitUntilInstanceStopped,
    waitUntilInstanceTerminated,
} from "@aws-sdk/client-ec2";
import assert from "node:assert/strict";
import { builderEmulation, BuilderEmulation, BuildersOptions, readUserData } from "../../emulator/builders";
import { Ec2Proxy, startEc2Proxy } from "../../emulator/ec2-proxy";
import { currentMoto } from "../support/moto-hooks";

const REGION = "us-east-1";
const BASE_IMAGE = "ami-12c6146b"; // moto accepts any well-formed id for RunInstances

const script = (...lines: string[]) => Buffer.from(["#!/bin/bash", "set -euxo pipefail", ...lines, ""].join("\n")).toString("base64");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("emulator: build instances", () => {
    let proxy: Ec2Proxy | undefined;
    let builders: BuilderEmulation | undefined;
    let ec2: EC2Client;
    const launched: string[] = [];

    async function through(options: BuildersOptions) {
        builders = builderEmulation(options);
        proxy = await startEc2Proxy({ target: currentMoto().endpoint, handlers: [builders.handler] });
        ec2 = new EC2Client({ region: REGION, endpoint: proxy.endpoint });
    }

    async function launch(userData?: string, behaviour?: "stop" | "terminate"): Promise<string> {
        const run = await ec2.send(
            new RunInstancesCommand({
                ImageId: BASE_IMAGE,
                InstanceType: "t3.micro",
                MinCount: 1,
                MaxCount: 1,
                UserData: userData,
                InstanceInitiatedShutdownBehavior: behaviour,
            }),
        );
        const id = run.Instances![0].InstanceId!;
        launched.push(id);
        return id;
    }

    async function stateOf(id: string): Promise<string | undefined> {
        const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
        return out.Reservations![0].Instances![0].State!.Name;
    }

    async function consoleOf(id: string): Promise<string> {
        const out = await ec2.send(new GetConsoleOutputCommand({ InstanceId: id }));
        return Buffer.from(out.Output ?? "", "base64").toString("utf8");
    }

    afterEach(async () => {
        builders?.dispose();
        await proxy?.stop();
        ec2?.destroy();
        proxy = undefined;
        const direct = new EC2Client({ region: REGION });
        if (launched.length) await direct.send(new TerminateInstancesCommand({ InstanceIds: launched.splice(0) }));
        direct.destroy();
    });

    it("stops an instance whose script ends in a power-off command, after the boot delay", async () => {
        await through({ builderBootMs: 1500, seed: 3 });
        const id = await launch(script("yum install -y nginx", "echo built > /etc/golden", "shutdown -h now"));
        assert.equal(await stateOf(id), "running", "running while the script runs");
        const early = await consoleOf(id);
        assert.match(early, /running 'modules:final'/);
        assert.doesNotMatch(early, /yum install/, "the script's lines are not in the log before it has run");

        const waited = await waitUntilInstanceStopped({ client: ec2, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { InstanceIds: [id] });
        assert.equal(waited.state, "SUCCESS");
        const log = await consoleOf(id);
        assert.match(
            log,
            /\+ yum install -y nginx\n.*\+ echo built > \/etc\/golden\n.*\+ shutdown -h now\n/s,
            "each command echoed in order",
        );
        assert.match(log, /reboot: Power down/);
        assert.doesNotMatch(log, /WARNING/);
        assert.equal(builders!.instance(id)?.outcome, "stopped");
    });

    it("terminates it instead when InstanceInitiatedShutdownBehavior is terminate", async () => {
        await through({ builderBootMs: 200 });
        const id = await launch(script("sudo systemctl poweroff"), "terminate");
        const waited = await waitUntilInstanceTerminated({ client: ec2, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { InstanceIds: [id] });
        assert.equal(waited.state, "SUCCESS");
    });

    it("leaves an instance running when its script does not power off, and logs a failed scripts-user", async () => {
        await through({ builderBootMs: 200 });
        const id = await launch(script("make install", "exit 1"));
        const plain = await launch(); // no user data: not a build instance, moto's own console output
        await sleep(1000);
        assert.equal(builders!.instance(id)?.outcome, "failed");
        assert.equal(await stateOf(id), "running");
        const log = await consoleOf(id);
        assert.match(log, /\+ make install\n.*\+ exit 1\n/s);
        assert.match(log, /cc_scripts_user\.py\[WARNING\]: Failed to run module scripts-user/);
        assert.doesNotMatch(log, /Power down/);
        assert.equal(builders!.instance(plain), undefined);
        assert.doesNotMatch(await consoleOf(plain), /cloud-init\[780\]/, "an instance without user data gets moto's answer");
    });

    it("draws the same delays from the same seed", async () => {
        const delays = async (seed: number) => {
            await through({ builderBootMs: 60_000, seed });
            const ids = [await launch(script("poweroff")), await launch(script("poweroff"))];
            const out = ids.map((id) => {
                const s = builders!.instance(id)!;
                return s.endsAt.getTime() - s.launchedAt.getTime();
            });
            builders!.dispose();
            await proxy!.stop();
            ec2.destroy();
            return out;
        };
        const a = await delays(42);
        const b = await delays(42);
        const c = await delays(43);
        assert.deepEqual(a, b);
        assert.notDeepEqual(a, c);
        for (const d of [...a, ...c]) assert.ok(d >= 30_000 && d <= 90_000, `delay ${d} within builderBootMs × 0.5..1.5`);
    });

    it("recognises the documented power-off commands on the last non-empty line only", () => {
        for (const cmd of ["poweroff", "shutdown -h now", "systemctl poweroff", "halt -p", "sudo poweroff"]) {
            assert.equal(readUserData(script("echo hi", cmd, "", "  ")).powersOff, true, cmd);
        }
        assert.equal(readUserData(script("poweroff", "echo after")).powersOff, false, "a command after the power-off");
        assert.equal(readUserData(script("reboot")).powersOff, false);
        assert.equal(readUserData(Buffer.from("#cloud-config\npackages: [nginx]\n").toString("base64")).powersOff, false, "not a script");
    });
});
