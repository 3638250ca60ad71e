#!/usr/bin/env node
// `npm run demo`: the whole life of an AMI under the real `pulumi` CLI.
//
// Against the local EC2 emulator by default (moto_server with the golden-ami
// proxy in front of it, as `npx golden-ami emulator` runs it, so deregistration
// protection, deprecation and pending images behave as on EC2): starts it, launches a source
// instance there, then `pulumi up` (bake the AMI), a tag change through
// `pulumi preview --diff` and `pulumi up` (updated in place), `pulumi destroy`,
// and a sweep that reports what is left: nothing.
//
// `npm run demo -- --aws` runs the same stack against real AWS with your own
// credentials; give the instance with GOLDEN_AMI_SOURCE_INSTANCE=i-... .
"use strict";

const path = require("node:path");
const { ensureSetup, legacyNodeEnv, ROOT } = require("./setup");
const { pulumiEnv, runPulumi } = require("./lib/pulumi");

const useAws = process.argv.includes("--aws");
const STACK = useAws ? "aws" : "local";

function say(msg) {
    console.log(`\n=== ${msg}`);
}

async function main() {
    ensureSetup();
    const { createSourceInstance, inventory, leftBehind } = require("./lib/ec2-fixtures");
    const { startEmulator } = require("./lib/load-emulator");
    let emulator;
    // On Node < 22 (unsupported) the AWS SDK warns on every process that its
    // releases after January 2027 need 22; the demo's output stays readable
    // there. On supported Node versions nothing is silenced.
    let extraEnv = { ...legacyNodeEnv() };
    Object.assign(process.env, extraEnv);
    const region = process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || "us-east-1";
    try {
        if (!useAws) {
            emulator = await startEmulator({ region, log: (m) => console.log(m) });
            extraEnv = { ...extraEnv, ...emulator.env };
            Object.assign(process.env, extraEnv);
        }
        const env = pulumiEnv(path.join(ROOT, ".pulumi-state"), extraEnv);
        const pulumi = (args, opts = {}) => runPulumi(args, { cwd: ROOT, env, echo: true, ...opts });

        let instanceId = process.env.GOLDEN_AMI_SOURCE_INSTANCE;
        if (!instanceId) {
            if (useAws) throw new Error("demo --aws: set GOLDEN_AMI_SOURCE_INSTANCE=i-... to the instance to bake");
            say("launching a source instance in the emulator");
            ({ instanceId } = await createSourceInstance(region));
            console.log(`source instance: ${instanceId}`);
        }
        const before = await inventory(region);

        // A fresh stack each run: state from an interrupted earlier run is not reused.
        if (!useAws) await pulumi(["stack", "rm", STACK, "--yes", "--force"], { check: false, echo: false });
        await pulumi(["stack", "select", STACK, "--create"]);
        await pulumi(["config", "set", "aws:region", region]);
        await pulumi(["config", "set", "sourceInstanceId", instanceId]);
        await pulumi(["config", "set", "version", "1.0.0"]);

        say("pulumi up: bake the AMI and wait until it is available");
        await pulumi(["up", "--yes", "--skip-preview"]);
        await pulumi(["stack", "output", "--json"]);

        say("a tag change: pulumi preview --diff shows an update in place, not a replacement");
        await pulumi(["config", "set", "version", "1.1.0"]);
        await pulumi(["preview", "--diff"]);
        await pulumi(["up", "--yes", "--skip-preview"]);

        say("pulumi destroy: deregister the AMI and delete its snapshots");
        await pulumi(["destroy", "--yes", "--skip-preview"]);

        const left = leftBehind(before, await inventory(region));
        say(`left behind in ${region}: ${left.images.length} AMIs, ${left.snapshots.length} snapshots`);
        for (const x of [...left.images, ...left.snapshots]) console.log(`  ${x.id}`);
        if (!useAws) await pulumi(["stack", "rm", STACK, "--yes"], { echo: false });
        if (left.images.length || left.snapshots.length) process.exitCode = 1;
    } finally {
        if (emulator) await emulator.stop();
    }
}

main().catch((e) => {
    console.error(`demo failed: ${e.message}`);
    process.exit(1);
});
