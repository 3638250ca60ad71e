#!/usr/bin/env node
// Makes this checkout ready to run the demo and every test tier, on a fresh
// machine or an old one. Idempotent: each step checks before it acts.
//
//   1. node_modules (npm ci) and the compiled package in dist/
//   2. the Pulumi CLI and the Node.js language host: taken from PATH when they
//      are there, else built from Pulumi's Go modules (tools/*/go.mod) into a
//      per-user cache keyed by version, and linked into .tools/bin
//   3. the dynamic-provider shim from the @pulumi/pulumi npm package, linked
//      into .tools/bin
//   4. moto_server, the local EC2 emulator (pip-installed into .tools/venv
//      when the machine does not have it)
//
// `ensureNode(major)` (used by the compat tier, not by `ensureSetup`) brings
// another Node.js from the npm registry's `node` package into the cache.
//
// Prints one line per step. Other scripts call `ensureSetup()` and put
// `toolPath()` in front of PATH.
"use strict";

const { execFileSync, spawnSync } = require("node:child_process");
const crypto = require("node:crypto");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const ROOT = path.resolve(__dirname, "..");
const TOOLS_BIN = path.join(ROOT, ".tools", "bin");
const VENV = path.join(ROOT, ".tools", "venv");

/** What we build when the machine has no Pulumi of its own. */
const BUILDS = [
    {
        binary: "pulumi",
        module: path.join(ROOT, "tools", "pulumi"),
        pkg: "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi",
        version: "3.259.0",
        ldflags: "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v3.259.0",
    },
    {
        binary: "pulumi-language-nodejs",
        module: path.join(ROOT, "tools", "pulumi-language-nodejs"),
        pkg: "github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs",
        version: "3.68.0",
        ldflags: "",
    },
];

function log(msg) {
    console.log(`setup: ${msg}`);
}

function which(cmd, pathValue = process.env.PATH || "") {
    for (const dir of pathValue.split(path.delimiter)) {
        if (!dir) continue;
        const candidate = path.join(dir, cmd);
        try {
            fs.accessSync(candidate, fs.constants.X_OK);
            if (fs.statSync(candidate).isFile()) return candidate;
        } catch {
            // not here
        }
    }
    return undefined;
}

/** PATH without our own .tools/bin, so "already on PATH" means the machine's. */
function machinePath() {
    return (process.env.PATH || "")
        .split(path.delimiter)
        .filter((d) => path.resolve(d || ".") !== TOOLS_BIN)
        .join(path.delimiter);
}

function cacheDir() {
    const base = process.env.GOLDEN_AMI_CACHE_DIR || process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache");
    return path.join(base, "golden-ami");
}

function hashFiles(files) {
    const h = crypto.createHash("sha256");
    for (const f of files) h.update(fs.readFileSync(f));
    return h.digest("hex").slice(0, 12);
}

function run(cmd, args, opts = {}) {
    const r = spawnSync(cmd, args, { stdio: "inherit", ...opts });
    if (r.status !== 0) {
        throw new Error(`setup: '${cmd} ${args.join(" ")}' failed with exit code ${r.status}${r.error ? `: ${r.error.message}` : ""}`);
    }
}

function linkInto(dir, name, target) {
    fs.mkdirSync(dir, { recursive: true });
    const dest = path.join(dir, name);
    try {
        if (fs.readlinkSync(dest) === target) return;
    } catch {
        // missing or not a link
    }
    fs.rmSync(dest, { force: true });
    fs.symlinkSync(target, dest);
}

function ensureNodeModules() {
    const stamp = path.join(ROOT, "node_modules", ".package-lock.json");
    const lock = path.join(ROOT, "package-lock.json");
    if (fs.existsSync(stamp) && fs.statSync(stamp).mtimeMs >= fs.statSync(lock).mtimeMs) {
        log("node_modules up to date");
        return;
    }
    log("installing node_modules (npm ci)");
    run("npm", ["ci", "--no-audit", "--no-fund"], { cwd: ROOT });
}

function ensureBuilt() {
    log("compiling the package (tsc)");
    run(process.execPath, [path.join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json"], { cwd: ROOT });
    // Programs in this repository (the demo stack) import the package by its
    // name, and the dynamic-provider process resolves `golden-ami/...` from the
    // project directory: a self link makes both work as in a user's project.
    linkInto(path.join(ROOT, "node_modules"), "golden-ami", "..");
}

/**
 * The Pulumi toolset directory: the CLI, the language host and the provider
 * shim side by side. Pulumi treats plugins next to its own binary as bundled
 * (no "using ... from $PATH" warnings), so they live together.
 */
function toolsetDir() {
    const files = BUILDS.flatMap((b) => [path.join(b.module, "go.mod"), path.join(b.module, "go.sum")]);
    const key = BUILDS.map((b) => `${b.binary}-v${b.version}`).join("_") + `-${hashFiles(files)}`;
    return path.join(cacheDir(), "toolsets", key);
}

function ensurePulumiTools() {
    const fromPath = BUILDS.map((b) => which(b.binary, machinePath()));
    if (fromPath.every(Boolean) && !process.env.GOLDEN_AMI_BUILD_PULUMI) {
        BUILDS.forEach((b, i) => linkInto(TOOLS_BIN, b.binary, fromPath[i]));
        log(`pulumi: using ${fromPath[0]} and ${fromPath[1]} from PATH`);
        linkInto(TOOLS_BIN, "pulumi-resource-pulumi-nodejs", providerShim());
        return;
    }
    const dir = toolsetDir();
    for (const build of BUILDS) {
        const target = path.join(dir, build.binary);
        if (fs.existsSync(target)) {
            log(`${build.binary}: v${build.version} from cache`);
        } else {
            if (!which("go")) {
                throw new Error(
                    `setup: ${build.binary} is not on PATH and there is no Go toolchain to build it; install Go (https://go.dev/dl) or put ${build.binary} on PATH`,
                );
            }
            log(`${build.binary}: building v${build.version} from Pulumi's Go modules (first time only, a few minutes)`);
            fs.mkdirSync(dir, { recursive: true });
            const tmp = `${target}.tmp-${process.pid}`;
            const args = ["build", "-trimpath", "-o", tmp];
            if (build.ldflags) args.push("-ldflags", build.ldflags);
            args.push(build.pkg);
            run("go", args, { cwd: build.module });
            fs.renameSync(tmp, target);
        }
        linkInto(TOOLS_BIN, build.binary, target);
    }
    // The shim is a small script; a copy beside the CLI counts as bundled.
    const shim = path.join(dir, "pulumi-resource-pulumi-nodejs");
    fs.copyFileSync(providerShim(), shim);
    fs.chmodSync(shim, 0o755);
    linkInto(TOOLS_BIN, "pulumi-resource-pulumi-nodejs", shim);
}

/** The dynamic-provider shim that ships inside the @pulumi/pulumi npm package. */
function providerShim() {
    const shim = path.join(ROOT, "node_modules", "@pulumi", "pulumi", "pulumi-resource-pulumi-nodejs");
    if (!fs.existsSync(shim)) throw new Error("setup: @pulumi/pulumi has no pulumi-resource-pulumi-nodejs; run npm ci");
    return shim;
}

function ensureMoto() {
    const onPath = which("moto_server", machinePath());
    if (onPath) {
        linkInto(TOOLS_BIN, "moto_server", onPath);
        log(`moto_server: using ${onPath}`);
        return;
    }
    const venvMoto = path.join(VENV, "bin", "moto_server");
    if (!fs.existsSync(venvMoto)) {
        log("moto_server: installing moto[server] into .tools/venv");
        run("python3", ["-m", "venv", VENV]);
        run(path.join(VENV, "bin", "pip"), ["install", "--quiet", "moto[server]>=5,<6"]);
    }
    linkInto(TOOLS_BIN, "moto_server", venvMoto);
}

/**
 * The newest Node.js `major`.x from the npm registry's `node` package (its
 * preinstall fetches the real binary as the `node-<os>-<arch>` package), in
 * `<cache>/golden-ami/node/<version>`; returns the directory to put first in
 * PATH, holding only `node`. Offline, the newest one already in the cache.
 */
function ensureNode(major) {
    const root = path.join(cacheDir(), "node");
    const cached = () =>
        (fs.existsSync(root) ? fs.readdirSync(root) : [])
            .filter((v) => v.split(".")[0] === String(major) && fs.existsSync(path.join(root, v, "node_modules", ".bin", "node")))
            .sort(compareVersions)
            .pop();
    let version;
    const r = spawnSync("npm", ["view", `node@${major}`, "version", "--json"], { encoding: "utf8" });
    if (r.status === 0) {
        const listed = JSON.parse(r.stdout);
        version = (Array.isArray(listed) ? listed : [listed])
            .filter((v) => /^\d+\.\d+\.\d+$/.test(v))
            .sort(compareVersions)
            .pop();
    }
    version ??= cached();
    if (!version)
        throw new Error(`setup: cannot resolve node@${major} from the npm registry (${(r.stderr || "").trim()}) and none is cached`);
    const dir = path.join(root, version);
    const bin = path.join(dir, "node_modules", ".bin");
    if (!fs.existsSync(path.join(bin, "node"))) {
        log(`node: installing v${version} from the npm registry into the cache`);
        const tmp = `${dir}.tmp-${process.pid}`;
        fs.rmSync(tmp, { recursive: true, force: true });
        fs.rmSync(dir, { recursive: true, force: true }); // a broken earlier install, without its node
        run("npm", ["install", "--prefix", tmp, "--no-audit", "--no-fund", "--loglevel=error", `node@${version}`]);
        try {
            fs.renameSync(tmp, dir);
        } catch (e) {
            // Another process installed the same version meanwhile: keep theirs.
            if (!fs.existsSync(path.join(bin, "node"))) throw e;
            fs.rmSync(tmp, { recursive: true, force: true });
        }
    }
    const got = execFileSync(path.join(bin, "node"), ["--version"], { encoding: "utf8" }).trim();
    if (got !== `v${version}`) throw new Error(`setup: ${path.join(bin, "node")} is ${got}, expected v${version}`);
    log(`node: v${version} from cache`);
    return bin;
}

function compareVersions(a, b) {
    const pa = a.split(".").map(Number);
    const pb = b.split(".").map(Number);
    for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return pa[i] - pb[i];
    return 0;
}

/**
 * Environment that silences the AWS SDK's NodeVersionSupportWarning, only for
 * processes on Node < 22 (this machine's Node 20, which cannot change): the SDK
 * warns on every process there that its releases after January 2027 need 22.
 * On supported Node versions nothing is silenced, and the compat tier checks
 * that nothing warns. A value already in the environment wins.
 */
function legacyNodeEnv(nodeVersion = process.versions.node) {
    if (Number(nodeVersion.split(".")[0]) >= 22) return {};
    return { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ?? "true" };
}

/** PATH with .tools/bin first: what every script gives the processes it starts. */
function toolPath() {
    return [TOOLS_BIN, process.env.PATH || ""].join(path.delimiter);
}

function ensureSetup({ build = true } = {}) {
    ensureNodeModules();
    if (build) ensureBuilt();
    ensurePulumiTools();
    ensureMoto();
    const version = execFileSync(path.join(TOOLS_BIN, "pulumi"), ["version"], { encoding: "utf8" }).trim();
    log(`ready: pulumi ${version}, tools in .tools/bin`);
}

module.exports = { ensureSetup, ensureNode, legacyNodeEnv, toolPath, cacheDir, hashFiles, run, which, ROOT, TOOLS_BIN };

if (require.main === module) {
    try {
        ensureSetup();
    } catch (e) {
        console.error(e.message);
        process.exit(1);
    }
}
