// A project that has never seen this repository: it installs the `npm pack`
// output of golden-ami, as a user's infra repo would, and runs programs from
// test/e2e/programs under the real `pulumi` CLI.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { pulumiEnv, runPulumi, startPulumi } from "../../scripts/lib/pulumi";

const ROOT = path.resolve(__dirname, "..", "..");
let shared: Promise<string> | undefined;

function installedVersion(pkg: string): string {
    return JSON.parse(fs.readFileSync(path.join(ROOT, "node_modules", pkg, "package.json"), "utf8")).version;
}

function npm(args: string[], cwd: string): string {
    return execFileSync("npm", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

async function build(): Promise<string> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "golden-ami-consumer-"));
    const packed = npm(["pack", "--json", "--pack-destination", dir], ROOT);
    const tarball = path.join(dir, JSON.parse(packed)[0].filename);
    const project = path.join(dir, "project");
    fs.mkdirSync(project);
    fs.writeFileSync(
        path.join(project, "package.json"),
        JSON.stringify(
            {
                name: "consumer",
                private: true,
                dependencies: {
                    "golden-ami": `file:${tarball}`,
                    "@pulumi/pulumi": installedVersion("@pulumi/pulumi"),
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
    npm(["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"], project);
    return project;
}

/** The consumer project's node_modules, built once per test run. */
export function consumerProject(): Promise<string> {
    shared ??= build();
    return shared;
}

/**
 * A Pulumi project from `program` (a folder under test/e2e/programs, or a
 * path relative to the repository such as examples/golden-image), set up to
 * use the consumer's node_modules.
 */
export async function programDir(program: string): Promise<string> {
    const project = await consumerProject();
    const src = program.includes("/") ? path.join(ROOT, program) : path.join(ROOT, "test", "e2e", "programs", program);
    const dir = path.join(project, "programs", path.basename(program));
    fs.mkdirSync(dir, { recursive: true });
    for (const f of ["Pulumi.yaml", "index.ts"]) fs.copyFileSync(path.join(src, f), path.join(dir, f));
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
    export(): Promise<{
        deployment: {
            resources?: { type: string; urn: string; id?: string; inputs?: Record<string, unknown>; outputs?: Record<string, unknown> }[];
        };
    }>;
}

/** A fresh stack of the program, with local state and the given extra environment (e.g. moto's). */
export async function newStack(program: string, stackName: string, extraEnv: Record<string, string>): Promise<Stack> {
    const dir = await programDir(program);
    // Programs are typechecked once by tsc (examples.test.ts, npm run typecheck); ts-node need not again on every run.
    const env = pulumiEnv(path.join(dir, ".state"), {
        PULUMI_NODEJS_TRANSPILE_ONLY: "true",
        ...extraEnv,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    });
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
        async export() {
            return JSON.parse((await run(["stack", "export"])).stdout);
        },
    };
}
