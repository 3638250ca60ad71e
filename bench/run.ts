// `npm run bench`: golden-ami's benchmarks, each against a baseline in the same
// run, against moto behind the test proxy with a fixed latency per EC2 call
// (about what a real EC2 call costs). Prints every figure with its baseline,
// and last one summary line:
//   bench: retention-speedup=<x> retention-calls-ratio=<r> lifecycle-calls=<n> provider-bytes=<b> preview-overhead=<x> provider-rss-mb=<m>
//
// Options: --amis-per-region N (default 1000), --latency-ms N (default 50), --preview-runs N (default 3).
import {
    CreateImageCommand,
    CreateLaunchTemplateCommand,
    DeleteSnapshotCommand,
    DeregisterImageCommand,
    DescribeInstancesCommand,
    EC2Client,
    Image,
    paginateDescribeImages,
    paginateDescribeLaunchTemplateVersions,
    RunInstancesCommand,
} from "@aws-sdk/client-ec2";
import * as fs from "node:fs";
import pLimit from "p-limit";
import { motoEnv, startMoto } from "../scripts/lib/moto";
import { createSourceInstance, inventory } from "../scripts/lib/ec2-fixtures";
import { descendants } from "../scripts/lib/pulumi";
import { newStack, Stack } from "../test/support/consumer";
import { Ec2Proxy, startEc2Proxy } from "../emulator/ec2-proxy";

function arg(name: string, fallback: number): number {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const AMIS_PER_REGION = arg("amis-per-region", 1000);
const LATENCY_MS = arg("latency-ms", 50);
const PREVIEW_RUNS = arg("preview-runs", 3);
const REGIONS = ["us-east-1", "us-west-2", "eu-west-1"];
const GROUPS = 10;
const KEEP = 5;
const INSTANCES = 50;
const TEMPLATES = 20;

type Moto = Awaited<ReturnType<typeof startMoto>>;
const say = (line: string) => console.log(line);
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// --- 1. EC2 calls per lifecycle -------------------------------------------

async function lifecycleCalls(moto: Moto, proxy: Ec2Proxy): Promise<{ fromInstance: number; copy: number }> {
    const region = "us-east-1";
    const { instanceId } = await createSourceInstance(region);
    const env = { ...motoEnv(proxy.endpoint, region), GOLDEN_AMI_POLL_SCALE: "0.01" };

    const a = await newStack("bench/programs/lifecycle", "from-instance", env);
    await a.config({ "aws:region": region, sourceInstanceId: instanceId });
    proxy.resetStats();
    await a.run(["up", "--yes", "--skip-preview"]);
    await a.run(["destroy", "--yes", "--skip-preview"]);
    const fromInstance = proxy.stats();

    const direct = new EC2Client({ region, endpoint: moto.endpoint });
    const source = (await direct.send(new CreateImageCommand({ InstanceId: instanceId, Name: "bench-lifecycle-source" }))).ImageId!;
    direct.destroy();
    const b = await newStack("bench/programs/lifecycle", "copy", env);
    await b.config({ "aws:region": region, kind: "copy", sourceAmiId: source, copyRegion: "us-west-2" });
    proxy.resetStats();
    await b.run(["up", "--yes", "--skip-preview"]);
    await b.run(["destroy", "--yes", "--skip-preview"]);
    const copy = proxy.stats();

    say(
        `lifecycle: AmiFromInstance create+destroy = ${fromInstance.requests} EC2 calls ${JSON.stringify(fromInstance.byAction)} (target <= 5)`,
    );
    say(`lifecycle: AmiCopy create+destroy         = ${copy.requests} EC2 calls ${JSON.stringify(copy.byAction)} (target <= 5)`);
    return { fromInstance: fromInstance.requests, copy: copy.requests };
}

// --- 2. Retention at scale ---------------------------------------------------

/** Creation dates spread over months, from the name (moto stamps everything "now"). */
function creationDateFromName(name: string): string | undefined {
    const m = /^bench-g(\d+)-i(\d+)$/.exec(name);
    if (!m) return undefined;
    return new Date(Date.UTC(2026, 0, 1) + Number(m[2]) * 3_600_000 + Number(m[1]) * 60_000).toISOString();
}

/** The same account in every run: per region, AMIS_PER_REGION images in GROUPS groups, some used by instances and templates. */
async function seed(moto: Moto): Promise<void> {
    const perGroup = AMIS_PER_REGION / GROUPS;
    const limit = pLimit(8);
    await Promise.all(
        REGIONS.map(async (region, r) => {
            const ec2 = new EC2Client({ region, endpoint: moto.endpoint });
            const { instanceId } = await createSourceInstance(region);
            const ids = new Map<string, string>();
            await Promise.all(
                Array.from({ length: AMIS_PER_REGION }, (_, k) =>
                    limit(async () => {
                        const g = k % GROUPS;
                        const i = Math.floor(k / GROUPS);
                        const name = `bench-g${String(g).padStart(2, "0")}-i${String(i).padStart(4, "0")}`;
                        const out = await ec2.send(
                            new CreateImageCommand({
                                InstanceId: instanceId,
                                Name: name,
                                TagSpecifications: [
                                    { ResourceType: "image", Tags: [{ Key: "Group", Value: `g${String(g).padStart(2, "0")}` }] },
                                ],
                            }),
                        );
                        ids.set(name, out.ImageId!);
                    }),
                ),
            );
            const old = (n: number) => {
                const g = n % GROUPS;
                const i = (n * 7) % Math.max(1, perGroup - KEEP);
                return ids.get(`bench-g${String(g).padStart(2, "0")}-i${String(i).padStart(4, "0")}`)!;
            };
            const instances = Math.round(INSTANCES / REGIONS.length + (r === 0 ? INSTANCES % REGIONS.length : 0));
            const templates = Math.round(TEMPLATES / REGIONS.length + (r === 0 ? TEMPLATES % REGIONS.length : 0));
            for (let n = 0; n < instances; n++) await ec2.send(new RunInstancesCommand({ ImageId: old(n), MinCount: 1, MaxCount: 1 }));
            for (let n = 0; n < templates; n++) {
                await ec2.send(
                    new CreateLaunchTemplateCommand({
                        LaunchTemplateName: `bench-${n}`,
                        LaunchTemplateData: { ImageId: old(1000 + n * 3) },
                    }),
                );
            }
            ec2.destroy();
        }),
    );
}

async function imageNames(): Promise<Set<string>> {
    const names = new Set<string>();
    for (const r of REGIONS) for (const i of (await inventory(r)).images) if (i.name?.startsWith("bench-")) names.add(`${r}/${i.name}`);
    return names;
}

/**
 * The old way, written plainly with the same SDK: describe-images per region,
 * then one image at a time: check use, deregister, delete its snapshots.
 */
async function baselineScript(endpoint: string): Promise<void> {
    for (const region of REGIONS) {
        const ec2 = new EC2Client({ region, endpoint, maxAttempts: 10 });
        const images: Image[] = [];
        for await (const page of paginateDescribeImages(
            { client: ec2, pageSize: 1000 },
            { Owners: ["self"], Filters: [{ Name: "name", Values: ["bench-*"] }] },
        )) {
            images.push(...(page.Images ?? []));
        }
        const templateImages = new Set<string | undefined>();
        for await (const page of paginateDescribeLaunchTemplateVersions(
            { client: ec2, pageSize: 200 },
            { Versions: ["$Default", "$Latest"] },
        )) {
            for (const v of page.LaunchTemplateVersions ?? []) templateImages.add(v.LaunchTemplateData?.ImageId);
        }
        const groups = new Map<string, Image[]>();
        for (const img of images) {
            const g = img.Tags?.find((t) => t.Key === "Group")?.Value ?? "";
            groups.set(g, [...(groups.get(g) ?? []), img]);
        }
        for (const members of groups.values()) {
            members.sort((a, b) => Date.parse(b.CreationDate!) - Date.parse(a.CreationDate!) || a.ImageId!.localeCompare(b.ImageId!));
            for (const img of members.slice(KEEP)) {
                const users = await ec2.send(
                    new DescribeInstancesCommand({
                        Filters: [
                            { Name: "image-id", Values: [img.ImageId!] },
                            { Name: "instance-state-name", Values: ["pending", "running", "shutting-down", "stopping", "stopped"] },
                        ],
                    }),
                );
                if ((users.Reservations ?? []).some((r) => (r.Instances ?? []).length > 0) || templateImages.has(img.ImageId)) continue;
                await ec2.send(new DeregisterImageCommand({ ImageId: img.ImageId! }));
                for (const m of img.BlockDeviceMappings ?? []) {
                    if (m.Ebs?.SnapshotId) await ec2.send(new DeleteSnapshotCommand({ SnapshotId: m.Ebs.SnapshotId }));
                }
            }
        }
        ec2.destroy();
    }
}

/** Peak RSS (VmHWM) of the dynamic-provider processes under `pid`, sampled until `stop` resolves. */
async function samplePeakRss(pid: number, stop: Promise<unknown>): Promise<number> {
    let peakKb = 0;
    let done = false;
    void stop.then(() => (done = true));
    while (!done) {
        for (const p of [pid, ...descendants(pid)]) {
            try {
                const cmd = fs.readFileSync(`/proc/${p}/cmdline`, "utf8");
                if (!cmd.includes("dynamic-provider")) continue;
                const hwm = /VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${p}/status`, "utf8"));
                if (hwm) peakKb = Math.max(peakKb, Number(hwm[1]));
            } catch {
                // gone
            }
        }
        await new Promise((r) => setTimeout(r, 100));
    }
    return peakKb / 1024;
}

async function retentionAtScale(moto: Moto, proxy: Ec2Proxy) {
    say(
        `retention: seeding ${REGIONS.length} regions x ${AMIS_PER_REGION} AMIs in ${GROUPS} groups, ${INSTANCES} instances, ${TEMPLATES} launch templates`,
    );
    await moto.reset(); // both runs see the same account: nothing but the seed
    await seed(moto);
    const all = await imageNames();
    proxy.resetStats();
    let t = Date.now();
    await baselineScript(proxy.endpoint);
    const baselineMs = Date.now() - t;
    const baselineCalls = proxy.stats().requests;
    const baselineKept = await imageNames();
    const baselineRetired = [...all].filter((n) => !baselineKept.has(n));
    say(`retention: baseline script  ${seconds(baselineMs)}, ${baselineCalls} EC2 calls, ${baselineRetired.length} retired`);

    await moto.reset();
    await seed(moto);
    const again = await imageNames();
    const differ = [...all].filter((n) => !again.has(n)).concat([...again].filter((n) => !all.has(n)));
    if (differ.length) throw new Error(`the second seed differs from the first: ${differ.slice(0, 10).join(", ")}`);
    const stack = await newStack("bench/programs/retention", "retention", motoEnv(proxy.endpoint, REGIONS[0]));
    await stack.config({ "aws:region": REGIONS[0] });
    for (const [i, r] of REGIONS.entries()) await stack.run(["config", "set", "--path", `regions[${i}]`, r]);
    proxy.resetStats();
    t = Date.now();
    const run = stack.start(["up", "--yes", "--skip-preview"]);
    const rss = samplePeakRss(run.pid!, run.done);
    const result = (await run.done) as { code: number; stdout: string };
    const policyMs = Date.now() - t;
    if (result.code !== 0) throw new Error(`retention up failed:\n${result.stdout.slice(-3000)}`);
    const policyCalls = proxy.stats().requests;
    for (const line of result.stdout.split("\n")) if (/retention: /.test(line)) say(`  ${line.trim()}`);
    const rssMb = await rss;
    const policyKept = await imageNames();
    const policyRetired = [...all].filter((n) => !policyKept.has(n));
    say(
        `retention: AmiRetentionPolicy ${seconds(policyMs)} (one pulumi up, CLI start included), ${policyCalls} EC2 calls, ${policyRetired.length} retired`,
    );

    const same = JSON.stringify(baselineRetired.sort()) === JSON.stringify(policyRetired.sort());
    if (!same) {
        const onlyBaseline = baselineRetired.filter((n) => !policyRetired.includes(n));
        const onlyPolicy = policyRetired.filter((n) => !baselineRetired.includes(n));
        throw new Error(
            `the policy and the baseline retired different images: only the baseline ${onlyBaseline.join(", ")}; only the policy ${onlyPolicy.join(", ")}`,
        );
    }
    if (policyRetired.length === 0) throw new Error("nothing was retired: the data set is wrong");
    say(`retention: both retired the same ${policyRetired.length} images`);
    say(`retention: provider process peak RSS ${rssMb.toFixed(0)} MB (target <= 300)`);
    await moto.reset();
    return { speedup: baselineMs / policyMs, callsRatio: policyCalls / baselineCalls, rssMb };
}

// --- 3 and 4. State footprint and preview overhead ---------------------------

async function stateAndPreview(moto: Moto) {
    const region = "us-east-1";
    const env = motoEnv(moto.endpoint, region);
    const { instanceId } = await createSourceInstance(region);
    const images = await newStack("bench/programs/many-images", "state", env);
    await images.config({ "aws:region": region, sourceInstanceId: instanceId, count: "100" });
    await images.run(["up", "--yes", "--skip-preview"]);
    const noop = await newStack("bench/programs/many-noop", "noop", env);
    await noop.config({ count: "100" });
    await noop.run(["up", "--yes", "--skip-preview"]);

    const state = await images.export();
    const exported = JSON.stringify(state);
    const resources = state.deployment.resources!.filter((r) => r.type.endsWith(":AmiFromInstance"));
    const providerBytes = Math.max(...resources.map((r) => String(r.inputs!.__provider).length));
    const perResource = Math.round(exported.length / resources.length);
    say(
        `state: ${resources.length} AmiFromInstance, stack export ${exported.length} bytes (${perResource} per resource), provider text ${providerBytes} bytes per resource (target <= 4096)`,
    );

    const time = async (s: Stack) => {
        const t = Date.now();
        await s.run(["preview"]);
        return Date.now() - t;
    };
    await time(images); // warm caches for both
    await time(noop);
    const a: number[] = [];
    const b: number[] = [];
    for (let i = 0; i < PREVIEW_RUNS; i++) {
        a.push(await time(images));
        b.push(await time(noop));
    }
    const overhead = median(a) / median(b);
    say(
        `preview: 100 AmiFromInstance ${seconds(median(a))} vs 100 no-op dynamic resources ${seconds(median(b))} (median of ${PREVIEW_RUNS}), ratio ${overhead.toFixed(2)} (target <= 1.3)`,
    );
    await images.run(["destroy", "--yes", "--skip-preview"]);
    await noop.run(["destroy", "--yes", "--skip-preview"]);
    return { providerBytes, overhead, stateBytes: exported.length };
}

async function main() {
    say(`bench: node ${process.version}, ${REGIONS.length} regions, latency ${LATENCY_MS} ms per EC2 call`);
    const moto = await startMoto();
    // Fixtures and sweeps go to moto directly; only what is measured goes through the proxy.
    Object.assign(process.env, motoEnv(moto.endpoint));
    const proxy = await startEc2Proxy({ target: moto.endpoint, latencyMs: LATENCY_MS, pageSize: 1000, creationDateFromName });
    try {
        const lifecycle = await lifecycleCalls(moto, proxy);
        const { providerBytes, overhead } = await stateAndPreview(moto);
        const retention = await retentionAtScale(moto, proxy);
        say(
            `bench: retention-speedup=${retention.speedup.toFixed(1)} retention-calls-ratio=${retention.callsRatio.toFixed(2)} ` +
                `lifecycle-calls=${Math.max(lifecycle.fromInstance, lifecycle.copy)} provider-bytes=${providerBytes} ` +
                `preview-overhead=${overhead.toFixed(2)} provider-rss-mb=${retention.rssMb.toFixed(0)}`,
        );
    } finally {
        await proxy.stop();
        await moto.stop();
    }
}

main().catch((e) => {
    console.error(`bench failed: ${e.stack ?? e}`);
    process.exit(1);
});
