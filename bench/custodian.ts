// Cloud Custodian (c7n 0.9.x from PyPI) as a peer of the retention
// benchmark: installed once into .tools/bench-venv, run against the bench's
// EC2 emulator the way a user runs it, one `custodian run` per region.
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "..");
export const VENV = path.join(ROOT, ".tools", "bench-venv");
export const PYTHON = path.join(VENV, "bin", "python");
const CUSTODIAN = path.join(VENV, "bin", "custodian");

/** Creates the venv and installs c7n 0.9.x into it, unless it is there already. Returns c7n's version. */
export function ensureCustodian(log: (line: string) => void): string {
    if (!fs.existsSync(CUSTODIAN)) {
        log("custodian: creating .tools/bench-venv and installing c7n 0.9.x from PyPI (once)");
        const venv = spawnSync("python3", ["-m", "venv", VENV], { stdio: "inherit" });
        if (venv.status !== 0) throw new Error("python3 -m venv .tools/bench-venv failed");
        const pip = spawnSync(path.join(VENV, "bin", "pip"), ["install", "--quiet", "c7n==0.9.*"], { stdio: "inherit" });
        if (pip.status !== 0) throw new Error("pip install 'c7n==0.9.*' failed");
    }
    const v = spawnSync(PYTHON, ["-c", "import c7n.version; print(c7n.version.version)"], { encoding: "utf8" });
    if (v.status !== 0) throw new Error(`c7n is not importable from ${VENV}: ${v.stderr}`);
    return v.stdout.trim();
}

/**
 * The policy that retires what the golden-ami policy of the bench retires:
 * own images named `bench-*`, older than `maxAgeDays`, not used by an
 * instance or an Auto Scaling group (c7n's `unused`), deregistered with their
 * snapshots. c7n has no keep-the-newest-N; the data set keeps every group's
 * newest image younger than `maxAgeDays`, so golden-ami's `keepLatest: 1`
 * changes nothing there.
 */
export function policyYaml(maxAgeDays: number): string {
    return [
        "policies:",
        "  - name: bench-ami-retention",
        "    resource: aws.ami",
        "    filters:",
        "      - type: value",
        "        key: Name",
        "        op: glob",
        "        value: 'bench-*'",
        "      - type: image-age",
        `        days: ${maxAgeDays}`,
        "      - type: unused",
        "        value: true",
        "    actions:",
        "      - type: deregister",
        "        delete-snapshots: true",
        "",
    ].join("\n");
}

/** Runs the policy in each region, one after another, as `custodian run -r <region>` does. Resolves to the wall time in ms. */
export async function runCustodian(endpoint: string, regions: string[], maxAgeDays: number): Promise<{ ms: number; output: string }> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "golden-ami-bench-c7n-"));
    const policy = path.join(dir, "policy.yml");
    fs.writeFileSync(policy, policyYaml(maxAgeDays));
    const env = {
        ...process.env,
        AWS_ENDPOINT_URL_EC2: endpoint,
        AWS_ENDPOINT_URL_AUTO_SCALING: endpoint,
        // c7n asks STS for the account id (its deregister skips images another account owns): moto's answers.
        AWS_ENDPOINT_URL_STS: endpoint,
        AWS_ACCESS_KEY_ID: "testing",
        AWS_SECRET_ACCESS_KEY: "testing",
        AWS_DEFAULT_REGION: regions[0],
        HOME: dir, // c7n's resource cache and config stay in the temp dir
    };
    let output = "";
    const t = Date.now();
    for (const region of regions) {
        const args = ["run", "-s", path.join(dir, "out"), "-r", region, "--cache-period", "0", policy];
        const code = await new Promise<number>((resolve, reject) => {
            const child = spawn(CUSTODIAN, args, { env, stdio: ["ignore", "pipe", "pipe"] });
            child.stdout.on("data", (d) => (output += d));
            child.stderr.on("data", (d) => (output += d));
            child.on("error", reject);
            child.on("close", (c) => resolve(c ?? 1));
        });
        if (code !== 0) throw new Error(`custodian run in ${region} exited ${code}:\n${output.slice(-4000)}`);
    }
    const ms = Date.now() - t;
    fs.rmSync(dir, { recursive: true, force: true });
    return { ms, output };
}
