// Runs the real `pulumi` CLI (from .tools/bin) against a local file backend.
"use strict";

const { spawn } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");
const { toolPath } = require("../setup");

/** Environment for `pulumi`: tools on PATH, local state, no update checks, no plugin downloads. */
function pulumiEnv(stateDir, extra = {}) {
    fs.mkdirSync(stateDir, { recursive: true });
    return {
        ...process.env,
        PATH: toolPath(),
        PULUMI_BACKEND_URL: `file://${path.resolve(stateDir)}`,
        PULUMI_CONFIG_PASSPHRASE: process.env.PULUMI_CONFIG_PASSPHRASE ?? "",
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
        ...extra,
    };
}

/**
 * @param {string[]} args
 * @param {{ cwd?: string, env?: NodeJS.ProcessEnv, check?: boolean, echo?: boolean, input?: string }} [options]
 * @returns {Promise<{ code: number, stdout: string, stderr: string, pid?: number }>}
 *
 * Runs `pulumi <args>` in `cwd`. Resolves to { code, stdout, stderr }; with
 * `check` (default) a non-zero exit rejects with the output in the message.
 * `echo` streams output to this process too.
 */
function runPulumi(args, { cwd, env, check = true, echo = false, input } = {}) {
    return new Promise((resolve, reject) => {
        const child = spawn("pulumi", [...args, "--non-interactive"], { cwd, env, stdio: ["pipe", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => {
            stdout += d;
            if (echo) process.stdout.write(d);
        });
        child.stderr.on("data", (d) => {
            stderr += d;
            if (echo) process.stderr.write(d);
        });
        child.stdin.end(input ?? "");
        child.on("error", reject);
        child.on("close", (code) => {
            const result = { code, stdout, stderr, pid: child.pid };
            if (check && code !== 0) {
                const err = new Error(`pulumi ${args.join(" ")} exited ${code}\n${stdout.slice(-6000)}\n${stderr.slice(-4000)}`);
                err.result = result;
                reject(err);
            } else resolve(result);
        });
    });
}

/** Every process below `pid` (Linux /proc), children first found first. */
function descendants(pid) {
    const parentOf = new Map();
    for (const d of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(d)) continue;
        try {
            const stat = fs.readFileSync(`/proc/${d}/stat`, "utf8");
            parentOf.set(Number(d), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
        } catch {
            // exited meanwhile
        }
    }
    const out = [];
    const queue = [pid];
    while (queue.length) {
        const p = queue.shift();
        for (const [c, parent] of parentOf) {
            if (parent === p) {
                out.push(c);
                queue.push(c);
            }
        }
    }
    return out;
}

/**
 * Starts `pulumi <args>` in a process group of its own, so that a test can
 * kill it and every plugin it started (SIGKILL, as a crash or a CI timeout
 * would) with `kill()`. `done` resolves when the CLI exits.
 * @param {string[]} args
 * @param {{ cwd?: string, env?: NodeJS.ProcessEnv }} [options]
 */
function startPulumi(args, { cwd, env } = {}) {
    const child = spawn("pulumi", [...args, "--non-interactive"], { cwd, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const done = new Promise((resolve) => child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })));
    return {
        pid: child.pid,
        done,
        kill: () => {
            // Pulumi starts each plugin in a process group of its own: find the
            // whole tree first, then kill all of it, as a crash of the machine's
            // CI job would. Left alive, orphaned plugins keep running.
            const tree = [child.pid, ...descendants(child.pid)];
            for (const pid of tree) {
                try {
                    process.kill(pid, "SIGKILL");
                } catch {
                    // already gone
                }
            }
        },
    };
}

module.exports = { pulumiEnv, runPulumi, startPulumi, descendants };
