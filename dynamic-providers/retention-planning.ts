import { promises as fs } from "node:fs";
import * as path from "node:path";
import {
    byGroupThenAge,
    ImageReference,
    PlannedRetirement,
    RetentionImage,
    planRetention,
    RetentionRules,
    SkippedImage,
} from "../sdk/retention-plan";
import type { RetentionPendingSummary } from "../sdk/retention-policy";
import { roleAccount } from "../sdk/rules/assume-role";
import { containsUnknown } from "../sdk/rules/primitives";
import { ec2Client } from "./ec2/client";
import { OperationError } from "./ec2/errors";
import { retentionInventory } from "./ec2/inventory";
import { PLAN_INPUTS, RetentionPolicyInputs } from "./retention-policy-inputs";
import { factKey, knownSharing, SharingFact, SharingRecord } from "./retention-sharing-records";
import { PLAN_DIR_ENV, summarizePlan } from "./retention-summary";

/**
 * Planning glue: every region's inventory into one plan (the decision itself
 * is sdk/retention-plan.ts, pure), the plans `check` made kept for `up`, and
 * the full plan written to a file on demand.
 */

/** Which plan inputs are not known yet, by property path (e.g. `exclude.imageIds`). */
export function unknownInputs(inputs: Partial<Record<string, unknown>>): string[] {
    const out: string[] = [];
    for (const key of PLAN_INPUTS) {
        const v = inputs[key];
        if (!containsUnknown(v)) continue;
        if (v && typeof v === "object" && !Array.isArray(v)) {
            for (const [sub, x] of Object.entries(v)) if (containsUnknown(x)) out.push(`${key}.${sub}`);
        } else out.push(key);
    }
    return out;
}

export function rulesOf(inputs: RetentionPolicyInputs): RetentionRules {
    const unknown = unknownInputs(inputs as never);
    // Planning with a value not known yet would drop it (an exclusion, say): refuse instead.
    if (unknown.length > 0) throw new Error(`retention: cannot plan while ${unknown.join(", ")} are not known yet`);
    return {
        selector: inputs.selector,
        groupBy: inputs.groupBy,
        keepLatest: inputs.keepLatest,
        maxAgeDays: inputs.maxAgeDays,
        action: inputs.action,
        exclude: inputs.exclude,
        retireShared: inputs.retireShared ?? false,
        copyOnlyAccounts: inputs.copyOnlyAccounts ?? [],
        launchTemplateVersions: inputs.launchTemplateVersions ?? "in-use",
    };
}

/**
 * What `up` acts on besides the plan: the planned images as its inventory
 * read them, and when that inventory started. Facts fresher than
 * RECHECK_AFTER_SECONDS are acted on as they are; older ones (and images the
 * plan has no facts for) are read again, a batch at a time, right before
 * that batch is retired.
 */
export interface PlanFacts {
    facts: ReadonlyMap<string, RetentionImage>;
    readAt: number;
    /** What the plan's inventory found in use, by region (see ComputedPlan). */
    references?: ReadonlyMap<string, ReadonlyMap<string, ImageReference[]>>;
}

/**
 * A plan and what it was made from: the images it retires as the inventory
 * read them, and when that inventory started (the age of its facts).
 */
export interface ComputedPlan {
    retire: PlannedRetirement[];
    skipped: SkippedImage[];
    /** The planned images as read, by `region/imageId`: what `up` acts on while they are fresh. */
    facts: Map<string, RetentionImage>;
    /** Date.now() when the inventory started: its facts are at most this old. */
    readAt: number;
    /** Every candidate's sharing as planned with, by `region/imageId`: read now (at readAt) or from a record. */
    sharing: Map<string, SharingFact>;
    /** How many candidates' sharing was read now, and how many came from records. */
    sharingCounts: { readNow: number; fromRecords: number; oldestRecord?: number };
    /** What the inventory found in use, by region: the guard (ec2/delete-image.ts) acts on it while it is fresh. */
    references: Map<string, ReadonlyMap<string, ImageReference[]>>;
}

/**
 * Inventory every region (in parallel), then plan; the regions' plans
 * combined in one order. `known`: sharing read by earlier checks (see
 * `knownSharing`), taken instead of reading it again.
 */
export async function computePlan(
    inputs: RetentionPolicyInputs,
    now: Date,
    known: ReadonlyMap<string, SharingFact> = new Map(),
): Promise<ComputedPlan> {
    const rules = rulesOf(inputs);
    const readAt = Date.now();
    const facts = new Map<string, RetentionImage>();
    const sharing = new Map<string, SharingFact>();
    const sharingCounts: ComputedPlan["sharingCounts"] = { readNow: 0, fromRecords: 0 };
    const references = new Map<string, ReadonlyMap<string, ImageReference[]>>();
    const perRegion = await Promise.all(
        inputs.regions.map(async (region) => {
            const client = ec2Client(region);
            const inventory = await retentionInventory(
                client,
                region,
                rules,
                now,
                (id) => known.get(factKey(region, id))?.launchPermissions,
            );
            const { images, inUse } = inventory;
            const plan = planRetention(images, inUse, rules, now);
            references.set(region, inUse);
            const planned = new Set(plan.retire.map((p) => p.imageId));
            const byId = new Map(images.map((i) => [i.imageId, i]));
            for (const image of images) if (planned.has(image.imageId)) facts.set(factKey(region, image.imageId), image);
            for (const id of inventory.sharingRead) {
                sharing.set(factKey(region, id), { launchPermissions: byId.get(id)?.launchPermissions ?? [], at: readAt });
            }
            for (const id of inventory.sharingKnown) {
                const k = known.get(factKey(region, id))!;
                sharing.set(factKey(region, id), k);
                sharingCounts.oldestRecord = Math.min(sharingCounts.oldestRecord ?? k.at, k.at);
            }
            sharingCounts.readNow += inventory.sharingRead.length;
            sharingCounts.fromRecords += inventory.sharingKnown.length;
            return plan;
        }),
    );
    // Each region's plan is sorted; combined, they are sorted again. Skipped images keep the planner's order within a group.
    const groupOf = (x: { group?: string; region: string }) => x.group ?? x.region;
    return {
        retire: perRegion.flatMap((p) => p.retire).sort(byGroupThenAge),
        skipped: perRegion.flatMap((p) => p.skipped).sort((a, b) => (groupOf(a) < groupOf(b) ? -1 : groupOf(a) > groupOf(b) ? 1 : 0)),
        facts,
        readAt,
        sharing,
        sharingCounts,
        references,
    };
}

/**
 * The full plans `check` computed in this provider process, by digest. During
 * `pulumi up` the engine checks each resource right before creating or
 * updating it, in the same process, so `up` acts on exactly the plan that
 * check summarised (each image re-checked right before acting).
 */
const checkedPlans = new Map<string, ComputedPlan>();
const CHECKED_PLANS_KEPT = 16;

export function remember(digest: string, plan: ComputedPlan): void {
    checkedPlans.delete(digest);
    checkedPlans.set(digest, plan);
    while (checkedPlans.size > CHECKED_PLANS_KEPT) checkedPlans.delete(checkedPlans.keys().next().value as string);
}

export function label(inputs: Partial<RetentionPolicyInputs>): string {
    const account = roleAccount(inputs.assumeRole);
    return `retention${inputs.policyName ? ` ${inputs.policyName}` : ""}${account ? ` (account ${account})` : ""}`;
}

/** With GOLDEN_AMI_RETENTION_PLAN_DIR set, the full plan as JSON, one file per policy. */
export async function writePlanFile(
    inputs: RetentionPolicyInputs,
    plan: { retire: PlannedRetirement[]; skipped: SkippedImage[] },
    digest: string,
    now: Date,
): Promise<string | undefined> {
    const dir = process.env[PLAN_DIR_ENV];
    if (!dir) return undefined;
    const file = path.join(dir, `${(inputs.policyName ?? `retention-${inputs.regions.join("-")}`).replace(/[^A-Za-z0-9._-]/g, "_")}.json`);
    const body = {
        policy: inputs.policyName,
        at: now.toISOString(),
        digest,
        total: plan.retire.length,
        retire: plan.retire,
        skipped: plan.skipped,
    };
    try {
        await fs.mkdir(dir, { recursive: true });
        await fs.writeFile(file, JSON.stringify(body, null, 2) + "\n");
    } catch (e) {
        const why = e instanceof Error ? e.message : String(e);
        throw new Error(
            `${label(inputs)}: writing the full plan to ${file} (${PLAN_DIR_ENV}): ${why}; point ${PLAN_DIR_ENV} at a writable directory or unset it`,
            {
                cause: e,
            },
        );
    }
    return file;
}

/**
 * The plan `up` acts on: the one check summarised (same digest, same
 * process), else (inputs unknown at preview, another process) the plan
 * computed now with the then-known inputs.
 */
export async function planToAct(
    inputs: RetentionPolicyInputs,
    now: Date,
    records?: SharingRecord[],
): Promise<{
    planned: PlannedRetirement[];
    heldBack: SkippedImage[];
    planChanged: boolean;
    known: PlanFacts;
    computed?: RetentionPendingSummary;
}> {
    const pending = inputs.pending as RetentionPendingSummary | undefined;
    if (pending?.status === "planned") {
        const checked = checkedPlans.get(pending.digest);
        if (checked) return { planned: checked.retire, heldBack: checked.skipped, planChanged: false, known: checked };
    }
    let plan: ComputedPlan;
    try {
        plan = await computePlan(inputs, now, knownSharing(records, now.getTime()));
    } catch (e) {
        throw new OperationError(`${label(inputs)}: planning retention at apply`, "listing images", e);
    }
    const computed = summarizePlan(plan, inputs.regions);
    return {
        planned: plan.retire,
        heldBack: plan.skipped,
        planChanged: pending?.status === "planned" && computed.digest !== pending.digest,
        known: plan,
        computed,
    };
}
