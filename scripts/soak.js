#!/usr/bin/env node
// `npm run soak`: sets up, then runs test/soak/cli.ts (a long soak; `npm test` runs a short one).
"use strict";

const { spawnSync } = require("node:child_process");
const path = require("node:path");
const { ensureSetup, legacyNodeEnv, toolPath, ROOT } = require("./setup");

ensureSetup();
const r = spawnSync(process.execPath, ["-r", "ts-node/register", path.join(ROOT, "test", "soak", "cli.ts"), ...process.argv.slice(2)], {
    cwd: ROOT,
    stdio: "inherit",
    // legacyNodeEnv: the AWS SDK's Node-version warning is silenced on Node < 22 only.
    env: { ...process.env, PATH: toolPath(), TS_NODE_TRANSPILE_ONLY: "true", ...legacyNodeEnv() },
});
process.exit(r.status ?? 1);
