// `npm run bench`: golden-ami against EC2's documented request limits and
// against its peers, in one run. Behind the EC2 emulator (moto + the proxy of
// emulator/ with token buckets and latency, see bench/emulator-stack.ts), with
// time sped up by --scale F: bucket refill rates x F and latency / F, which
// leaves every ratio below unchanged. See BENCHMARKS.md for what each figure
// means and how the floor is computed. Last line of output:
//   bench: floor-ratio=<r> throttled-share=<p> failed=<n> vs-custodian=<x> vs-script=<x> lifecycle-calls=<n>
//          retire-calls-per-image=<r> preview-10k-s=<s> provider-rss-mb=<m> preview-bytes=<b> state-bytes=<b>
//
// Options: --regions N (default 3), --amis-per-region N (600), --scale F (2),
// --latency-ms N (50, before scaling), --max-age-days N (30),
// --preview-amis N (3000), --snapshot-in-use-calls N (0), --runs-startup N (1),
// --quick (300 AMIs per region, 1,000 for the preview, for development),
// --ci (what CI runs, under two minutes: one region of 150 AMIs, 300 for the preview, Cloud
//   Custodian skipped unless already installed, the start-up section's lighter half; it must print the summary line),
// --issue (the issue's sizes: 3,000 AMIs per region, 10,000 for the preview, 3 start-up runs),
// --only a,b (sections: lifecycle, retention, preview, startup).
import {
    CreateImageCommand,
    DeleteSnapshotCommand,
    DeregisterImageCommand,
    DescribeInstancesCommand,
    EC2Client,
    Image,
    paginateDescribeImages,
    paginateDescribeLaunchTemplateVersions,
} from "@aws-sdk/client-ec2";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { motoEnv, startMoto } from "../scripts/lib/moto";
import { createSourceInstance } from "../scripts/lib/ec2-fixtures";
import { descendants, pulumiEnv, runPulumi } from "../scripts/lib/pulumi";
import { consumerProject, newStack } from "../test/support/consumer";
import { ProxyOptions, startEc2Proxy } from "../emulator/ec2-proxy";
import { floorSeconds } from "./ec2-buckets";
import { ensureCustodian, PYTHON, runCustodian } from "./custodian";
import { Ec2Emulator, RouterStats, startEc2Emulator } from "./emulator-stack";
import { allOldPlan, creationDateFromName, retentionPlan, SeedPlan, seedRegion, survey } from "./seed";

function arg(name: string, fallback: number): number {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const QUICK = process.argv.includes("--quick");
/** --ci: the smallest run that still goes through every section and prints the summary line (test/bench/quick-bench.test.ts). */
const CI = process.argv.includes("--ci");
/** --issue: the issue's sizes (3 x 3,000 AMIs, 10,000 for the preview): well over an hour on a loaded 2-core machine. */
const ISSUE = process.argv.includes("--issue");
const ALL_REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2", "eu-central-1"];
const REGIONS = ALL_REGIONS.slice(0, arg("regions", CI ? 1 : 3));
const AMIS_PER_REGION = arg("amis-per-region", CI ? 150 : QUICK ? 300 : ISSUE ? 3000 : 600);
// 2: moto serves ~40 requests/s over three regions on a loaded 2-core machine;
// three regions' DeregisterImage buckets at 5 x 2 a second stay below that.
const SCALE = arg("scale", 2);
const LATENCY_MS = arg("latency-ms", 50);
const MAX_AGE_DAYS = arg("max-age-days", 30);
const PREVIEW_AMIS = arg("preview-amis", CI ? 300 : QUICK ? 1000 : ISSUE ? 10_000 : 3000);
/** Images added between the two previews of the repeated-preview figure: 1% of the preview's. */
const REPEAT_NEW = Math.max(1, Math.round(PREVIEW_AMIS / 100));
const SNAPSHOT_IN_USE_CALLS = arg("snapshot-in-use-calls", 0);
const STARTUP_RUNS = arg("runs-startup", QUICK ? 1 : ISSUE ? 3 : 1);
const ONLY = (() => {
    const i = process.argv.indexOf("--only");
    return i >= 0 ? new Set(process.argv[i + 1].split(",")) : undefined;
})();
const INSTANCES_PER_REGION = 17;
const TEMPLATES_PER_REGION = 7;
const EPOCH = Date.now();

const say = (line: string) => console.log(line);
const seconds = (ms: number) => (Number.isNaN(ms) ? "skipped (--ci)" : `${(ms / 1000).toFixed(1)} s`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * The proxy options of every measured run: documented token buckets with
 * refill x SCALE, latency / SCALE, and DeregisterImage's
 * DeleteAssociatedSnapshots honoured as real EC2 does, for every contender
 * (Cloud Custodian's `delete-snapshots` sends DeleteSnapshot itself: its choice).
 */
function measuredOptions(): Omit<ProxyOptions, "target"> {
    return {
        latencyMs: LATENCY_MS / SCALE,
        pageSize: 1000,
        // Images as `golden-ami emulator` serves them (one snapshot per volume); a DescribeImages without
        // MaxResults answers up to 1,000 images, DescribeImages' largest page.
        imageService: { defaultPageSize: 1000 },
        snapshotInUseCalls: SNAPSHOT_IN_USE_CALLS,
        creationDateFromName: creationDateFromName(EPOCH),
        deleteAssociatedSnapshots: true,
        tokenBuckets: { refillScale: SCALE },
    };
}

/**
 * golden-ami's environment in measured runs: its defaults, the time scale
 * aside: its client-side pacing refills at the emulator's sped-up rate
 * (GOLDEN_AMI_EC2_RATE_SCALE, tests and bench only). No
 * GOLDEN_AMI_EC2_RATE_SHARE: the adaptive pacing, as users get it.
 */
function goldenPacingEnv(): Record<string, string> {
    return { GOLDEN_AMI_EC2_RATE_SCALE: String(SCALE) };
}

/**
 * The python that seeds Auto Scaling groups (boto3): the bench venv's when
 * Cloud Custodian is installed, else the one moto runs on (moto needs boto3).
 */
function seedPython(): string {
    for (const candidate of [PYTHON, path.join(__dirname, "..", ".tools", "venv", "bin", "python"), "python3"]) {
        const r = spawnSync(candidate, ["-c", "import boto3"], { encoding: "utf8" });
        if (r.status === 0) return candidate;
    }
    throw new Error("no python with boto3 found (the bench venv, .tools/venv or python3) to seed Auto Scaling groups: pip install boto3");
}

// --- 1. EC2 calls per lifecycle -------------------------------------------

/** The calls among `byAction` that change something (not Describe*): what a lifecycle costs the account's write buckets. */
function writesOf(byAction: Record<string, number>): number {
    return Object.entries(byAction)
        .filter(([action]) => !action.startsWith("Describe"))
        .reduce((n, [, calls]) => n + calls, 0);
}

async function lifecycleCalls(): Promise<number> {
    const region = "us-east-1";
    const moto = await startMoto();
    const saved = { ...process.env };
    Object.assign(process.env, motoEnv(moto.endpoint, region));
    const proxy = await startEc2Proxy({ target: moto.endpoint, ...measuredOptions() });
    try {
        const { instanceId } = await createSourceInstance(region);
        const env = { ...motoEnv(proxy.endpoint, region), ...goldenPacingEnv(), GOLDEN_AMI_POLL_SCALE: "0.01" };
        const a = await newStack("bench/programs/lifecycle", "from-instance", env);
        await a.config({ "aws:region": region, sourceInstanceId: instanceId });
        proxy.resetStats();
        await a.run(["up", "--yes", "--skip-preview"]);
        await a.run(["destroy", "--yes", "--skip-preview"]);
        const fromInstance = proxy.stats();

        // Through the proxy: images live in its image service.
        const direct = new EC2Client({ region, endpoint: proxy.endpoint });
        const source = (await direct.send(new CreateImageCommand({ InstanceId: instanceId, Name: "bench-lifecycle-source" }))).ImageId!;
        direct.destroy();
        const b = await newStack("bench/programs/lifecycle", "copy", env);
        await b.config({ "aws:region": region, kind: "copy", sourceAmiId: source, copyRegion: "us-west-2" });
        proxy.resetStats();
        await b.run(["up", "--yes", "--skip-preview"]);
        await b.run(["destroy", "--yes", "--skip-preview"]);
        const copy = proxy.stats();
        say(
            `lifecycle: AmiFromInstance create+destroy = ${fromInstance.requests} EC2 calls ${JSON.stringify(fromInstance.byAction)} (${writesOf(fromInstance.byAction)} writes, target <= 4)`,
        );
        say(
            `lifecycle: AmiCopy create+destroy         = ${copy.requests} EC2 calls ${JSON.stringify(copy.byAction)} (${writesOf(copy.byAction)} writes, target <= 4)`,
        );
        return Math.max(fromInstance.requests, copy.requests);
    } finally {
        await proxy.stop();
        await moto.stop();
        process.env = saved;
    }
}

// --- 2. Retention at scale: golden-ami, Cloud Custodian, the sequential script ---

/**
 * The sequential script: the approach of the cleanup scripts golden-ami
 * replaces, written plainly with the same SDK. Per region, one after another:
 * describe-images, the launch templates once, then one image at a time: check
 * whether an instance uses it, deregister it, delete its snapshots. Like
 * Cloud Custodian, it leaves a snapshot EC2 calls in use.
 */
async function sequentialScript(endpoint: string, regions: string[]): Promise<void> {
    const cutoff = Date.now() - MAX_AGE_DAYS * 86_400_000;
    for (const region of regions) {
        const ec2 = new EC2Client({
            region,
            endpoint,
            maxAttempts: 10,
            credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
        });
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
        images.sort((a, b) => Date.parse(b.CreationDate!) - Date.parse(a.CreationDate!) || a.ImageId!.localeCompare(b.ImageId!));
        for (const img of images.slice(1)) {
            if (Date.parse(img.CreationDate!) >= cutoff) continue;
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
                if (!m.Ebs?.SnapshotId) continue;
                try {
                    await ec2.send(new DeleteSnapshotCommand({ SnapshotId: m.Ebs.SnapshotId }));
                } catch (e) {
                    if ((e as { name?: string }).name !== "InvalidSnapshot.InUse") throw e;
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

interface Contender {
    name: string;
    ms: number;
    stats: RouterStats;
    retired: string[];
    leakedSnapshots: number;
    failed?: number;
}

/** Seeding and its survey run with no buckets and no latency; the measured options (buckets full again) after. */
async function seedAll(emu: Ec2Emulator, plan: SeedPlan): Promise<{ names: Set<string>; unusedSnapshots: number; multiVolume: number }> {
    emu.setProxyOptions({ latencyMs: 0, tokenBuckets: false });
    try {
        await emu.reset();
        const python = seedPython();
        await Promise.all(emu.regions.map((r) => seedRegion(emu.direct(r), r, plan, python)));
        const names = new Set<string>();
        let unusedSnapshots = 0;
        let multiVolume = 0;
        for (const r of emu.regions) {
            const s = await survey(emu.direct(r), r);
            s.names.forEach((n) => names.add(n));
            unusedSnapshots += s.snapshots - s.imageSnapshots;
            multiVolume += s.multiVolumeImages;
        }
        return { names, unusedSnapshots, multiVolume };
    } finally {
        emu.setProxyOptions(measuredOptions());
    }
}

async function outcome(emu: Ec2Emulator, before: { names: Set<string>; unusedSnapshots: number }) {
    const left = new Set<string>();
    let unused = 0;
    for (const r of emu.regions) {
        const s = await survey(emu.direct(r), r);
        s.names.forEach((n) => left.add(n));
        unused += s.snapshots - s.imageSnapshots;
    }
    return { retired: [...before.names].filter((n) => !left.has(n)).sort(), leakedSnapshots: unused - before.unusedSnapshots };
}

async function contender(
    emu: Ec2Emulator,
    plan: SeedPlan,
    name: string,
    expected: Set<string> | undefined,
    run: () => Promise<{ ms: number; failed?: number; rssMb?: number; competitor?: { sent: number; throttled: number } }>,
): Promise<Contender & { rssMb?: number; seeded: Set<string>; competitor?: { sent: number; throttled: number } }> {
    const t = Date.now();
    const before = await seedAll(emu, plan);
    if (expected) {
        const differ = [...expected].filter((n) => !before.names.has(n)).concat([...before.names].filter((n) => !expected.has(n)));
        if (differ.length) throw new Error(`seeding for ${name} differs from the first seed: ${differ.slice(0, 10).join(", ")}`);
    }
    say(
        `retention: seeded ${before.names.size} AMIs (${before.multiVolume} of them with two data volumes: three snapshots) for ${name} in ${seconds(Date.now() - t)}`,
    );
    emu.resetStats();
    const r = await run();
    const stats = emu.stats();
    const o = await outcome(emu, before);
    say(
        `retention: ${name.padEnd(16)} ${seconds(r.ms).padStart(8)}, ${stats.requests} EC2 calls (${stats.throttled} throttled) ` +
            `${JSON.stringify(stats.byAction)}, ${o.retired.length} retired, ${o.leakedSnapshots} snapshots leaked` +
            (r.failed !== undefined ? `, ${r.failed} failed` : ""),
    );
    // Where the time went: each action's span within the EC2 window and its mean answer time at the router.
    const start = stats.first ?? 0;
    const spans = Object.entries(stats.timeline)
        .sort((a, b) => a[1].first - b[1].first)
        .map(
            ([a, t]) =>
                `${a} ${((t.first - start) / 1000).toFixed(1)}-${((t.last - start) / 1000).toFixed(1)} s ${(t.waitedMs / (stats.byAction[a] || 1)).toFixed(0)} ms`,
        );
    say(`retention: ${name} timeline (action: span in its EC2 window, mean answer time): ${spans.join("; ")}`);
    return { name, ms: r.ms, stats, ...o, failed: r.failed, rssMb: r.rssMb, seeded: before.names, competitor: r.competitor };
}

/**
 * Another client of the account: in each region, DeregisterImage of an image
 * that does not exist at half of the bucket's refill (2.5 a second x F),
 * straight to the region's proxy (its buckets; not counted at the router).
 * A throttled request is not retried: it is the other automation's loss.
 */
function startCompetitor(emu: Ec2Emulator): { stop(): Promise<{ sent: number; throttled: number }> } {
    let running = true;
    let sent = 0;
    let throttled = 0;
    const loops = emu.regions.map(async (region) => {
        const ec2 = new EC2Client({
            region,
            endpoint: emu.proxy(region).endpoint,
            maxAttempts: 1,
            credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
        });
        const every = 1000 / (2.5 * SCALE);
        let next = Date.now();
        const inFlight: Promise<void>[] = [];
        while (running) {
            sent++;
            inFlight.push(
                ec2.send(new DeregisterImageCommand({ ImageId: "ami-0000000000c0ffee0" })).then(
                    () => undefined,
                    (e: { name?: string }) => {
                        if (e.name === "RequestLimitExceeded") throttled++;
                    },
                ),
            );
            next += every;
            await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
        }
        await Promise.all(inFlight);
        ec2.destroy();
    });
    return {
        async stop() {
            running = false;
            await Promise.all(loops);
            return { sent, throttled };
        },
    };
}

async function retentionAtScale(emu: Ec2Emulator) {
    const plan = retentionPlan(AMIS_PER_REGION, MAX_AGE_DAYS, INSTANCES_PER_REGION, TEMPLATES_PER_REGION);
    say(
        `retention: ${REGIONS.length} regions x ${AMIS_PER_REGION} AMIs aged 0-365 days, retire what is older than ${MAX_AGE_DAYS} days ` +
            `and unused (${INSTANCES_PER_REGION} instances and ${TEMPLATES_PER_REGION} Auto Scaling groups' launch templates per region use old ones)`,
    );
    // --ci: Cloud Custodian only if its venv is already there (installing c7n from PyPI takes minutes).
    const c7nVersion = CI && !fs.existsSync(PYTHON) ? undefined : ensureCustodian(say);
    if (!c7nVersion)
        say(
            "retention: custodian skipped (--ci and no .tools/bench-venv: installing c7n from PyPI would take minutes); vs-custodian=skipped",
        );
    const seeded = new Set<string>();

    /**
     * One `pulumi up --skip-preview` of the policy; retireShared as the peers'
     * semantics (true) or golden-ami's default (false). `steady`: the policy
     * ran before (here a dry run, not counted), so its check has every
     * candidate's sharing on record, as on every run after a policy's first.
     * `competitor`: another client takes half of each region's DeregisterImage
     * bucket during the measured run.
     */
    const goldenRun =
        (retireShared: boolean, options: { steady?: boolean; competitor?: boolean } = {}) =>
        async () => {
            const stackName = retireShared ? "retention" : options.competitor ? "retention-competing" : "retention-default";
            const stack = await newStack("bench/programs/retention", stackName, {
                ...motoEnv(emu.endpoint, REGIONS[0]),
                ...goldenPacingEnv(),
                AWS_ENDPOINT_URL_SSM: emu.moto(REGIONS[0]).endpoint,
            });
            await stack.config({ "aws:region": REGIONS[0], maxAgeDays: String(MAX_AGE_DAYS), retireShared: String(retireShared) });
            for (const [i, r] of REGIONS.entries()) await stack.run(["config", "set", "--path", `regions[${i}]`, r]);
            let firstRead: string | undefined;
            if (options.steady) {
                await stack.config({ dryRun: "true" });
                const t0 = Date.now();
                await stack.run(["up", "--yes", "--skip-preview"]);
                const s = emu.stats();
                firstRead = `first run (a dry run, not counted): ${s.byAction.DescribeImageAttribute ?? 0} DescribeImageAttribute in ${seconds(Date.now() - t0)}`;
                await stack.config({ dryRun: "false" });
                emu.resetStats();
            }
            const competitor = options.competitor ? startCompetitor(emu) : undefined;
            const t = Date.now();
            const run = stack.start(["up", "--yes", "--skip-preview"]);
            const rss = samplePeakRss(run.pid!, run.done);
            const result = (await run.done) as { code: number; stdout: string };
            const ms = Date.now() - t;
            const other = await competitor?.stop();
            if (result.code !== 0) throw new Error(`retention up failed:\n${result.stdout.slice(-3000)}`);
            for (const line of result.stdout.split("\n")) if (/: \d+ retired, \d+ snapshots deleted/.test(line)) say(`  ${line.trim()}`);
            if (firstRead) say(`  ${firstRead}`);
            if (other) say(`  competitor: ${other.sent} DeregisterImage at half the bucket's refill, ${other.throttled} throttled`);
            const outs = await stack.outputs();
            return { ms, failed: Number(outs.failed ?? 0), rssMb: await rss, competitor: other };
        };

    // golden-ami first, as the peers retire (shared images not spared): its seed is the reference the others are compared with.
    const golden = await contender(emu, plan, "golden-ami", undefined, goldenRun(true));
    golden.seeded.forEach((n) => seeded.add(n));
    // golden-ami with its defaults: sharing spared, on record from the policy's earlier run, read again right before each retirement.
    const goldenDefault = await contender(emu, plan, "golden-ami default", seeded, goldenRun(false, { steady: true }));
    // The same with another client taking half of the DeregisterImage bucket (--ci: skipped, to stay near two minutes).
    const competing = CI
        ? undefined
        : await contender(emu, plan, "golden-ami competing", seeded, goldenRun(false, { steady: true, competitor: true }));
    if (!competing) say("retention: golden-ami competing skipped (--ci); competing-*=skipped");

    const custodian = c7nVersion
        ? await contender(emu, plan, `custodian ${c7nVersion}`, seeded, async () => {
              const r = await runCustodian(emu.endpoint, REGIONS, MAX_AGE_DAYS);
              return { ms: r.ms };
          })
        : undefined;
    const script = await contender(emu, plan, "script", seeded, async () => {
        const t = Date.now();
        await sequentialScript(emu.endpoint, REGIONS);
        return { ms: Date.now() - t };
    });
    if (golden.retired.length === 0) throw new Error("nothing was retired: the data set is wrong");
    for (const peer of [custodian, script, goldenDefault, competing].filter((c) => c !== undefined)) {
        const onlyPeer = peer.retired.filter((n) => !golden.retired.includes(n));
        const onlyGolden = golden.retired.filter((n) => !peer.retired.includes(n));
        if (onlyPeer.length || onlyGolden.length) {
            throw new Error(
                `golden-ami and ${peer.name} retired different images: only ${peer.name} ${onlyPeer.slice(0, 10).join(", ")} (${onlyPeer.length}); ` +
                    `only golden-ami ${onlyGolden.slice(0, 10).join(", ")} (${onlyGolden.length})`,
            );
        }
    }
    say(
        `retention: all ${2 + [custodian, script, competing].filter(Boolean).length} runs retired the same ${golden.retired.length} images (asserted)`,
    );

    const floorOf = (stats: RouterStats) => {
        const calls: Record<string, Record<string, number>> = {};
        for (const [r, c] of Object.entries(stats.byRegion)) calls[r] = c.accepted;
        const floor = floorSeconds(calls, SCALE);
        const windowMs = (stats.last ?? 0) - (stats.first ?? 0);
        return { floor, windowMs, ratio: floor.seconds > 0 ? windowMs / 1000 / floor.seconds : NaN };
    };
    const { floor, windowMs } = floorOf(golden.stats);
    const byDefault = floorOf(goldenDefault.stats);
    // Against the half of DeregisterImage's bucket the competitor left: 50 tokens, 2.5 a second (x F), per region.
    const competingFloor = Math.max(
        0,
        ...Object.values(competing?.stats.byRegion ?? {}).map((c) => Math.max(0, (c.accepted.DeregisterImage ?? 0) - 50) / (2.5 * SCALE)),
    );
    const competingWindow = competing ? ((competing.stats.last ?? 0) - (competing.stats.first ?? 0)) / 1000 : NaN;
    const retireCalls = (golden.stats.byAction.DeregisterImage ?? 0) + (golden.stats.byAction.DeleteSnapshot ?? 0);
    say(
        `retention: floor ${floor.seconds.toFixed(1)} s (set by ${floor.bucket} in ${floor.region}; per region ${JSON.stringify(
            Object.fromEntries(Object.entries(floor.byRegion).map(([r, b]) => [r, `${b.bucket} ${b.seconds.toFixed(1)} s`])),
        )}); golden-ami's EC2 window ${seconds(windowMs)}, its whole pulumi up ${seconds(golden.ms)}`,
    );
    say(
        `retention: golden-ami default: floor ${byDefault.floor.seconds.toFixed(1)} s, EC2 window ${seconds(byDefault.windowMs)} ` +
            `(floor-ratio ${byDefault.ratio.toFixed(2)}: its ${goldenDefault.stats.byAction.DescribeImageAttribute ?? 0} DescribeImageAttribute overlap the retirements), ` +
            `whole pulumi up ${seconds(goldenDefault.ms)}` +
            (custodian ? `, ${(custodian.ms / goldenDefault.ms).toFixed(2)}x faster than ${custodian.name}` : ""),
    );
    const competingThrottled = competing?.stats.requests ? competing.stats.throttled / competing.stats.requests : NaN;
    if (competing)
        say(
            `retention: golden-ami competing (another client at half of DeregisterImage's bucket): floor of the half left ${competingFloor.toFixed(1)} s, ` +
                `EC2 window ${competingWindow.toFixed(1)} s (floor-ratio ${(competingWindow / competingFloor).toFixed(2)}), ` +
                `${competing.stats.throttled} of ${competing.stats.requests} requests throttled (${(competingThrottled * 100).toFixed(1)}%)`,
        );
    for (const peer of [custodian, script].filter((c) => c !== undefined)) {
        say(
            `retention: vs ${peer.name}: ${(peer.ms / golden.ms).toFixed(2)}x the wall time, ` +
                `${peer.stats.requests} vs golden-ami's ${golden.stats.requests} EC2 calls (golden-ami makes no more: ${golden.stats.requests <= peer.stats.requests})`,
        );
    }
    return {
        floorRatio: floor.seconds > 0 ? windowMs / 1000 / floor.seconds : NaN,
        throttledShare: golden.stats.requests ? golden.stats.throttled / golden.stats.requests : 0,
        failed: golden.failed ?? 0,
        vsCustodian: custodian ? custodian.ms / golden.ms : undefined,
        vsScript: script.ms / golden.ms,
        retireCallsPerImage: retireCalls / golden.retired.length,
        fewerCalls: golden.stats.requests <= (custodian?.stats.requests ?? Infinity) && golden.stats.requests <= script.stats.requests,
        leaked: { golden: golden.leakedSnapshots, custodian: custodian?.leakedSnapshots ?? "skipped", script: script.leakedSnapshots },
        rssMb: golden.rssMb ?? 0,
        defaultFloorRatio: byDefault.ratio,
        defaultVsCustodian: custodian ? custodian.ms / goldenDefault.ms : undefined,
        defaultVsScript: script.ms / goldenDefault.ms,
        defaultFewerCalls:
            goldenDefault.stats.requests <= (custodian?.stats.requests ?? Infinity) &&
            goldenDefault.stats.requests <= script.stats.requests,
        competing: competing !== undefined,
        competingFloorRatio: competingFloor > 0 ? competingWindow / competingFloor : NaN,
        competingThrottled,
        competitorThrottled: competing?.competitor ? competing.competitor.throttled / Math.max(1, competing.competitor.sent) : NaN,
    };
}

// --- 3. Preview and state at 10,000 AMIs in one region -----------------------

async function previewAtScale(emu: Ec2Emulator) {
    const region = emu.regions[0];
    const plan = allOldPlan(PREVIEW_AMIS, MAX_AGE_DAYS);
    // Not a throttling measurement: no buckets, no latency (the floor of 10,000 retirements is minutes even sped up).
    // Nor one of calls: DeleteAssociatedSnapshots is left to golden-ami's fallback (DeleteSnapshot per snapshot),
    // because the image service keeps a snapshot another image maps by scanning the region's table per call:
    // 10,000 x 10,000 images of emulator time that would measure the emulator, not golden-ami's sizes and memory.
    emu.setProxyOptions({ latencyMs: 0, tokenBuckets: false, deleteAssociatedSnapshots: false });
    try {
        await emu.reset();
        let t = Date.now();
        await seedRegion(emu.direct(region), region, plan);
        say(`preview: seeded ${PREVIEW_AMIS} AMIs in ${region} in ${seconds(Date.now() - t)}`);
        // Pacing out of the way too (refill x 1000): the emulator does not throttle here.
        const stack = await newStack("bench/programs/retention", "preview", {
            ...motoEnv(emu.endpoint, region),
            GOLDEN_AMI_EC2_RATE_SCALE: "1000",
        });
        await stack.config({ "aws:region": region, maxAgeDays: String(MAX_AGE_DAYS) });
        await stack.run(["config", "set", "--path", "regions[0]", region]);
        t = Date.now();
        const preview = stack.start(["preview", "--diff"]);
        const previewRss = samplePeakRss(preview.pid!, preview.done);
        const p = (await preview.done) as { code: number; stdout: string; stderr: string };
        const previewMs = Date.now() - t;
        if (p.code !== 0) throw new Error(`preview failed:\n${p.stdout.slice(-3000)}`);
        const previewBytes = Buffer.byteLength(p.stdout) + Buffer.byteLength(p.stderr);
        // A second preview after 1% new candidates, of a policy that ran before (a dry run: it records
        // every candidate's sharing in state): its EC2 calls, counted at the router.
        await stack.config({ dryRun: "true" });
        await stack.run(["up", "--yes", "--skip-preview"]);
        await seedRegion(
            emu.direct(region),
            region,
            {
                images: REPEAT_NEW,
                // Old enough to retire, between the data set's ages: new names, new candidates.
                ageDays: (i) => MAX_AGE_DAYS + 0.5 + (i * 0.4) / REPEAT_NEW,
                instanceImages: [],
                templateImages: [],
            },
            undefined,
            `base-${region}-more`,
        );
        emu.resetStats();
        const again = await stack.run(["preview"], { check: false });
        const repeat = emu.stats();
        if (again.code !== 0) throw new Error(`second preview failed:\n${again.stdout.slice(-3000)}`);
        const sharingLine = /sharing: [^\n]*/.exec(again.stdout)?.[0] ?? "(no sharing line)";
        say(
            `preview: second preview after ${REPEAT_NEW} new candidates: ${repeat.requests} EC2 calls ${JSON.stringify(repeat.byAction)}; ${sharingLine}`,
        );
        await stack.config({ dryRun: "false" });
        t = Date.now();
        const up = stack.start(["up", "--yes", "--skip-preview"]);
        const upRss = samplePeakRss(up.pid!, up.done);
        const u = (await up.done) as { code: number; stdout: string };
        const upMs = Date.now() - t;
        if (u.code !== 0) throw new Error(`up failed:\n${u.stdout.slice(-3000)}`);
        const outs = await stack.outputs();
        const stateBytes = JSON.stringify(await stack.export()).length;
        const rssMb = Math.max(await previewRss, await upRss);
        say(
            `preview: ${PREVIEW_AMIS} AMIs: preview --diff ${seconds(previewMs)}, ${previewBytes} bytes of output; ` +
                `up ${seconds(upMs)}, ${outs.retired} retired, ${outs.failed} failed; stack export ${stateBytes} bytes; provider peak RSS ${rssMb.toFixed(0)} MB`,
        );
        await emu.reset();
        return { previewS: previewMs / 1000, previewBytes, stateBytes, rssMb, repeatCalls: repeat.requests };
    } finally {
        emu.setProxyOptions(measuredOptions());
    }
}

// --- 4. Start-up: where an empty preview's seconds go ---------------------

async function startup() {
    const project = await consumerProject();
    const env = (dir: string) =>
        pulumiEnv(path.join(dir, ".state"), { AWS_REGION: "us-east-1", AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" });
    /** A program folder in the consumer project: TypeScript as given, or compiled to bin/index.js first. */
    const program = async (name: string, js: boolean) => {
        const src = path.join(__dirname, "programs", name);
        const dir = path.join(project, "programs", `${name}${js ? "-js" : ""}`);
        fs.mkdirSync(dir, { recursive: true });
        fs.copyFileSync(path.join(src, "index.ts"), path.join(dir, "index.ts"));
        fs.copyFileSync(path.join(__dirname, "..", "test", "e2e", "programs", "tsconfig.json"), path.join(dir, "tsconfig.json"));
        let yaml = fs.readFileSync(path.join(src, "Pulumi.yaml"), "utf8");
        if (js) {
            yaml = yaml.replace("typescript: true", "typescript: false") + "main: bin/index.js\n";
            const tsc = await import("node:child_process");
            tsc.execFileSync(
                path.join(project, "node_modules", ".bin", "tsc"),
                ["--outDir", "bin", "index.ts", "--module", "commonjs", "--target", "ES2022", "--esModuleInterop", "--skipLibCheck"],
                { cwd: dir },
            );
        }
        fs.writeFileSync(path.join(dir, "Pulumi.yaml"), yaml);
        fs.writeFileSync(
            path.join(dir, "package.json"),
            JSON.stringify({ name: `program-${name}`, main: js ? "bin/index.js" : "index.ts" }),
        );
        await runPulumi(["stack", "init", "startup"], { cwd: dir, env: env(dir), check: false });
        return dir;
    };
    const time = async (args: string[], dir: string, extra: Record<string, string> = {}) => {
        const xs: number[] = [];
        await runPulumi(args, { cwd: dir, env: { ...env(dir), ...extra } }); // warm the file cache
        for (let i = 0; i < STARTUP_RUNS; i++) {
            const t = Date.now();
            await runPulumi(args, { cwd: dir, env: { ...env(dir), ...extra } });
            xs.push(Date.now() - t);
        }
        return median(xs);
    };
    const emptyTs = await program("startup-empty", false);
    const cli = await time(["version"], emptyTs);
    const previewEmptyTs = await time(["preview", "--stack", "startup"], emptyTs);
    // --ci: the empty preview and the module loads only (the other programs add a minute of previews).
    const skipped = async () => NaN;
    const previewEmptyTsTranspile = CI
        ? await skipped()
        : await time(["preview", "--stack", "startup"], emptyTs, { PULUMI_NODEJS_TRANSPILE_ONLY: "true" });
    const previewEmptyJs = CI ? await skipped() : await time(["preview", "--stack", "startup"], await program("startup-empty", true));
    const previewOneTs = CI ? await skipped() : await time(["preview", "--stack", "startup"], await program("startup-one", false));
    const previewOneJs = CI ? await skipped() : await time(["preview", "--stack", "startup"], await program("startup-one", true));
    const nodeAlone = await timeNode(project, "0");
    const requirePulumi = await timeNode(project, "require('@pulumi/pulumi')");
    const requireSdk = await timeNode(project, "require('golden-ami')");
    // The check and diff module every image kind loads at preview (sdk/providers/lazy-hooks.ts).
    const requireProvider = await timeNode(project, "require('golden-ami/dynamic-providers/image-planning')");
    const requireImpl = await timeNode(project, "require('golden-ami/dynamic-providers/retention-policy-hooks')");
    say(`startup: pulumi version (the CLI alone)                          ${seconds(cli)}`);
    say(`startup: preview, no resources, TypeScript (ts-node typechecks)  ${seconds(previewEmptyTs)}`);
    say(`startup: preview, no resources, TypeScript transpile-only        ${seconds(previewEmptyTsTranspile)}`);
    say(`startup: preview, no resources, precompiled JavaScript           ${seconds(previewEmptyJs)}`);
    say(`startup: preview, one ManagedAmi, TypeScript                     ${seconds(previewOneTs)}`);
    say(`startup: preview, one ManagedAmi, precompiled JavaScript         ${seconds(previewOneJs)}`);
    say(
        `startup: node alone ${seconds(nodeAlone)}; require @pulumi/pulumi +${seconds(requirePulumi - nodeAlone)}; golden-ami +${seconds(requireSdk - nodeAlone)}; ` +
            `a check module +${seconds(requireProvider - nodeAlone)}; retention implementation (AWS SDK) +${seconds(requireImpl - nodeAlone)}`,
    );
    return { cli, previewEmptyTs, previewEmptyJs, previewOneTs, previewOneJs };
}

async function timeNode(cwd: string, expr: string): Promise<number> {
    const { execFileSync } = await import("node:child_process");
    const xs: number[] = [];
    for (let i = 0; i < (CI ? 1 : Math.max(3, STARTUP_RUNS)); i++) {
        const t = Date.now();
        execFileSync(process.execPath, ["-e", expr], {
            cwd,
            env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
        });
        xs.push(Date.now() - t);
    }
    return median(xs);
}

async function main() {
    const started = Date.now();
    say(
        `bench: node ${process.version}, ${REGIONS.length} regions x ${AMIS_PER_REGION} AMIs, ${PREVIEW_AMIS} for the preview, scale ${SCALE} ` +
            `(bucket refill x ${SCALE} in the emulator and in golden-ami's pacing, its defaults otherwise (no GOLDEN_AMI_EC2_RATE_SHARE), latency ${LATENCY_MS} / ${SCALE} = ` +
            `${(LATENCY_MS / SCALE).toFixed(2)} ms, DeleteAssociatedSnapshots honoured)`,
    );
    const want = (s: string) => !ONLY || ONLY.has(s);
    const out: string[] = [];
    const lifecycle = want("lifecycle") ? await lifecycleCalls() : undefined;
    const emu = await startEc2Emulator(REGIONS, measuredOptions());
    try {
        if (want("retention")) {
            const r = await retentionAtScale(emu);
            out.push(
                // n/a: too few calls to empty any bucket (a quick run), so there is no floor to compare with.
                `floor-ratio=${Number.isNaN(r.floorRatio) ? "n/a" : r.floorRatio.toFixed(2)}`,
                `throttled-share=${(r.throttledShare * 100).toFixed(1)}%`,
                `failed=${r.failed}`,
                `vs-custodian=${r.vsCustodian === undefined ? "skipped" : r.vsCustodian.toFixed(2)}`,
                `vs-script=${r.vsScript.toFixed(2)}`,
            );
            if (lifecycle !== undefined) out.push(`lifecycle-calls=${lifecycle}`);
            out.push(`retire-calls-per-image=${r.retireCallsPerImage.toFixed(2)}`, `fewer-calls=${r.fewerCalls ? "yes" : "no"}`);
            out.push(`leaked=${r.leaked.golden}/${r.leaked.custodian}/${r.leaked.script}`);
            out.push(
                `default-floor-ratio=${Number.isNaN(r.defaultFloorRatio) ? "n/a" : r.defaultFloorRatio.toFixed(2)}`,
                `default-vs-custodian=${r.defaultVsCustodian === undefined ? "skipped" : r.defaultVsCustodian.toFixed(2)}`,
                `default-vs-script=${r.defaultVsScript.toFixed(2)}`,
                `default-fewer-calls=${r.defaultFewerCalls ? "yes" : "no"}`,
                `competing-floor-ratio=${!r.competing ? "skipped" : Number.isNaN(r.competingFloorRatio) ? "n/a" : r.competingFloorRatio.toFixed(2)}`,
                `competing-throttled-share=${r.competing ? `${(r.competingThrottled * 100).toFixed(1)}%` : "skipped"}`,
                `competitor-throttled-share=${r.competing ? `${(r.competitorThrottled * 100).toFixed(1)}%` : "skipped"}`,
            );
        } else if (lifecycle !== undefined) out.push(`lifecycle-calls=${lifecycle}`);
        if (want("preview")) {
            const p = await previewAtScale(emu);
            out.push(
                `preview-amis=${PREVIEW_AMIS}`,
                `preview-10k-s=${p.previewS.toFixed(1)}`,
                `provider-rss-mb=${p.rssMb.toFixed(0)}`,
                `preview-bytes=${p.previewBytes}`,
                `state-bytes=${p.stateBytes}`,
                `repeat-preview-calls=${p.repeatCalls}`,
                `repeat-new-candidates=${REPEAT_NEW}`,
            );
        }
    } finally {
        await emu.stop();
    }
    if (want("startup")) {
        const s = await startup();
        out.push(`startup-empty-preview-s=${(s.previewEmptyTs / 1000).toFixed(1)}`);
    }
    say(`bench: finished in ${seconds(Date.now() - started)}`);
    say(`bench: ${out.join(" ")}`);
}

main().catch((e) => {
    console.error(`bench failed: ${e.stack ?? e}`);
    process.exit(1);
});
