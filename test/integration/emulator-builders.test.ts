// Build instances in the emulator (emulator/builders.ts): user data that
// powers the instance off stops it, any other leaves it running, and the
// console output reads like cloud-init's log.
import {
    DescribeInstanceStatusCommand,
    DescribeInstancesCommand,
    EC2Client,
    GetConsoleOutputCommand,
    RunInstancesCommand,
    TerminateInstancesCommand,
    waitUntilInstanceStopped,
    waitUntilInstanceTerminated,
} from "@aws-sdk/client-ec2";
import assert from "node:assert/strict";
import { builderEmulation, BuilderEmulation, BuildersOptions, playScript, readUserData } from "../../emulator/builders";
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
        await sleep(1000);
        assert.equal(builders!.instance(id)?.outcome, "failed");
        assert.equal(await stateOf(id), "running");
        const log = await consoleOf(id);
        assert.match(log, /\+ make install\n.*\+ exit 1\n/s);
        assert.match(log, /part-001 \[1\]/);
        assert.match(log, /cc_scripts_user\.py\[WARNING\]: Failed to run module scripts-user/);
        assert.doesNotMatch(log, /Power down/);
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

    it("recognises the documented power-off commands; the script ends there", () => {
        for (const cmd of ["poweroff", "shutdown -h now", "systemctl poweroff", "halt -p", "sudo poweroff"]) {
            assert.equal(readUserData(script("echo hi", cmd, "", "  ")).powersOff, true, cmd);
        }
        assert.doesNotMatch(
            readUserData(script("poweroff", "echo after")).run!.console.join("\n"),
            /after/,
            "nothing runs after the power-off",
        );
        assert.equal(readUserData(script("reboot")).powersOff, false);
        assert.equal(readUserData(Buffer.from("#cloud-config\npackages: [nginx]\n").toString("base64")).powersOff, false, "not a script");
    });

    it("plays set -e, failing commands, echo and a power-off trap as bash would", () => {
        const plain = (...lines: string[]) => ["#!/bin/bash", ...lines];
        assert.deepEqual(
            playScript(plain("set -e", "false", "poweroff")),
            { console: ["+ false"], powersOff: false, exitStatus: 1 },
            "set -e stops at a failure",
        );
        const on = playScript(plain("false", 'echo "golden-ami: success"', "poweroff"));
        assert.equal(on.powersOff, true, "without set -e a failure does not stop the script");
        assert.deepEqual(on.console, ["+ false", '+ echo "golden-ami: success"', "golden-ami: success", "+ poweroff"]);
        const trapped = playScript(plain("set -euo pipefail", "trap 'sudo poweroff' EXIT", "false", "echo unreachable"));
        assert.equal(trapped.powersOff, true, "an EXIT trap powers off even after a failure");
        assert.ok(!trapped.console.includes("unreachable"));
        assert.deepEqual(playScript(plain("echo to a file > /tmp/x", "echo shown > /dev/console", "exit 3")).console, [
            "+ echo to a file > /tmp/x",
            "+ echo shown > /dev/console",
            "shown",
            "+ exit 3",
        ]);
        // A trailing comment is not part of the command (README's own script has one on its echo line).
        assert.deepEqual(playScript(plain('echo "golden-ami: success"  # to the console', "poweroff")).console, [
            '+ echo "golden-ami: success"',
            "golden-ami: success",
            "+ poweroff",
        ]);
    });

    it("answers status checks initializing until the instance's seeded delay has passed, then ok; boot log without user data", async () => {
        await through({ builderBootMs: 1500, seed: 9 });
        const id = await launch();
        const status = async () => (await ec2.send(new DescribeInstanceStatusCommand({ InstanceIds: [id] }))).InstanceStatuses?.[0];
        const early = await status();
        assert.equal(early?.InstanceState?.Name, "running");
        assert.equal(early?.SystemStatus?.Status, "initializing");
        assert.equal(early?.InstanceStatus?.Status, "initializing");
        assert.equal(early?.InstanceStatus?.Details?.[0]?.Status, "initializing");
        const okAt = builders!.instance(id)!.statusOkAt.getTime();
        await sleep(Math.max(0, okAt - Date.now()) + 50);
        const later = await status();
        assert.equal(later?.SystemStatus?.Status, "ok");
        assert.equal(later?.InstanceStatus?.Status, "ok");
        assert.match(await consoleOf(id), /running 'modules:final'/, "an instance without user data gets a boot log");
        assert.equal(await stateOf(id), "running", "nothing powers it off");
    });
});
