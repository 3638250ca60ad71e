#!/usr/bin/env node
// `npm run bench`: sets up, then runs bench/run.ts (see there; results go into BENCHMARKS.md).
"use strict";

const { spawnSync } = require("node:child_process");
const path = require("node:path");
const { ensureSetup, legacyNodeEnv, toolPath, ROOT } = require("./setup");

ensureSetup();
const r = spawnSync(process.execPath, ["-r", "ts-node/register", path.join(ROOT, "bench", "run.ts"), ...process.argv.slice(2)], {
    cwd: ROOT,
    stdio: "inherit",
    // legacyNodeEnv: the AWS SDK's Node-version warning is silenced on Node < 22 only.
    env: { ...process.env, PATH: toolPath(), TS_NODE_TRANSPILE_ONLY: "true", ...legacyNodeEnv() },
});
process.exit(r.status ?? 1);
