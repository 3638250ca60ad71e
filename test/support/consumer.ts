// A project that has never seen this repository: it installs the `npm pack`
// output of golden-ami, as a user's infra repo would, and runs programs from
// test/e2e/programs under the real `pulumi` CLI. By default with this
// repository's @pulumi/pulumi on the machine's Node; the compat tier passes
// another @pulumi/pulumi version and another Node (its bin dir first in PATH,
// so npm, the language host, the program and the dynamic provider all run on it).
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { pulumiEnv, runPulumi, startPulumi } from "../../scripts/lib/pulumi";
import { legacyNodeEnv, toolPath } from "../../scripts/setup";

const ROOT = path.resolve(__dirname, "..", "..");

/** What a consumer project runs on; both default to this repository's. */
export interface ConsumerOptions {
    /** The @pulumi/pulumi version (or range) the project depends on; default: the one installed here. */
    pulumi?: string;
    /** A directory holding another `node`, put first in PATH for npm and every `pulumi` command. */
    nodeBin?: string;
}

export interface Consumer {
    project: string;
    /** The @pulumi/pulumi version npm installed. */
    pulumiVersion: string;
    /** `node --version` of the Node the project runs on. */
    nodeVersion: string;
    /** stdout and stderr of `npm install` (at warn level when nodeBin is given). */
    installOutput: string;
    /** PATH for every command in the project. */
    path: string;
}

const projects = new Map<string, Promise<Consumer>>();

function installedVersion(pkg: string): string {
    return JSON.parse(fs.readFileSync(path.join(ROOT, "node_modules", pkg, "package.json"), "utf8")).version;
}

function npm(args: string[], cwd: string): string {
    return execFileSync("npm", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

let packed: string | undefined;

/** `npm pack` of this repository, once per test run. */
function tarball(): string {
    if (!packed) {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "golden-ami-pack-"));
        packed = path.join(dir, JSON.parse(npm(["pack", "--json", "--pack-destination", dir], ROOT))[0].filename);
    }
    return packed;
}

async function build(opts: ConsumerOptions): Promise<Consumer> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "golden-ami-consumer-"));
    const PATH = opts.nodeBin ? [opts.nodeBin, toolPath()].join(path.delimiter) : toolPath();
    const project = path.join(dir, "project");
    fs.mkdirSync(project);
    fs.writeFileSync(
        path.join(project, "package.json"),
        JSON.stringify(
            {
                name: "consumer",
                private: true,
                dependencies: {
                    "golden-ami": `file:${tarball()}`,
                    "@pulumi/pulumi": opts.pulumi ?? installedVersion("@pulumi/pulumi"),
                },
                devDependencies: {
                    typescript: installedVersion("typescript"),
                    "ts-node": installedVersion("ts-node"),
                    "@types/node": installedVersion("@types/node"),
                },
            },
            null,
            2,
        ),
    );
    // The default project keeps npm quiet; another Node's install is shown at
    // warn level, so that EBADENGINE and deprecation notices can be checked.
    const loglevel = opts.nodeBin ? "warn" : "error";
    const nodeVersion = execFileSync("node", ["--version"], { encoding: "utf8", env: { ...process.env, PATH } }).trim();
    const r = spawnSync("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", `--loglevel=${loglevel}`], {
        cwd: project,
        encoding: "utf8",
        env: nodeEnv({ ...process.env, PATH }, nodeVersion),
    });
    const installOutput = `${r.stdout ?? ""}${r.stderr ?? ""}`;
    if (r.status !== 0)
        throw new Error(`npm install in the consumer project exited ${r.status}${r.error ? `: ${r.error.message}` : ""}\n${installOutput}`);
    const pulumiVersion = JSON.parse(
        fs.readFileSync(path.join(project, "node_modules", "@pulumi", "pulumi", "package.json"), "utf8"),
    ).version;
    return { project, pulumiVersion, nodeVersion, installOutput, path: PATH };
}

/**
 * `env` for processes on `nodeVersion`: the AWS SDK's NodeVersionSupportWarning
 * is silenced only on Node < 22 (the machine's Node 20); on supported versions
 * it stays on even when this test process has it off, so a warning would show.
 */
export function nodeEnv(env: NodeJS.ProcessEnv, nodeVersion: string): NodeJS.ProcessEnv {
    const legacy = legacyNodeEnv(nodeVersion.replace(/^v/, ""));
    const out: NodeJS.ProcessEnv = { ...env, ...legacy };
    if (Object.keys(legacy).length === 0) delete out.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED;
    return out;
}

function key(opts: ConsumerOptions): string {
    return JSON.stringify([opts.pulumi ?? "", opts.nodeBin ?? ""]);
}

/** A consumer project for these options, built once per test run. */
export function consumer(opts: ConsumerOptions = {}): Promise<Consumer> {
    const k = key(opts);
    if (!projects.has(k)) projects.set(k, build(opts));
    return projects.get(k)!;
}

/** The default consumer project's directory, built once per test run. */
export async function consumerProject(): Promise<string> {
    return (await consumer()).project;
}

/**
 * A Pulumi project from `program` (a folder under test/e2e/programs, a
 * path relative to the repository such as examples/golden-image, or an
 * absolute path to a folder a test wrote), set up to
 * use the consumer's node_modules.
 */
export async function programDir(program: string, opts: ConsumerOptions = {}): Promise<string> {
    const { project } = await consumer(opts);
    const src = path.isAbsolute(program)
        ? program
        : program.includes("/")
          ? path.join(ROOT, program)
          : path.join(ROOT, "test", "e2e", "programs", program);
    const dir = path.join(project, "programs", path.basename(program));
    fs.mkdirSync(dir, { recursive: true });
    // Scripts the program reads (a GoldenImage's provision.sh) come along.
    const scripts = fs.readdirSync(src).filter((f) => f.endsWith(".sh"));
    // An Automation API script (examples/org-retention) has no Pulumi.yaml: its program is inline.
    for (const f of ["Pulumi.yaml", "index.ts", ...scripts])
        if (fs.existsSync(path.join(src, f))) fs.copyFileSync(path.join(src, f), path.join(dir, f));
    fs.copyFileSync(path.join(ROOT, "test", "e2e", "programs", "tsconfig.json"), path.join(dir, "tsconfig.json"));
    fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: `program-${path.basename(program)}`, main: "index.ts" }));
    return dir;
}

export interface Stack {
    dir: string;
    run(args: string[], opts?: { check?: boolean }): Promise<{ code: number; stdout: string; stderr: string }>;
    /** Starts a command that the test may kill (SIGKILL to its whole process group). */
    start(args: string[]): ReturnType<typeof startPulumi>;
    config(values: Record<string, string>): Promise<void>;
    outputs(): Promise<Record<string, unknown>>;
    /** `pulumi stack rename`: later commands name the new stack. */
    rename(newName: string): Promise<void>;
    export(): Promise<{
        deployment: {
            resources?: { type: string; urn: string; id?: string; inputs?: Record<string, unknown>; outputs?: Record<string, unknown> }[];
        };
    }>;
}

/**
 * A fresh stack of the program, with local state and the given extra
 * environment (e.g. moto's), in the consumer project for `opts`.
 */
export async function newStack(
    program: string,
    initialName: string,
    extraEnv: Record<string, string>,
    opts: ConsumerOptions = {},
): Promise<Stack> {
    let stackName = initialName;
    const dir = await programDir(program, opts);
    const { path: PATH, nodeVersion } = await consumer(opts);
    // Programs are typechecked once by tsc (examples.test.ts, npm run typecheck); ts-node need not again on every run.
    const env = nodeEnv(pulumiEnv(path.join(dir, ".state"), { PULUMI_NODEJS_TRANSPILE_ONLY: "true", ...extraEnv, PATH }), nodeVersion);
    await runPulumi(["stack", "init", stackName], { cwd: dir, env });
    // Several stacks share a program directory: name the stack on every command.
    const run: Stack["run"] = (args, opts = {}) => runPulumi([...args, "--stack", stackName], { cwd: dir, env, check: opts.check ?? true });
    return {
        dir,
        run,
        start: (args) => startPulumi([...args, "--stack", stackName], { cwd: dir, env }),
        async config(values) {
            for (const [k, v] of Object.entries(values)) await run(["config", "set", k, v]);
        },
        async outputs() {
            return JSON.parse((await run(["stack", "output", "--json"])).stdout);
        },
        async rename(newName) {
            await run(["stack", "rename", newName]);
            stackName = newName;
        },
        async export() {
            return JSON.parse((await run(["stack", "export"])).stdout);
        },
    };
}
