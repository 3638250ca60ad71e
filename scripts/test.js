#!/usr/bin/env node
// `npm test`: sets this checkout up (scripts/setup.js: node_modules, the
// package, the Pulumi CLI, moto) and runs every tier in turn:
//
//   unit         mocha + sinon, no network
//   integration  the real AWS SDK against moto on loopback
//   e2e          the real `pulumi` CLI on programs that install the packed package
//   compat       one stack end to end on Node 22 and 24 (npm registry's `node`)
//                × the newest @pulumi/pulumi 3.x and the oldest in the peer range
//   soak         a short soak: the whole pipeline under 30% injected faults (npm run soak: a long one)
//   bench        the quick bench (`npm run bench -- --ci`, about 2 minutes): it must print its summary line
//
// Outside `npm test` (named only, never in CI):
//
//   packer       Packer's amazon-ebs builder against `golden-ami emulator`
//                (npm run test:packer; builds Packer from Go modules the first time)
//
// `npm test -- unit integration` runs only the tiers named. Ends with one line:
// `tests: N passed, N failed, N skipped`.
"use strict";

const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { ensureSetup, legacyNodeEnv, toolPath, ROOT } = require("./setup");

const TIERS = {
    unit: { spec: "test/unit/**/*.test.ts", args: [] },
    integration: {
        spec: "test/integration/**/*.test.ts",
        args: ["--require", "ts-node/register", "--require", "test/support/moto-hooks.ts", "--timeout", "120000"],
    },
    // The tiers below run on the strict emulator (`npx golden-ami emulator`), not on bare moto. `--exit`: the
    // tier ends when its tests do, not when a teardown's leftover retries (a sweep of what it could not delete) give up.
    // The emulators of the tier record every action they serve (emulator/action-log.ts); afterwards
    // test/iam-actions/ checks the README's minimal IAM policy against what golden-ami called.
    e2e: {
        spec: "test/e2e/**/*.test.ts",
        args: ["--require", "ts-node/register", "--require", "test/support/moto-hooks.ts", "--timeout", "900000", "--exit"],
        env: { GOLDEN_AMI_TEST_EC2: "emulator" },
        actionLog: { spec: "test/iam-actions/**/*.test.ts", args: ["--require", "ts-node/register"] },
    },
    compat: {
        spec: "test/compat/**/*.test.ts",
        args: ["--require", "ts-node/register", "--require", "test/support/moto-hooks.ts", "--timeout", "900000", "--exit"],
        env: { GOLDEN_AMI_TEST_EC2: "emulator" },
    },
    soak: {
        spec: "test/soak/**/*.test.ts",
        args: ["--require", "ts-node/register", "--require", "test/support/moto-hooks.ts", "--timeout", "900000", "--exit"],
        env: { GOLDEN_AMI_TEST_EC2: "emulator" },
    },
    // Starts its own emulator (bench/emulator-stack.ts): no moto hooks.
    bench: {
        spec: "test/bench/**/*.test.ts",
        args: ["--require", "ts-node/register", "--timeout", "600000"],
    },
    // Starts `golden-ami emulator` itself, as a user would, so no moto hooks.
    packer: {
        spec: "test/packer/**/*.test.ts",
        args: ["--require", "ts-node/register", "--timeout", "1200000"],
        optIn: true,
        prepare: () => {
            const { packer, env } = require("./packer").ensurePacker();
            return { GOLDEN_AMI_PACKER: packer, ...env };
        },
    },
};

/** The tiers `npm test` runs with no tier named: every one but the opt-in ones. */
const DEFAULT_TIERS = Object.keys(TIERS).filter((t) => !TIERS[t].optIn);

function main() {
    const asked = process.argv.slice(2).filter((a) => !a.startsWith("-"));
    const tiers = asked.length ? asked : DEFAULT_TIERS;
    for (const t of tiers) if (!TIERS[t]) throw new Error(`unknown test tier '${t}'; tiers: ${Object.keys(TIERS).join(", ")}`);

    ensureSetup();
    const totals = { passes: 0, failures: 0, pending: 0 };
    const statsDir = fs.mkdtempSync(path.join(os.tmpdir(), "golden-ami-stats-"));
    let broken = [];
    /** Runs one mocha spec and adds its counts to the totals. */
    const runMocha = (name, spec, args, env) => {
        const statsFile = path.join(statsDir, `${name}.json`);
        const r = spawnSync(process.execPath, [path.join(ROOT, "node_modules", "mocha", "bin", "mocha.js"), ...args, spec], {
            cwd: ROOT,
            stdio: "inherit",
            env: {
                ...process.env,
                PATH: toolPath(),
                TS_NODE_TRANSPILE_ONLY: "true",
                GOLDEN_AMI_TEST_STATS: statsFile,
                // The tiers run on this machine's Node (20): silence the AWS SDK's warning there only.
                // The compat tier's stacks run on Node 22 and 24 without it (test/support/consumer.ts).
                ...legacyNodeEnv(),
                ...env,
            },
        });
        if (!fs.existsSync(statsFile)) {
            broken.push(`${name} (mocha exited ${r.status} before reporting)`);
            return;
        }
        const s = JSON.parse(fs.readFileSync(statsFile, "utf8"));
        totals.passes += s.passes;
        totals.failures += s.failures;
        totals.pending += s.pending;
        if (r.status !== 0 && s.failures === 0) broken.push(`${name} (mocha exited ${r.status})`);
    };
    for (const tier of tiers) {
        console.log(`\n##### ${tier} tests`);
        const { spec, args, env = {}, prepare, actionLog } = TIERS[tier];
        const prepared = prepare ? prepare() : {};
        const log = actionLog ? { GOLDEN_AMI_EMULATOR_ACTION_LOG: path.join(statsDir, `${tier}-actions.jsonl`) } : {};
        runMocha(tier, spec, args, { ...env, ...prepared, ...log });
        if (actionLog) {
            console.log(`\n##### ${tier}: the README's IAM policy against the actions called`);
            runMocha(`${tier}-actions`, actionLog.spec, actionLog.args, { ...log, GOLDEN_AMI_IAM_CHECK_COMPLETE: "1" });
        }
    }
    fs.rmSync(statsDir, { recursive: true, force: true });
    if (broken.length) console.log(`\nbroken tiers: ${broken.join(", ")}`);
    console.log(`\ntests: ${totals.passes} passed, ${totals.failures} failed, ${totals.pending} skipped`);
    process.exit(totals.failures > 0 || broken.length > 0 ? 1 : 0);
}

try {
    main();
} catch (e) {
    console.error(e.message);
    process.exit(1);
}
