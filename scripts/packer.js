#!/usr/bin/env node
// Packer and its Amazon plugin (the amazon-ebs builder), for the `packer` test
// tier and for trying a Packer template against `npx golden-ami emulator`.
// Not part of `npm run setup` or `npm test`: only `npm run test:packer` and
// `node scripts/packer.js` build them.
//
// Like the Pulumi CLI in scripts/setup.js: `packer` from PATH when the machine
// has one (and an installed amazon plugin is then the user's business), else
// both built once from their Go modules (tools/packer, tools/packer-plugin-amazon)
// into the per-user cache, keyed by version and go.sum:
//
//   <cache>/golden-ami/packer/<key>/packer
//   <cache>/golden-ami/packer/<key>/plugins/github.com/hashicorp/amazon/
//       packer-plugin-amazon_v<version>_x5.0_<os>_<arch>   and its _SHA256SUM
//
// the layout Packer looks for under PACKER_PLUGIN_PATH (what `packer init`
// would have installed). Prints the environment to use them.
"use strict";

const crypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");
const { cacheDir, hashFiles, run, which, ROOT } = require("./setup");

const PACKER = {
    module: path.join(ROOT, "tools", "packer"),
    pkg: "github.com/hashicorp/packer",
    version: "1.9.5",
};
const AMAZON = {
    module: path.join(ROOT, "tools", "packer-plugin-amazon"),
    pkg: "github.com/hashicorp/packer-plugin-amazon",
    version: "1.8.0",
    // The plugin API version of packer-plugin-sdk v0.6 (its `describe` prints it).
    api: "x5.0",
};

function log(msg) {
    // stderr: stdout is the environment to export.
    console.error(`packer: ${msg}`);
}

function packerDir() {
    const files = [PACKER, AMAZON].flatMap((b) => [path.join(b.module, "go.mod"), path.join(b.module, "go.sum")]);
    return path.join(cacheDir(), "packer", `packer-v${PACKER.version}_amazon-v${AMAZON.version}-${hashFiles(files)}`);
}

/** `go build` into `target` through a temporary name, so an interrupted build leaves nothing behind. */
function goBuild(build, target) {
    if (!which("go")) {
        throw new Error(`packer: ${build.pkg} is not built yet and there is no Go toolchain to build it; install Go (https://go.dev/dl)`);
    }
    log(`building ${build.pkg} v${build.version} from its Go modules (first time only, many minutes)`);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    const tmp = `${target}.tmp-${process.pid}`;
    // nice: the build takes every core for a long while.
    const go = which("nice") ? ["nice", ["-n", "19", "go"]] : ["go", []];
    run(go[0], [...go[1], "build", "-trimpath", "-o", tmp, build.pkg], { cwd: build.module });
    fs.renameSync(tmp, target);
}

/**
 * Packer and the amazon plugin, built when missing. Returns the packer binary
 * and the environment that makes Packer find the plugin.
 */
function ensurePacker() {
    const onPath = which("packer");
    if (onPath && !process.env.GOLDEN_AMI_BUILD_PACKER) {
        log(`using ${onPath} from PATH`);
        return { packer: onPath, env: {} };
    }
    const dir = packerDir();
    const packer = path.join(dir, "packer");
    if (fs.existsSync(packer)) log(`packer v${PACKER.version} from cache`);
    else goBuild(PACKER, packer);

    const plugins = path.join(dir, "plugins");
    const pluginDir = path.join(plugins, "github.com", "hashicorp", "amazon");
    const arch = { x64: "amd64", arm64: "arm64" }[process.arch] ?? process.arch;
    const plugin = path.join(pluginDir, `packer-plugin-amazon_v${AMAZON.version}_${AMAZON.api}_${process.platform}_${arch}`);
    if (fs.existsSync(plugin)) log(`packer-plugin-amazon v${AMAZON.version} from cache`);
    else goBuild(AMAZON, plugin);
    const sum = `${plugin}_SHA256SUM`;
    if (!fs.existsSync(sum)) {
        fs.writeFileSync(sum, crypto.createHash("sha256").update(fs.readFileSync(plugin)).digest("hex"));
    }
    return { packer, env: { PACKER_PLUGIN_PATH: plugins } };
}

module.exports = { ensurePacker, packerDir, PACKER, AMAZON };

if (require.main === module) {
    try {
        const { packer, env } = ensurePacker();
        for (const [k, v] of Object.entries(env)) console.log(`export ${k}=${v}`);
        console.log(`# packer: ${packer}`);
    } catch (e) {
        console.error(e.message);
        process.exit(1);
    }
}
