import type * as dynamic from "@pulumi/pulumi/dynamic";
import pLimit from "p-limit";
import { isDeepStrictEqual } from "node:util";
import {
    exclusionReason,
    PlannedRetirement,
    RetentionImage,
    planRetention,
    RetentionAction,
    RetentionExclusions,
    RetentionRules,
    RetentionSelector,
    SkippedImage,
} from "../sdk/retention-plan";
import type { RetentionRunReport } from "../sdk/retention-policy";
import { checkRetentionPolicyInputs, UNKNOWN } from "../sdk/validation";
import { ec2Client } from "./ec2/client";
import { deleteImageWithSnapshots } from "./ec2/delete-image";
import { errorCode, OperationError } from "./ec2/errors";
import { disableImage, setDeprecation } from "./ec2/image-lifecycle";
import { describeImagesById, imagesInUse, listSelectedImages } from "./ec2/inventory";
import type { EC2Client } from "./ec2/types";
import { compact } from "./state-values";
import { DELETE_IMAGE_TIMEOUT_MINUTES, RETENTION_CONCURRENCY } from "./ec2/limits";
import { exitWhenOutputIsGone } from "./orphan-guard";

exitWhenOutputIsGone();

/** AmiRetentionPolicy's inputs once `check` has filled in defaults and the plan. */
export interface RetentionPolicyInputs {
    regions: string[];
    selector: RetentionSelector;
    groupBy?: string[];
    keepLatest: number;
    maxAgeDays?: number;
    action: RetentionAction;
    deleteSnapshots: boolean;
    exclude: RetentionExclusions;
    dryRun: boolean;
    /** What the next run retires: computed by `check`, so preview shows it as a change. */
    pending: PlannedRetirement[];
}

export interface RetentionPolicyState extends RetentionPolicyInputs {
    lastRun?: RetentionRunReport;
}

/** The policy's settings: a change to any of them is an update (a policy has nothing to replace). */
const SETTINGS = ["regions", "selector", "groupBy", "keepLatest", "maxAgeDays", "action", "deleteSnapshots", "exclude", "dryRun"] as const;

function rulesOf(inputs: RetentionPolicyInputs): RetentionRules {
    return {
        selector: inputs.selector,
        groupBy: inputs.groupBy,
        keepLatest: inputs.keepLatest,
        maxAgeDays: inputs.maxAgeDays,
        action: inputs.action,
        // Ids not known yet during preview belong to images that do not exist yet.
        exclude: { ...inputs.exclude, imageIds: (inputs.exclude.imageIds ?? []).filter((id) => id !== UNKNOWN) },
    };
}

/** Inventory every region (in parallel), then plan. */
export async function computePlan(
    inputs: RetentionPolicyInputs,
    now: Date,
): Promise<{ retire: PlannedRetirement[]; skipped: SkippedImage[] }> {
    const perRegion = await Promise.all(
        inputs.regions.map(async (region) => {
            const client = ec2Client(region);
            const [images, inUse] = await Promise.all([listSelectedImages(client, region, inputs.selector), imagesInUse(client, region)]);
            return planRetention(images, inUse, rulesOf(inputs), now);
        }),
    );
    return { retire: perRegion.flatMap((p) => p.retire), skipped: perRegion.flatMap((p) => p.skipped) };
}

export async function check(_olds: Partial<RetentionPolicyInputs>, news: Partial<RetentionPolicyInputs>): Promise<dynamic.CheckResult> {
    const failures = checkRetentionPolicyInputs(news);
    const inputs: RetentionPolicyInputs = {
        ...(news as RetentionPolicyInputs),
        selector: { owners: ["self"], ...news.selector },
        action: news.action ?? "deregister",
        deleteSnapshots: news.deleteSnapshots ?? (news.action ?? "deregister") === "deregister",
        exclude: { inUse: true, ...news.exclude },
        dryRun: news.dryRun ?? false,
        pending: [],
    };
    if (failures.length > 0) return { inputs: compact(inputs), failures };
    try {
        inputs.pending = (await computePlan(inputs, new Date())).retire;
    } catch (e) {
        const err = new OperationError("regions: planning retention", "listing images", e);
        return { inputs, failures: [{ property: "regions", reason: err.message }] };
    }
    return { inputs: compact(inputs) };
}

/** Pending retirements compare by which images, not by their reasons (an age in days changes daily). */
function pendingKey(pending: PlannedRetirement[] | undefined): string[] {
    return (pending ?? []).map((p) => `${p.region}/${p.imageId}`).sort();
}

export async function diff(_id: string, olds: RetentionPolicyState, news: RetentionPolicyInputs): Promise<dynamic.DiffResult> {
    const changed = SETTINGS.filter((k) => !isDeepStrictEqual(olds[k], news[k]));
    const pendingChanged = !isDeepStrictEqual(pendingKey(olds.pending), pendingKey(news.pending));
    return { changes: changed.length > 0 || pendingChanged, replaces: [] };
}

function describeError(e: unknown): string {
    const code = errorCode(e);
    const msg = e instanceof Error ? e.message : String(e);
    return `${code && !msg.includes(code) ? `${code}: ` : ""}${msg}`;
}

/** What happened to one planned image. */
type Outcome =
    | { kind: "retired"; imageId: string; region: string; snapshotsDeleted: string[]; snapshotsKept: RetentionRunReport["snapshotsKept"] }
    | { kind: "skipped"; imageId: string; region: string; reason: string }
    | { kind: "failed"; imageId: string; region: string; error: string };

/**
 * Step 1, re-check: each planned image is described again right before
 * acting. Gone, protected, now in use or changed hands means skipped; the
 * rest are ready to retire. A failed re-check fails the region's images.
 */
async function recheck(
    client: EC2Client,
    region: string,
    planned: PlannedRetirement[],
    inputs: RetentionPolicyInputs,
    now: Date,
): Promise<{ ready: RetentionImage[]; outcomes: Outcome[] }> {
    let current: Map<string, RetentionImage>;
    let inUse: Map<string, string>;
    try {
        [current, inUse] = await Promise.all([
            describeImagesById(
                client,
                region,
                planned.map((p) => p.imageId),
            ),
            imagesInUse(client, region),
        ]);
    } catch (e) {
        const error = `checking before acting: ${describeError(e)}`;
        return { ready: [], outcomes: planned.map((p) => ({ kind: "failed", imageId: p.imageId, region, error })) };
    }
    const rules = rulesOf(inputs);
    const ready: RetentionImage[] = [];
    const outcomes: Outcome[] = [];
    for (const p of planned) {
        const image = current.get(p.imageId);
        const skip = (reason: string) => outcomes.push({ kind: "skipped", imageId: p.imageId, region, reason });
        if (!image) skip("already gone");
        else {
            const excluded = exclusionReason(image, inUse, rules, now);
            if (excluded) skip(excluded);
            else if (inputs.action === "deregister" && image.deregistrationProtected) skip("deregistration protection is on");
            else ready.push(image);
        }
    }
    return { ready, outcomes };
}

/** Step 2, retire one image as the policy's action says; a failure is an outcome, never a stop. */
async function retireImage(client: EC2Client, image: RetentionImage, inputs: RetentionPolicyInputs, at: Date): Promise<Outcome> {
    const { imageId, region } = image;
    try {
        let snapshotsDeleted: string[] = [];
        const snapshotsKept: RetentionRunReport["snapshotsKept"] = [];
        if (inputs.action === "deprecate") {
            await setDeprecation(client, imageId, new Date(at.getTime() + 60_000).toISOString());
        } else if (inputs.action === "disable") {
            await disableImage(client, imageId);
        } else {
            const r = await deleteImageWithSnapshots(
                client,
                { imageId, snapshotIds: image.snapshotIds },
                { deleteSnapshots: inputs.deleteSnapshots, timeoutMinutes: DELETE_IMAGE_TIMEOUT_MINUTES },
            );
            snapshotsDeleted = r.snapshotsDeleted;
            for (const k of r.snapshotsKept)
                if (k.inUse) snapshotsKept.push({ snapshotId: k.snapshotId, region, imageId, reason: k.reason });
        }
        return { kind: "retired", imageId, region, snapshotsDeleted, snapshotsKept };
    } catch (e) {
        return { kind: "failed", imageId, region, error: describeError(e) };
    }
}

/** Step 3, the run's report from every outcome. */
function runReport(inputs: RetentionPolicyInputs, now: Date, outcomes: Outcome[]): RetentionRunReport {
    const run: RetentionRunReport = {
        at: now.toISOString(),
        dryRun: inputs.dryRun,
        retired: [],
        snapshotsDeleted: [],
        snapshotsKept: [],
        skipped: [],
        failed: [],
    };
    for (const o of outcomes) {
        if (o.kind === "retired") {
            run.retired.push({ imageId: o.imageId, region: o.region });
            run.snapshotsDeleted.push(...o.snapshotsDeleted);
            run.snapshotsKept.push(...o.snapshotsKept);
        } else if (o.kind === "skipped") run.skipped.push({ imageId: o.imageId, region: o.region, reason: o.reason });
        else run.failed.push({ imageId: o.imageId, region: o.region, error: o.error });
    }
    // Each snapshot once; one kept by an earlier retirement may be deleted by a later one.
    run.snapshotsDeleted = [...new Set(run.snapshotsDeleted)];
    const deleted = new Set(run.snapshotsDeleted);
    run.snapshotsKept = run.snapshotsKept.filter(
        (k, i, all) => !deleted.has(k.snapshotId) && all.findIndex((o) => o.snapshotId === k.snapshotId) === i,
    );
    return run;
}

/**
 * Acts on the plan region by region (regions in parallel, bounded concurrency
 * within one): re-check, retire, report. One image failing never stops the
 * others.
 */
export async function applyPlan(inputs: RetentionPolicyInputs, now: Date): Promise<RetentionRunReport> {
    if (inputs.dryRun || inputs.pending.length === 0) return runReport(inputs, now, []);
    const regions = [...new Set(inputs.pending.map((p) => p.region))];
    const perRegion = await Promise.all(
        regions.map(async (region) => {
            const client = ec2Client(region);
            const checked = await recheck(
                client,
                region,
                inputs.pending.filter((p) => p.region === region),
                inputs,
                now,
            );
            const limit = pLimit(RETENTION_CONCURRENCY);
            const retired = await Promise.all(checked.ready.map((image) => limit(() => retireImage(client, image, inputs, now))));
            return [...checked.outcomes, ...retired];
        }),
    );
    return runReport(inputs, now, perRegion.flat());
}

function report(run: RetentionRunReport): void {
    if (run.dryRun) return console.log("retention: dry run, nothing retired (see pending)");
    console.log(
        `retention: ${run.retired.length} retired, ${run.snapshotsDeleted.length} snapshots deleted, ${run.skipped.length} skipped, ${run.failed.length} failed`,
    );
    for (const s of run.skipped) console.log(`retention: skipped ${s.imageId} (${s.region}): ${s.reason}`);
    for (const k of run.snapshotsKept) console.log(`retention: kept snapshot ${k.snapshotId} of ${k.imageId} (${k.region}): ${k.reason}`);
    // stderr: Pulumi shows it more prominently than stdout.
    for (const f of run.failed) console.error(`warning: retention: ${f.imageId} (${f.region}) failed, retried next run: ${f.error}`);
}

async function act(inputs: RetentionPolicyInputs): Promise<RetentionPolicyState> {
    const run = await applyPlan(inputs, new Date());
    report(run);
    // After a real run nothing is pending: the next check's plan shows what is left, failures included, as a change.
    return compact({ ...inputs, pending: inputs.dryRun ? inputs.pending : [], lastRun: run });
}

export async function create(inputs: RetentionPolicyInputs): Promise<dynamic.CreateResult> {
    const outs = await act(inputs);
    return { id: `retention-${inputs.regions.join("-")}-${Date.now().toString(36)}`, outs };
}

export async function update(_id: string, _olds: RetentionPolicyState, news: RetentionPolicyInputs): Promise<dynamic.UpdateResult> {
    return { outs: await act(news) };
}

export async function read(id: string, props: RetentionPolicyState): Promise<dynamic.ReadResult> {
    return { id, props: compact(props) };
}

/** Destroying a policy retires and deletes nothing. */
async function remove(): Promise<void> {}
export { remove as delete };
