// Starts moto_server, the local EC2 emulator, on a free loopback port and
// stops it again. Used by the demo and by every test tier that talks to EC2.
"use strict";

const { spawn } = require("node:child_process");
const http = require("node:http");
const net = require("node:net");

function freePort() {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.unref();
        srv.on("error", reject);
        srv.listen(0, "127.0.0.1", () => {
            const { port } = srv.address();
            srv.close(() => resolve(port));
        });
    });
}

function ping(url) {
    return new Promise((resolve) => {
        const req = http.get(url, (res) => {
            res.resume();
            resolve(true);
        });
        req.on("error", () => resolve(false));
        req.setTimeout(1000, () => {
            req.destroy();
            resolve(false);
        });
    });
}

/**
 * Starts moto_server (from PATH; scripts/setup.js puts one in .tools/bin).
 * Resolves to `{ endpoint, port, stop() }` once it answers HTTP.
 */
async function startMoto({ log = () => {} } = {}) {
    const port = await freePort();
    const child = spawn("moto_server", ["-H", "127.0.0.1", "-p", String(port)], {
        env: { ...process.env, MOTO_EC2_LOAD_DEFAULT_AMIS: "false" },
        stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d) => {
        stderr = (stderr + d.toString()).slice(-20000);
    });
    const endpoint = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 60_000;
    while (!(await ping(`${endpoint}/moto-api/`))) {
        if (child.exitCode !== null) throw new Error(`moto_server exited (${child.exitCode}): ${stderr.slice(-2000)}`);
        if (Date.now() > deadline) {
            child.kill();
            throw new Error(`moto_server did not answer on ${endpoint} within 60 s: ${stderr.slice(-2000)}`);
        }
        await new Promise((r) => setTimeout(r, 200));
    }
    log(`moto_server listening on ${endpoint} (pid ${child.pid})`);
    return {
        endpoint,
        port,
        pid: child.pid,
        /** Everything moto printed lately: tracebacks of its NotImplemented gaps land here. */
        stderr: () => stderr,
        /** Wipes moto's state (every region): tests start from nothing. */
        reset: () =>
            new Promise((resolve, reject) => {
                const req = http.request(`${endpoint}/moto-api/reset`, { method: "POST" }, (res) => {
                    res.resume();
                    res.on("end", resolve);
                });
                req.on("error", reject);
                req.end();
            }),
        stop: () =>
            new Promise((resolve) => {
                if (child.exitCode !== null) return resolve();
                child.once("exit", () => resolve());
                child.kill("SIGTERM");
            }),
    };
}

/** Environment for the AWS SDK (and `pulumi`) to reach this moto with dummy credentials. */
function motoEnv(endpoint, region = "us-east-1") {
    return {
        AWS_ENDPOINT_URL_EC2: endpoint,
        AWS_ENDPOINT_URL_SSM: endpoint,
        AWS_ACCESS_KEY_ID: "testing",
        AWS_SECRET_ACCESS_KEY: "testing",
        AWS_REGION: region,
        AWS_DEFAULT_REGION: region,
    };
}

module.exports = { startMoto, motoEnv, freePort };
