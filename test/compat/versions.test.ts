// The compat tier: golden-ami on every Node.js and @pulumi/pulumi it claims.
//
// For each of Node 22 and Node 24 (the newest of each, from the npm registry's
// `node` package) and each end of the peer range — the newest @pulumi/pulumi
// 3.x and the oldest version `peerDependencies` allows — a consumer project
// installs the packed package on that Node, and one stack of the replica
// pipeline (AmiFromInstance → AmiReplicaSet) goes through `pulumi up`,
// `pulumi preview --diff` with a tag change, and `pulumi destroy`, with the
// language host, the program and the dynamic provider on that Node. Every
// output must be free of warnings: no EBADENGINE or deprecation notice from npm,
// no NodeVersionSupportWarning from the AWS SDK, no warning under Diagnostics.
// Destroy must leave nothing behind in the emulator.
//
// GOLDEN_AMI_COMPAT_NODES (e.g. "22") and GOLDEN_AMI_COMPAT_PULUMI (e.g.
// "3.150.0,^3") narrow or change the matrix for a local run.
import { DescribeImagesCommand, EC2Client } from "@aws-sdk/client-ec2";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { createSourceInstance, inventory, leftBehind } from "../../scripts/lib/ec2-fixtures";
import { motoEnv } from "../../scripts/lib/moto";
import { ensureNode } from "../../scripts/setup";
import { consumer, ConsumerOptions, newStack, nodeEnv, Stack } from "../support/consumer";
import { currentMoto } from "../support/moto-hooks";

const ROOT = path.resolve(__dirname, "..", "..");
const REGION = "us-east-1";
const REPLICA_REGIONS = ["us-west-2"];
const ALL = [REGION, ...REPLICA_REGIONS];

/** The oldest @pulumi/pulumi that package.json's peer range allows. */
function oldestInPeerRange(): string {
    const range: string = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).peerDependencies["@pulumi/pulumi"];
    const m = /^\^(3\.\d+\.\d+)$/.exec(range);
    if (!m) throw new Error(`peerDependencies["@pulumi/pulumi"] is "${range}"; the compat tier reads a caret range such as ^3.x.y`);
    return m[1];
}

const NODES = (process.env.GOLDEN_AMI_COMPAT_NODES ?? "22,24").split(",").map((n) => Number(n.trim()));
const PULUMIS = process.env.GOLDEN_AMI_COMPAT_PULUMI?.split(",").map((p) => p.trim()) ?? ["^3", oldestInPeerRange()];

/**
 * Lines that warn: npm's `npm warn` (EBADENGINE, deprecated), Node's
 * `(node:123) ...Warning`, the AWS SDK's NodeVersionSupportWarning, Pulumi's
 * `warning:` and its "N warnings" counts. One kind is left out: npm 11's
 * `npm warn install-scripts` notice that protobufjs (a dependency of
 * @pulumi/pulumi) has a postinstall script not approved in `allowScripts`, a
 * policy notice of the npm client about every Pulumi project, not about Node
 * or package versions.
 */
export function warningLines(output: string): string[] {
    return output
        .split(/\r?\n/)
        .filter((l) => /warn|EBADENGINE|deprecat/i.test(l))
        .filter((l) => !/^npm warn install-scripts\b/.test(l));
}

function assertNoWarning(what: string, output: string): void {
    assert.deepEqual(warningLines(output), [], `${what} printed warnings:\n${output.slice(-6000)}`);
}

describe("compat: supported Node.js and @pulumi/pulumi versions (real pulumi CLI, packed package, moto)", function () {
    before(() => {
        for (const major of NODES) assert.ok(major >= 22, `Node ${major} is not a supported version (engines: >=22)`);
    });

    for (const major of NODES) {
        for (const pulumiSpec of PULUMIS) {
            const label = pulumiSpec === "^3" ? "the newest @pulumi/pulumi 3.x" : `@pulumi/pulumi ${pulumiSpec}`;
            describe(`Node ${major} with ${label}`, function () {
                let opts: ConsumerOptions;
                let stack: Stack | undefined;
                let destroyed = false;
                let ec2: EC2Client;
                let baseline: Record<string, Awaited<ReturnType<typeof inventory>>>;
                let instanceId: string;
                let sourceImageId: string;

                before(async function () {
                    this.timeout(600_000);
                    opts = { pulumi: pulumiSpec, nodeBin: ensureNode(major) };
                    ec2 = new EC2Client({ region: REGION });
                    ({ instanceId } = await createSourceInstance(REGION));
                    baseline = Object.fromEntries(await Promise.all(ALL.map(async (r) => [r, await inventory(r)] as const)));
                });
                after(async function () {
                    this.timeout(300_000);
                    if (stack && !destroyed) await stack.run(["destroy", "--yes", "--skip-preview"], { check: false });
                    ec2.destroy();
                });

                it("npm installs the package with no EBADENGINE, deprecation or other warning", async () => {
                    const c = await consumer(opts);
                    console.log(`      node ${c.nodeVersion}, @pulumi/pulumi ${c.pulumiVersion}`);
                    assert.equal(c.nodeVersion.split(".")[0], `v${major}`);
                    if (pulumiSpec !== "^3") assert.equal(c.pulumiVersion, pulumiSpec);
                    assertNoWarning("npm install", c.installOutput);
                });

                it("the warning check catches the AWS SDK's NodeVersionSupportWarning (control: Node reporting itself as 20)", async () => {
                    // The same SDK as the stacks load, from the consumer project, on this Node in the
                    // stacks' environment: only the reported version differs, so the check can fail.
                    const c = await consumer(opts);
                    const script = [
                        `Object.defineProperty(process, "version", { value: "v20.0.0" });`,
                        `const { EC2Client } = require("@aws-sdk/client-ec2");`,
                        `new EC2Client({ region: "${REGION}" }).destroy();`,
                    ].join("\n");
                    const run = (version: string) =>
                        spawnSync("node", ["-e", script.replace("v20.0.0", version)], {
                            cwd: c.project,
                            encoding: "utf8",
                            env: nodeEnv({ ...process.env, PATH: c.path }, c.nodeVersion),
                        });
                    const legacy = run("v20.0.0");
                    assert.equal(legacy.status, 0, legacy.stderr);
                    assert.ok(
                        warningLines(legacy.stderr).some((l) => l.includes("NodeVersionSupportWarning")),
                        `expected the SDK's warning:\n${legacy.stderr}`,
                    );
                    const supported = run(c.nodeVersion);
                    assert.equal(supported.status, 0, supported.stderr);
                    assertNoWarning(`the SDK on ${c.nodeVersion}`, supported.stdout + supported.stderr);
                });

                it("pulumi up bakes and replicates the AMI, with no warning", async () => {
                    stack = await newStack("replica-pipeline", `compat-${major}`, motoEnv(currentMoto().endpoint, REGION), opts);
                    await stack.config({ "aws:region": REGION, sourceInstanceId: instanceId });
                    await stack.run(["config", "set", "--path", "regions[0]", REPLICA_REGIONS[0]]);
                    const r = await stack.run(["up", "--yes", "--skip-preview"]);
                    assertNoWarning("pulumi up", r.stdout + r.stderr);
                    const out = await stack.outputs();
                    sourceImageId = out.sourceImageId as string;
                    assert.match(sourceImageId, /^ami-/);
                    const replicas = out.imageIds as Record<string, string>;
                    assert.deepEqual(Object.keys(replicas), REPLICA_REGIONS);
                    const img = (await ec2.send(new DescribeImagesCommand({ ImageIds: [sourceImageId] }))).Images![0];
                    assert.equal(img.State, "available");
                });

                it("pulumi preview --diff shows a tag change as an update, with no warning", async () => {
                    await stack!.config({ replicaTag: "2" });
                    const r = await stack!.run(["preview", "--diff"]);
                    assertNoWarning("pulumi preview --diff", r.stdout + r.stderr);
                    assert.match(r.stdout, /~ pulumi-nodejs:dynamic\/golden-ami:AmiCopy: \(update\)/, r.stdout);
                    assert.match(r.stdout, /~ tags\s*: \{\s*App\s*: "web"\s*~ Replica: "1" => "2"/, r.stdout);
                    assert.match(r.stdout, /~ 1 to update\s+3 unchanged/, r.stdout);
                });

                it("pulumi destroy leaves no AMI and no snapshot behind, with no warning", async () => {
                    const r = await stack!.run(["destroy", "--yes", "--skip-preview"]);
                    destroyed = true;
                    assertNoWarning("pulumi destroy", r.stdout + r.stderr);
                    const left = Object.fromEntries(
                        await Promise.all(ALL.map(async (g) => [g, leftBehind(baseline[g], await inventory(g))] as const)),
                    );
                    assert.deepEqual(left, Object.fromEntries(ALL.map((g) => [g, { images: [], snapshots: [] }])), r.stdout);
                });
            });
        }
    }
});
