import pLimit from "p-limit";
import {
    byGroupThenAge,
    describeReferences,
    exclusionReason,
    ImageReference,
    PlannedRetirement,
    RetentionImage,
    sharedWith,
    SkippedImage,
} from "../sdk/retention-plan";
import type { RetentionRunReport } from "../sdk/retention-policy";
import { ec2Client } from "./ec2/client";
import { deregisterImage, ImageInUseError, type ReadReferences } from "./ec2/delete-image";
import { describeError } from "./ec2/errors";
import { disableImage, setDeprecation } from "./ec2/image-lifecycle";
import { addLaunchPermissions, describeImagesById, imagesInUse } from "./ec2/inventory";
import type { EC2Client } from "./ec2/sdk-types";
import { DELETE_IMAGE_TIMEOUT_MINUTES, RECHECK_AFTER_SECONDS, RETENTION_CONCURRENCY, USAGE_REPORT_CONCURRENCY } from "./ec2/limits";
import { usageByOtherAccounts, usageReportProgress, type UsageReportWait } from "./ec2/usage-reports";
import { printProgress } from "./ec2/waiters";
import type { RetentionPolicyInputs } from "./retention-policy-inputs";
import { label, PlanFacts, rulesOf } from "./retention-planning";
import { Outcome, runReport } from "./retention-run-report";
import { factKey } from "./retention-sharing-records";
import { snapshotsToKeep } from "./ec2/snapshot-ownership";
import { imageMark } from "../sdk/ownership";

/**
 * Acting on a plan: each planned image's facts (the plan's while fresh, else
 * read again), its sharing read again right before, then retired as the
 * policy's action says, through the guard; every image an outcome.
 */

/**
 * Step 1, re-check (facts older than RECHECK_AFTER_SECONDS): each planned
 * image of the batch is described again right before acting. Gone, protected, now in use or changed hands means skipped; the
 * rest are ready to retire. A failed re-check fails the region's images.
 */
async function recheck(
    client: EC2Client,
    region: string,
    planned: PlannedRetirement[],
    inputs: RetentionPolicyInputs,
    now: Date,
    sharingCleared = false,
): Promise<BatchFacts> {
    let current: Map<string, RetentionImage>;
    let inUse: Map<string, ImageReference[]>;
    const readAt = Date.now();
    try {
        [current, inUse] = await Promise.all([
            describeImagesById(
                client,
                region,
                planned.map((p) => p.imageId),
            ),
            imagesInUse(
                client,
                region,
                planned.map((p) => p.imageId),
                { launchTemplateVersions: inputs.launchTemplateVersions },
            ),
        ]);
    } catch (e) {
        const error = `checking before acting: ${describeError(e)}`;
        return { ready: [], outcomes: planned.map((p) => ({ kind: "failed", imageId: p.imageId, region, error })) };
    }
    // Images a usage report cleared just now: their sharing is no longer a reason to keep them.
    const rules = sharingCleared ? { ...rulesOf(inputs), retireShared: true } : rulesOf(inputs);
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
    return { ready, outcomes, references: { refs: inUse, readAt, sharingRead: true } };
}

/** A batch ready to retire, and what the guard acts on: the references read with its facts. */
interface BatchFacts {
    ready: RetentionImage[];
    outcomes: Outcome[];
    references?: ReadReferences;
    /** The batch's launch permissions were read with its facts just now (recheck). */
    sharingJustRead?: boolean;
    /** Snapshots of the batch's images that are not theirs to delete (snapshot-ownership.ts), each with why. */
    keepSnapshots?: ReadonlyMap<string, string>;
}

/**
 * Step 2, retire one image as the policy's action says; a failure is an
 * outcome, never a stop. Deregistering goes through the guard with the
 * references the batch's facts came with (no second read while they are
 * fresh); an image it finds in use is skipped, as the plan would have.
 */
async function retireImage(
    client: EC2Client,
    image: RetentionImage,
    inputs: RetentionPolicyInputs,
    at: Date,
    references: ReadReferences | undefined,
    keepSnapshots?: ReadonlyMap<string, string>,
    sharingCleared = false,
): Promise<Outcome> {
    const { imageId, region } = image;
    const copyOnly = new Set((inputs.copyOnlyAccounts ?? []).map((a) => `account ${a}`));
    try {
        let snapshotsDeleted: string[] = [];
        const snapshotsKept: RetentionRunReport["snapshotsKept"] = [];
        if (inputs.action === "deprecate") {
            await setDeprecation(client, imageId, new Date(at.getTime() + 60_000).toISOString());
        } else if (inputs.action === "disable") {
            await disableImage(client, imageId);
        } else {
            const r = await deregisterImage(
                client,
                region,
                { imageId, snapshotIds: image.snapshotIds },
                {
                    deleteSnapshots: inputs.deleteSnapshots,
                    keepSnapshots,
                    timeoutMinutes: DELETE_IMAGE_TIMEOUT_MINUTES,
                    references,
                    // Sharing was read and ruled on by the plan (retireShared), or by a usage report just now.
                    sharesAllowed: inputs.retireShared === true || sharingCleared,
                    // Should the guard read the sharing itself: a share with an account that only copies the image is no use.
                    own: (ref) => ref.kind === "launch-permission" && copyOnly.has(ref.id),
                    // The user's explicit exclude.inUse: false.
                    inUseAllowed: inputs.exclude?.inUse === false,
                    launchTemplateVersions: inputs.launchTemplateVersions,
                },
            );
            snapshotsDeleted = r.snapshotsDeleted;
            for (const k of r.snapshotsKept)
                if (k.inUse || k.notOwned) snapshotsKept.push({ snapshotId: k.snapshotId, region, imageId, reason: k.reason });
        }
        return { kind: "retired", imageId, region, snapshotsDeleted, snapshotsKept };
    } catch (e) {
        if (e instanceof ImageInUseError) return { kind: "skipped", imageId, region, reason: `in use: ${describeReferences(e.users)}` };
        return { kind: "failed", imageId, region, error: describeError(e) };
    }
}

/** Images read again at once when their facts are stale (DescribeImages by id takes 100 per call here). */
const RECHECK_BATCH = 100;

/**
 * Step 1a, when snapshots are deleted: which of the batch's images' snapshots are not theirs,
 * read once for the batch (snapshot-ownership.ts). A failed read fails the
 * images golden-ami marked (retried next run: never delete on a guess);
 * the user's own images need no read.
 */
async function withSnapshotOwnership(client: EC2Client, facts: BatchFacts, inputs: RetentionPolicyInputs): Promise<BatchFacts> {
    if (inputs.action !== "deregister" || !inputs.deleteSnapshots) return facts;
    try {
        return { ...facts, keepSnapshots: await snapshotsToKeep(client, facts.ready) };
    } catch (e) {
        const error = `reading which snapshots are its own before retiring: ${describeError(e)}`;
        const failed = facts.ready.filter((i) => imageMark(i.tags) !== undefined && i.snapshotIds.length > 0);
        return {
            ...facts,
            ready: facts.ready.filter((i) => !failed.includes(i)),
            outcomes: [...facts.outcomes, ...failed.map((i): Outcome => ({ kind: "failed", imageId: i.imageId, region: i.region, error }))],
        };
    }
}

/** Step 1 for one batch: the images to retire, from the plan's facts while they are fresh, else from a re-check. */
async function factsForBatch(
    client: EC2Client,
    region: string,
    batch: PlannedRetirement[],
    inputs: RetentionPolicyInputs,
    now: Date,
    known: PlanFacts | undefined,
    sharingCleared = false,
): Promise<BatchFacts> {
    if (sharingCleared) return { ...(await recheck(client, region, batch, inputs, now, true)), sharingJustRead: true };
    const fresh = known !== undefined && Date.now() - known.readAt <= RECHECK_AFTER_SECONDS * 1000;
    const facts = fresh ? batch.map((p) => known.facts.get(factKey(region, p.imageId))) : [];
    // Read by this plan's own inventory moments ago, which excluded what the plan showed (protection included).
    if (fresh && facts.every((f) => f !== undefined)) {
        const refs = known.references?.get(region);
        return { ready: facts as RetentionImage[], outcomes: [], references: refs && { refs, readAt: known.readAt, sharingRead: true } };
    }
    // recheck reads each image's launch permissions with it.
    return { ...(await recheck(client, region, batch, inputs, now)), sharingJustRead: true };
}

/**
 * Step 1b, with `retireShared` false: the image's launch permissions read
 * again right before it is retired (DescribeImageAttribute, whose bucket is
 * not DeregisterImage's, so the reads overlap the deregistrations), so an
 * image shared since the plan was made is kept (a share with one of
 * `copyOnlyAccounts` excepted). Undefined: retire it.
 */
async function sharedSincePlan(
    client: EC2Client,
    image: RetentionImage,
    copyOnlyAccounts: readonly string[] = [],
): Promise<Outcome | undefined> {
    const now = { ...image, launchPermissions: undefined };
    try {
        await addLaunchPermissions(client, [now]);
    } catch (e) {
        return {
            kind: "failed",
            imageId: image.imageId,
            region: image.region,
            error: `reading its sharing before retiring: ${describeError(e)}`,
        };
    }
    const shares = sharedWith(now, copyOnlyAccounts);
    if (shares.length === 0) return undefined;
    return {
        kind: "skipped",
        imageId: image.imageId,
        region: image.region,
        reason: `shared with ${shares.join(", ")} (read right before retiring)`,
    };
}

/**
 * Step 0, with `retireShared: "when-unused"`: the shared candidates the plan
 * held back, each asked of EC2's image usage report (at most
 * USAGE_REPORT_CONCURRENCY at once, bounded in time, progress in the log).
 * Cleared: no instance or launch template in another account; retired like
 * the planned images, facts read again. Anything else keeps the image, with why.
 */
async function clearedByUsageReports(
    client: EC2Client,
    region: string,
    awaiting: readonly SkippedImage[],
    inputs: RetentionPolicyInputs,
    wait: UsageReportWait,
): Promise<{ cleared: PlannedRetirement[]; outcomes: Outcome[] }> {
    const kept = (s: SkippedImage, reason: string): Outcome => ({ kind: "skipped", imageId: s.imageId, region, reason });
    let current: Map<string, RetentionImage>;
    try {
        current = await describeImagesById(
            client,
            region,
            awaiting.map((s) => s.imageId),
        );
    } catch (e) {
        return { cleared: [], outcomes: awaiting.map((s) => kept(s, `shared, usage unknown: reading it: ${describeError(e)}; kept`)) };
    }
    console.log(`${label(inputs)}: ${region}: asking EC2 for ${awaiting.length} image usage report(s) of shared candidates`);
    const progress = usageReportProgress(`${label(inputs)}: ${region}`, awaiting.length, printProgress);
    const limit = pLimit(USAGE_REPORT_CONCURRENCY);
    const cleared: PlannedRetirement[] = [];
    const outcomes: Outcome[] = [];
    await Promise.all(
        awaiting.map((s) =>
            limit(async () => {
                const image = current.get(s.imageId);
                if (!image) return outcomes.push(kept(s, "already gone"));
                const finding = await usageByOtherAccounts(client, s.imageId, image.ownerId, { ...wait, onPoll: progress.tick });
                progress.done();
                if (finding.kind === "used")
                    return outcomes.push(
                        kept(s, `shared and in use in another account: usage report ${finding.reportId} shows ${finding.users.join("; ")}`),
                    );
                if (finding.kind === "unknown") return outcomes.push(kept(s, `shared, usage unknown: ${finding.why}; kept (fail closed)`));
                cleared.push({
                    imageId: image.imageId,
                    region,
                    name: image.name,
                    creationDate: image.creationDate,
                    group: s.group ?? region,
                    reason: `shared; usage report ${finding.reportId} shows no instance or launch template using it in another account`,
                });
            }),
        ),
    );
    return { cleared: cleared.sort(byGroupThenAge), outcomes };
}

/**
 * Acts on a plan region by region (regions in parallel, bounded concurrency
 * within one), a batch at a time: facts (the plan's while fresh, else read
 * again; the next batch is read while this one is retired), retire, report.
 * One image failing never stops the others. With `retireShared:
 * "when-unused"`, the shared candidates the plan held back are asked of
 * their usage reports first (clearedByUsageReports).
 */
export async function applyPlan(
    planned: readonly PlannedRetirement[],
    inputs: RetentionPolicyInputs,
    now: Date,
    planChanged = false,
    known?: PlanFacts,
    /** Images the plan held back (in use, shared, excluded, a state it leaves alone): counted and listed as skipped. */
    heldBack: readonly SkippedImage[] = [],
    /** How long and how often to wait for usage reports (tests). */
    usageReportWait: UsageReportWait = {},
): Promise<RetentionRunReport> {
    const awaiting = inputs.retireShared === "when-unused" ? heldBack.filter((s) => s.awaitsUsageReport) : [];
    const held: Outcome[] = heldBack
        .filter((s) => !awaiting.includes(s))
        .map((s) => ({ kind: "skipped", imageId: s.imageId, region: s.region, reason: s.reason }));
    if (inputs.dryRun || planned.length + awaiting.length === 0) {
        const all = [
            ...held,
            ...awaiting.map((s): Outcome => ({ kind: "skipped", imageId: s.imageId, region: s.region, reason: s.reason })),
        ];
        return runReport(inputs, now, inputs.dryRun ? [] : all, planChanged);
    }
    const regions = [...new Set([...planned, ...awaiting].map((p) => p.region))];
    const perRegion = await Promise.all(
        regions.map(async (region) => {
            const client = ec2Client(region);
            const limit = pLimit(RETENTION_CONCURRENCY);
            const outcomes: Outcome[] = [];
            const retireAll = async (list: PlannedRetirement[], sharingCleared: boolean) => {
                const batches: PlannedRetirement[][] = [];
                for (let i = 0; i < list.length; i += RECHECK_BATCH) batches.push(list.slice(i, i + RECHECK_BATCH));
                if (batches.length === 0) return;
                const read = (batch: PlannedRetirement[]) =>
                    factsForBatch(client, region, batch, inputs, now, known, sharingCleared).then((f) =>
                        withSnapshotOwnership(client, f, inputs),
                    );
                let next = read(batches[0]);
                for (let b = 0; b < batches.length; b++) {
                    const checked = await next;
                    if (b + 1 < batches.length) next = read(batches[b + 1]);
                    const reread = inputs.retireShared !== true && !sharingCleared && !checked.sharingJustRead;
                    const retired = await Promise.all(
                        checked.ready.map((image) =>
                            limit(
                                async () =>
                                    (reread && (await sharedSincePlan(client, image, inputs.copyOnlyAccounts))) ||
                                    retireImage(client, image, inputs, now, checked.references, checked.keepSnapshots, sharingCleared),
                            ),
                        ),
                    );
                    outcomes.push(...checked.outcomes, ...retired);
                }
            };
            const mine = awaiting.filter((s) => s.region === region);
            // The reports are created first, so that EC2 works on them while the planned images are retired.
            const reports = mine.length > 0 ? clearedByUsageReports(client, region, mine, inputs, usageReportWait) : undefined;
            await retireAll(
                planned.filter((p) => p.region === region),
                false,
            );
            if (reports) {
                const { cleared, outcomes: keptByReport } = await reports;
                outcomes.push(...keptByReport);
                await retireAll(cleared, true);
            }
            return outcomes;
        }),
    );
    return runReport(inputs, now, [...held, ...perRegion.flat()], planChanged);
}
