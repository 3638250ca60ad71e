// Starts moto_server (`pip install 'moto[server]'`) on a loopback port and
// stops it again: used by the `golden-ami emulator` command, the demo and
// every test tier that talks to EC2 (through scripts/lib/moto.js).
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as path from "node:path";
import { pythonCandidates } from "./api-model";
import { MOTO_WITH_BASE_IMAGES } from "./base-images";

/** How long moto_server may take to answer its first request. */
const MOTO_START_TIMEOUT_MS = 60_000;

/** moto_server is not on PATH. */
export class MotoNotFoundError extends Error {
    constructor() {
        super("moto_server is not on PATH: install it with `pip install 'moto[server]'` (Python 3.9 or later), then run this again");
        this.name = "MotoNotFoundError";
    }
}

export interface Moto {
    /** `http://127.0.0.1:<port>`. */
    endpoint: string;
    port: number;
    pid: number;
    /** Everything moto printed lately: tracebacks of its NotImplemented gaps land here. */
    stderr(): string;
    /** Wipes moto's state (every region): tests start from nothing. */
    reset(): Promise<void>;
    /** Resolves once moto has exited; immediately when it already has. */
    stop(): Promise<void>;
    /** Resolves with the exit code when moto exits by itself or by stop(). */
    exited: Promise<number | null>;
}

export function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.unref();
        srv.on("error", reject);
        srv.listen(0, "127.0.0.1", () => {
            const { port } = srv.address() as net.AddressInfo;
            srv.close(() => resolve(port));
        });
    });
}

function ping(url: string): Promise<boolean> {
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

/** The moto_server executable on PATH, or undefined. */
export function findMotoServer(pathValue = process.env.PATH ?? ""): string | undefined {
    for (const dir of pathValue.split(path.delimiter)) {
        if (!dir) continue;
        const candidate = path.join(dir, "moto_server");
        try {
            fs.accessSync(candidate, fs.constants.X_OK);
            if (fs.statSync(candidate).isFile()) return candidate;
        } catch {
            // not in this directory
        }
    }
    return undefined;
}

/** The Python that runs moto_server (the first candidate that imports moto's server), or undefined. */
function motoPython(): string | undefined {
    for (const python of pythonCandidates()) {
        try {
            execFileSync(python, ["-c", "import moto.server"], { stdio: "ignore", timeout: 30_000 });
            return python;
        } catch {
            // not this one
        }
    }
    return undefined;
}

/**
 * Starts moto_server from PATH (scripts/setup.js puts one in .tools/bin) on
 * a free loopback port, or `port`. Resolves once it answers HTTP; rejects
 * with {@link MotoNotFoundError} when there is no moto_server.
 */
export async function startMoto(
    options: {
        log?: (msg: string) => void;
        port?: number;
        /** Load Amazon's public Amazon Linux base images in every region (emulator/base-images.ts). @default false */
        baseImages?: boolean;
    } = {},
): Promise<Moto> {
    const log = options.log ?? (() => {});
    const command = findMotoServer();
    if (!command) throw new MotoNotFoundError();
    const port = options.port ?? (await freePort());
    const args = ["-H", "127.0.0.1", "-p", String(port)];
    const python = options.baseImages ? motoPython() : undefined;
    if (options.baseImages && !python) log("no Python with moto found next to moto_server: starting it without base images");
    const child = spawn(python ?? command, python ? ["-c", MOTO_WITH_BASE_IMAGES, ...args] : args, {
        env: { ...process.env, MOTO_EC2_LOAD_DEFAULT_AMIS: "false" },
        stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
        stderr = (stderr + d.toString()).slice(-20000);
    });
    let spawnError: Error | undefined;
    child.on("error", (e) => (spawnError = e));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    const endpoint = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + MOTO_START_TIMEOUT_MS;
    while (!(await ping(`${endpoint}/moto-api/`))) {
        if (spawnError) throw new Error(`moto_server could not be started: ${spawnError.message}`);
        if (child.exitCode !== null) throw new Error(`moto_server exited (${child.exitCode}): ${stderr.slice(-2000)}`);
        if (Date.now() > deadline) {
            child.kill();
            throw new Error(`moto_server did not answer on ${endpoint} within ${MOTO_START_TIMEOUT_MS / 1000} s: ${stderr.slice(-2000)}`);
        }
        await new Promise((r) => setTimeout(r, 200));
    }
    log(`moto_server listening on ${endpoint} (pid ${child.pid})`);
    return {
        endpoint,
        port,
        pid: child.pid!,
        stderr: () => stderr,
        reset: () =>
            new Promise((resolve, reject) => {
                const req = http.request(`${endpoint}/moto-api/reset`, { method: "POST" }, (res) => {
                    res.resume();
                    res.on("end", () => resolve());
                });
                req.on("error", reject);
                req.end();
            }),
        stop: async () => {
            // Our own child, stopped by its pid (ChildProcess.kill signals exactly that process).
            if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
            await exited;
        },
        exited,
    };
}

/**
 * Environment for the AWS SDK (and `pulumi`) to reach an endpoint that
 * serves EC2, SSM, Auto Scaling, STS and KMS (moto, or the emulator proxy in front
 * of it), with moto's dummy credentials. STS because clients such as Packer's
 * amazon plugin check the credentials with GetCallerIdentity before any EC2
 * call (moto answers it for its one account).
 */
export function motoEnv(endpoint: string, region = "us-east-1"): Record<string, string> {
    return {
        AWS_ENDPOINT_URL_EC2: endpoint,
        AWS_ENDPOINT_URL_SSM: endpoint,
        AWS_ENDPOINT_URL_AUTO_SCALING: endpoint,
        AWS_ENDPOINT_URL_STS: endpoint,
        AWS_ENDPOINT_URL_KMS: endpoint,
        AWS_ACCESS_KEY_ID: "testing",
        AWS_SECRET_ACCESS_KEY: "testing",
        AWS_REGION: region,
        AWS_DEFAULT_REGION: region,
    };
}
