// The soak: cycles of the whole pipeline under the real `pulumi` CLI, through
// the fault proxy with every EC2 behaviour it emulates switched on: injected
// faults (throttling, 5xx, connection resets, answers lost after the call),
// pending images, snapshots in use after deregistration, unique names,
// eventual consistency (new ids not found, stale reads after changes),
// CopyImage ClientToken mismatches, the protection cooldown, CreateImage's
// block-device rules, DeleteAssociatedSnapshots, EC2's token buckets at their
// documented rates, and request validation.
// Each cycle: seed, up, update, retention, refresh (no drift), destroy, sweep.
// A command that fails under faults is run again, as a user would: a re-run
// must recover. A refresh may read a stale view (eventual consistency); it
// must converge on the next refresh, never flap. The last line is the figures:
//   soak: cycles=N faults=F leakedAmis=0 leakedSnapshots=0 duplicates=0 lostImages=0 drift=0
import { CreateImageCommand, DeregisterImageCommand, EC2Client, TerminateInstancesCommand } from "@aws-sdk/client-ec2";
import { motoEnv } from "../../scripts/lib/moto";
import { createSourceInstance, deleteSnapshotWhenFreed, inventory, leftBehind } from "../../scripts/lib/ec2-fixtures";
import { newStack, Stack } from "../support/consumer";
import { startEc2Proxy } from "../../emulator/ec2-proxy";

export interface SoakOptions {
    motoEndpoint: string;
    cycles: number;
    faultRate: number;
    seed: number;
    log?: (line: string) => void;
}

export interface SoakResult {
    cycles: number;
    faults: number;
    requests: number;
    leakedAmis: number;
    leakedSnapshots: number;
    duplicates: number;
    /** Images in the stack's outputs that EC2 does not have after `up`. */
    lostImages: number;
    drift: number;
    reruns: number;
    /** Refreshes that read a stale view and converged on the next refresh. */
    staleRefreshes: number;
    /** Requests the emulated token buckets refused. */
    throttled: number;
}

const SOURCE = "us-east-1";
const REPLICAS = ["us-west-2", "eu-west-1"];
const REGIONS = [SOURCE, ...REPLICAS];
/** Reads of a changed image that may answer its old values (eventual consistency). */
const STALE_READS = 2;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function soakLine(r: SoakResult): string {
    return `soak: cycles=${r.cycles} faults=${r.faults} leakedAmis=${r.leakedAmis} leakedSnapshots=${r.leakedSnapshots} duplicates=${r.duplicates} lostImages=${r.lostImages} drift=${r.drift}`;
}

export async function runSoak(o: SoakOptions): Promise<SoakResult> {
    const log = o.log ?? (() => {});
    const proxy = await startEc2Proxy({
        target: o.motoEndpoint,
        seed: o.seed,
        faultRate: o.faultRate,
        faults: ["throttle", "500", "503", "reset", "lost-response"],
        pendingPolls: 2,
        snapshotInUseCalls: 1,
        duplicateNames: true,
        validation: true,
        eventualConsistency: { notFoundReads: 3, staleReads: STALE_READS },
        idempotentParameterMismatch: true,
        protectionCooldown: true,
        createImageBlockDeviceRules: true,
        deleteAssociatedSnapshots: true,
        // EC2's documented rates, unscaled: golden-ami paces itself to them
        // (request-pacing.ts; the injected throttles cut its rate for a while),
        // so the buckets cost the soak little time.
        tokenBuckets: { refillScale: 1 },
    });
    const direct = Object.fromEntries(REGIONS.map((r) => [r, new EC2Client({ region: r, endpoint: o.motoEndpoint })]));
    const result: SoakResult = {
        cycles: 0,
        faults: 0,
        requests: 0,
        leakedAmis: 0,
        leakedSnapshots: 0,
        duplicates: 0,
        lostImages: 0,
        drift: 0,
        reruns: 0,
        staleRefreshes: 0,
        throttled: 0,
    };

    /** Every image id in the stack's outputs must exist in its region (directly at moto). */
    async function countLost(stack: Stack): Promise<number> {
        const out = await stack.outputs();
        const wanted: [string, string][] = [[SOURCE, String(out.imageId)], ...Object.entries((out.copies ?? {}) as Record<string, string>)];
        let lost = 0;
        for (const [r, id] of wanted) {
            if (!(await inventory(r)).images.some((i) => i.id === id)) {
                lost++;
                log(`  lost in ${r}: ${id} is in the stack's outputs but not in EC2`);
            }
        }
        const missing = REPLICAS.filter((r) => !wanted.some(([region]) => region === r)).length;
        return lost + missing;
    }

    /** Steps a preview would take after a refresh: none once EC2 and state agree. */
    async function driftAfterRefresh(stack: Stack): Promise<number> {
        await retrying(stack, ["refresh", "--yes", "--skip-preview"]);
        const preview = await retrying(stack, ["preview", "--json"]);
        const steps: { op: string; urn: string }[] = JSON.parse(preview.stdout).steps ?? [];
        const changed = steps.filter((s) => !["same", "read"].includes(s.op));
        if (changed.length) log(`  preview after refresh: ${changed.map((s) => `${s.op} ${s.urn.split("::").pop()}`).join(", ")}`);
        return changed.length;
    }

    /** A command that failed under faults is run again (up to 4 times), as a user would. */
    async function retrying(stack: Stack, args: string[]) {
        for (let attempt = 1; ; attempt++) {
            const r = await stack.run(args, { check: false });
            if (r.code === 0) return r;
            if (attempt >= 4) throw new Error(`pulumi ${args.join(" ")} kept failing:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-2000)}`);
            result.reruns++;
            log(`  re-running pulumi ${args[0]} after a failure under faults (${attempt})`);
        }
    }

    try {
        for (let cycle = 1; cycle <= o.cycles; cycle++) {
            log(`cycle ${cycle}/${o.cycles}`);
            // Seeded directly at moto, not through the faults.
            // Every other cycle the instance has two data volumes: its images have three snapshots each.
            const { instanceId } = await createSourceInstance(SOURCE, { dataVolumes: cycle % 2 === 1 ? [20, 5] : [] });
            const old: string[] = [];
            for (let n = 1; n <= 2; n++) {
                old.push(
                    (await direct[SOURCE].send(new CreateImageCommand({ InstanceId: instanceId, Name: `soak-old-${cycle}-${n}` })))
                        .ImageId!,
                );
                await sleep(1100);
            }
            const baseline = Object.fromEntries(await Promise.all(REGIONS.map(async (r) => [r, await inventory(r)] as const)));

            const stack = await newStack("soak-pipeline", `soak-${o.seed}-${cycle}`, {
                ...motoEnv(proxy.endpoint, SOURCE),
                GOLDEN_AMI_POLL_SCALE: "0.02",
            });
            await stack.config({ "aws:region": SOURCE, sourceInstanceId: instanceId, retire: `soak-old-${cycle}-*`, version: "1" });
            for (const [i, r] of REPLICAS.entries()) await stack.run(["config", "set", "--path", `regions[${i}]`, r]);

            await retrying(stack, ["up", "--yes", "--skip-preview"]);
            result.lostImages += await countLost(stack);
            // No duplicates: one image per name in every region.
            for (const r of REGIONS) {
                const names = (await inventory(r)).images.map((i) => i.name);
                result.duplicates += names.length - new Set(names).size;
            }
            await stack.config({ version: "2" });
            await retrying(stack, ["up", "--yes", "--skip-preview"]);
            result.lostImages += await countLost(stack);

            // Retention ran in the ups: the older seeded image is gone, the newer kept.
            const left = (await inventory(SOURCE)).images.map((i) => i.id);
            if (left.includes(old[0]) || !left.includes(old[1]))
                throw new Error(`cycle ${cycle}: retention did not retire exactly ${old[0]}`);

            // A refresh right after changes may read stale values: the emulator
            // answers each changed image's old values for up to STALE_READS reads,
            // one per refresh. Refreshing must converge within that, never flap.
            let drift = await driftAfterRefresh(stack);
            for (let again = 1; drift > 0 && again <= STALE_READS; again++) {
                result.staleRefreshes++;
                log(`  refresh read a stale view (${drift} steps); refreshing again`);
                drift = await driftAfterRefresh(stack);
            }
            result.drift += drift;

            await retrying(stack, ["destroy", "--yes", "--skip-preview"]);

            // The sweep: nothing the stack made is left in any region.
            for (const r of REGIONS) {
                const lb = leftBehind(baseline[r], await inventory(r));
                result.leakedAmis += lb.images.length;
                result.leakedSnapshots += lb.snapshots.length;
                if (lb.images.length || lb.snapshots.length) log(`  leaked in ${r}: ${JSON.stringify(lb)}`);
            }
            // Clean the seed for the next cycle.
            const survivor = (await inventory(SOURCE)).images.find((i) => i.id === old[1]);
            if (survivor) await direct[SOURCE].send(new DeregisterImageCommand({ ImageId: old[1], DeleteAssociatedSnapshots: true }));
            for (const s of (await inventory(SOURCE)).snapshots.filter((s) => (s.description ?? "").includes(old[1]))) {
                await deleteSnapshotWhenFreed(direct[SOURCE], s.id);
            }
            await direct[SOURCE].send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
            result.cycles++;
        }
    } finally {
        const stats = proxy.stats();
        result.faults = stats.faultsInjected;
        result.requests = stats.requests;
        result.throttled = stats.throttled;
        await proxy.stop();
        for (const c of Object.values(direct)) c.destroy();
    }
    return result;
}
