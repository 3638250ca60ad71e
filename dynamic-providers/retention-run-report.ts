import type { RetentionRunCounts, RetentionRunReport } from "../sdk/retention-policy";
import { RETENTION_REPORT_LIMITS } from "../sdk/rules/retention-policy-rules";
import type { RetentionPolicyInputs } from "./retention-policy-inputs";

/** A retention run's report (`lastRun`) from its outcomes, and the lines `up` prints of it. */

/** What happened to one planned image. */
export type Outcome =
    | { kind: "retired"; imageId: string; region: string; snapshotsDeleted: string[]; snapshotsKept: RetentionRunReport["snapshotsKept"] }
    | { kind: "skipped"; imageId: string; region: string; reason: string }
    | { kind: "failed"; imageId: string; region: string; error: string };

/** Counts and bounded samples, per region and in total. */
class RunTally {
    readonly counts: RetentionRunCounts = { retired: 0, snapshotsDeleted: 0, snapshotsKept: 0, skipped: 0, failed: 0 };
    readonly regions = new Map<string, RetentionRunCounts>();
    region(region: string): RetentionRunCounts {
        let r = this.regions.get(region);
        if (!r) this.regions.set(region, (r = { retired: 0, snapshotsDeleted: 0, snapshotsKept: 0, skipped: 0, failed: 0 }));
        return r;
    }
    add(region: string, key: keyof RetentionRunCounts, n = 1): void {
        this.counts[key] += n;
        this.region(region)[key] += n;
    }
}

/** Step 3, the run's report from every outcome: every outcome counted, each list a bounded sample. */
export function runReport(inputs: RetentionPolicyInputs, now: Date, outcomes: Outcome[], planChanged = false): RetentionRunReport {
    const { sample, failed: failedKept, errorChars } = RETENTION_REPORT_LIMITS;
    const tally = new RunTally();
    for (const r of inputs.regions ?? []) tally.region(r);
    const retired: RetentionRunReport["retired"] = [];
    const skipped: RetentionRunReport["skipped"] = [];
    const failed: RetentionRunReport["failed"] = [];
    // Each snapshot once; one kept by an earlier retirement may be deleted by a later one.
    const deleted = new Map<string, string>();
    const kept = new Map<string, RetentionRunReport["snapshotsKept"][number]>();
    for (const o of outcomes) {
        if (o.kind === "retired") {
            tally.add(o.region, "retired");
            if (retired.length < sample) retired.push({ imageId: o.imageId, region: o.region });
            for (const snap of o.snapshotsDeleted) deleted.set(snap, o.region);
            for (const k of o.snapshotsKept) if (!kept.has(k.snapshotId)) kept.set(k.snapshotId, k);
        } else if (o.kind === "skipped") {
            tally.add(o.region, "skipped");
            if (skipped.length < sample) skipped.push({ imageId: o.imageId, region: o.region, reason: o.reason });
        } else {
            tally.add(o.region, "failed");
            const error = o.error.length > errorChars ? `${o.error.slice(0, errorChars)}…` : o.error;
            if (failed.length < failedKept) failed.push({ imageId: o.imageId, region: o.region, error });
        }
    }
    for (const [, region] of deleted) tally.add(region, "snapshotsDeleted");
    const stillKept = [...kept.values()].filter((k) => !deleted.has(k.snapshotId));
    for (const k of stillKept) tally.add(k.region, "snapshotsKept");
    return {
        at: now.toISOString(),
        dryRun: inputs.dryRun,
        counts: tally.counts,
        regions: [...tally.regions].map(([region, c]) => ({ region, ...c })),
        ...(planChanged ? { planChanged } : {}),
        retired,
        snapshotsDeleted: [...deleted.keys()].slice(0, sample),
        snapshotsKept: stillKept.slice(0, sample),
        skipped,
        failed,
    };
}

/** Prints the run: counts, then every skip, kept snapshot and failure as it happened (the report keeps a sample). */
export function printRun(name: string, run: RetentionRunReport): void {
    if (run.dryRun) return console.log(`${name}: dry run, nothing retired (see pending)`);
    const c = run.counts;
    console.log(`${name}: ${c.retired} retired, ${c.snapshotsDeleted} snapshots deleted, ${c.skipped} skipped, ${c.failed} failed`);
    if (run.planChanged)
        console.log(
            `${name}: acted on the plan computed at apply (it differs from the one check showed); each image was checked again right before acting`,
        );
    for (const s of run.skipped) console.log(`${name}: skipped ${s.imageId} (${s.region}): ${s.reason}`);
    if (c.skipped > run.skipped.length) console.log(`${name}: and ${c.skipped - run.skipped.length} more skipped`);
    for (const k of run.snapshotsKept) console.log(`${name}: kept snapshot ${k.snapshotId} of ${k.imageId} (${k.region}): ${k.reason}`);
    // stderr: Pulumi shows it more prominently than stdout.
    for (const f of run.failed) console.error(`warning: ${name}: ${f.imageId} (${f.region}) failed, retried next run: ${f.error}`);
    if (c.failed > run.failed.length) console.error(`warning: ${name}: and ${c.failed - run.failed.length} more failed, retried next run`);
}
