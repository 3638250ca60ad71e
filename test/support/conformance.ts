// The emulator conformance suites' harness (test/integration/emulator-conformance-*.test.ts):
// one `startEmulator()` per file, SDK clients and the AWS CLI pointed at it
// with moto's dummy credentials (never real ones), and the answers' error
// codes and HTTP statuses as a client sees them.
import { EC2Client } from "@aws-sdk/client-ec2";
import { SSMClient } from "@aws-sdk/client-ssm";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { startEmulator, type Emulator, type EmulatorOptions } from "../../emulator/emulator";

export interface Session {
    emulator: Emulator;
    ec2(region?: string): EC2Client;
    ssm(region?: string): SSMClient;
    /** The AWS CLI against the emulator (never a real endpoint or real credentials). */
    aws(args: string[], region?: string): Promise<CliResult>;
    stop(): Promise<void>;
}

export interface CliResult {
    code: number;
    stdout: string;
    stderr: string;
    /** stdout parsed as JSON (undefined when empty). */
    json: unknown;
}

/** The environment of the AWS CLI: the emulator's dummy credentials, nothing of the caller's profile. */
function cliEnv(emulator: Emulator, region: string): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        ...emulator.env,
        AWS_REGION: region,
        AWS_DEFAULT_REGION: region,
        AWS_PAGER: "",
        AWS_CONFIG_FILE: "/dev/null",
        AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
        AWS_EC2_METADATA_DISABLED: "true",
    };
    return env;
}

export async function startSession(options: EmulatorOptions = {}): Promise<Session> {
    const emulator = await startEmulator(options);
    const clients: { destroy(): void }[] = [];
    const credentials = { accessKeyId: "testing", secretAccessKey: "testing" };
    return {
        emulator,
        ec2: (region = "us-east-1") => {
            const c = new EC2Client({ region, endpoint: emulator.endpoint, credentials, maxAttempts: 1 });
            clients.push(c);
            return c;
        },
        ssm: (region = "us-east-1") => {
            const c = new SSMClient({ region, endpoint: emulator.endpoint, credentials, maxAttempts: 1 });
            clients.push(c);
            return c;
        },
        aws: (args, region = "us-east-1") =>
            new Promise((resolve) => {
                execFile(
                    "aws",
                    ["--endpoint-url", emulator.endpoint, "--output", "json", ...args],
                    { env: cliEnv(emulator, region), maxBuffer: 64 * 1024 * 1024 },
                    (error, stdout, stderr) => {
                        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
                        let json: unknown;
                        try {
                            json = stdout.trim() ? JSON.parse(stdout) : undefined;
                        } catch {
                            json = undefined;
                        }
                        resolve({ code, stdout, stderr, json });
                    },
                );
            }),
        stop: async () => {
            for (const c of clients) c.destroy();
            await emulator.stop();
        },
    };
}

/** Asserts that `call` fails with this EC2/SSM error code (and HTTP status), as the SDK reports it. */
export async function refusedWith(call: Promise<unknown>, code: string, status = 400): Promise<Error> {
    try {
        await call;
    } catch (e) {
        const err = e as Error & { $metadata?: { httpStatusCode?: number } };
        assert.equal(err.name, code, `expected ${code}, got ${err.name}: ${err.message}`);
        assert.equal(err.$metadata?.httpStatusCode, status, `HTTP status of ${code}`);
        return err;
    }
    assert.fail(`expected the call to fail with ${code}, it succeeded`);
}

/** Asserts that an AWS CLI run failed with this error code. */
export function cliRefused(run: CliResult, code: string): void {
    assert.notEqual(run.code, 0, `the CLI succeeded where ${code} was expected: ${run.stdout}`);
    assert.match(run.stderr, new RegExp(`\\(${code.replace(/\./g, "\\.")}\\)`), `the CLI's error names ${code}`);
}

/** Asserts a CLI run succeeded and returns its JSON. */
export function cliOk<T = Record<string, unknown>>(run: CliResult): T {
    assert.equal(run.code, 0, `the CLI failed: ${run.stderr}`);
    return run.json as T;
}
