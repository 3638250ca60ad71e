import type * as dynamic from "@pulumi/pulumi/dynamic";
import { isDeepStrictEqual } from "node:util";
import type { PlannedRetirement } from "../sdk/retention-plan";
import type { RetentionPendingSummary } from "../sdk/retention-policy";
import { roleAccount } from "../sdk/rules/assume-role";
import { containsUnknown } from "../sdk/rules/primitives";
import { checkRetentionPolicyInputs } from "../sdk/validation";
import { OperationError } from "./ec2/errors";
import { exitWhenOutputIsGone } from "./orphan-guard";
import { RetentionPolicyInputs, RetentionPolicyState, SETTINGS } from "./retention-policy-inputs";
import { ComputedPlan, computePlan, label, planToAct, remember, unknownInputs, writePlanFile } from "./retention-planning";
import { applyPlan } from "./retention-retirement";
import { printRun, runReport } from "./retention-run-report";
import { knownSharing, sharingRecords } from "./retention-sharing-records";
import { atApplySummary, doneSummary, planDigest, sharingFreshness, summarizePlan } from "./retention-summary";
import { compact } from "./state-values";

exitWhenOutputIsGone();

export type { RetentionPolicyInputs, RetentionPolicyState } from "./retention-policy-inputs";

/**
 * AmiRetentionPolicy's hooks: check (plan and summarise, so preview shows
 * what will be retired), diff, and create/update (act on the plan check
 * made). Inventory and planning: retention-planning.ts; acting:
 * retention-retirement.ts; the summary and the report: retention-summary.ts,
 * retention-run-report.ts.
 */

/** Defaults, filled the same way in `check` and when acting. A default that depends on an unknown stays unset. */
function withDefaults(news: Partial<RetentionPolicyInputs>): RetentionPolicyInputs {
    const action = news.action ?? "deregister";
    return {
        ...(news as RetentionPolicyInputs),
        selector:
            containsUnknown(news.selector) && typeof news.selector !== "object" ? news.selector! : { owners: ["self"], ...news.selector },
        action,
        deleteSnapshots: news.deleteSnapshots ?? (containsUnknown(action) ? (undefined as never) : action === "deregister"),
        exclude: containsUnknown(news.exclude) && typeof news.exclude !== "object" ? news.exclude! : { inUse: true, ...news.exclude },
        dryRun: news.dryRun ?? false,
    };
}

export async function check(olds: Partial<RetentionPolicyInputs>, news: Partial<RetentionPolicyInputs>): Promise<dynamic.CheckResult> {
    const failures = checkRetentionPolicyInputs(news);
    const inputs = withDefaults(news);
    delete inputs.sharingRead; // from state only, never from the program
    const atUp = inputs.previewing === false;
    delete inputs.previewing; // never in state, never a change
    inputs.pending = atApplySummary([]);
    if (failures.length > 0) return { inputs: compact(inputs), failures };
    const unknown = unknownInputs(inputs as never);
    if (unknown.length > 0) {
        inputs.pending = atApplySummary(unknown);
        console.log(`${label(inputs)}: ${inputs.pending.summary}`);
        return { inputs: compact(inputs) };
    }
    const now = new Date();
    let plan: ComputedPlan;
    try {
        // Launch permissions read in another account tell nothing about this one.
        const sameAccount = roleAccount(olds?.assumeRole) === roleAccount(news.assumeRole);
        plan = await computePlan(inputs, now, knownSharing(sameAccount ? olds?.sharingRead : undefined, now.getTime()));
    } catch (e) {
        const err = new OperationError("regions: planning retention", "listing images", e);
        return { inputs: compact(inputs), failures: [{ property: "regions", reason: err.message }] };
    }
    inputs.pending = summarizePlan(plan, inputs.regions);
    if (inputs.retireShared !== true) {
        const c = plan.sharingCounts;
        inputs.pending.sharing = {
            readNow: c.readNow,
            fromRecords: c.fromRecords,
            ...(c.oldestRecord !== undefined ? { oldestRecord: new Date(c.oldestRecord).toISOString() } : {}),
        };
        inputs.pending.summary += `; ${sharingFreshness(c, now.getTime())}`;
        const records = sharingRecords(plan.sharing, plan.retire, inputs.dryRun);
        if (records.length > 0) inputs.sharingRead = records;
    }
    remember(inputs.pending.digest, plan);
    console.log(`${label(inputs)}: ${inputs.pending.summary}`);
    const awaiting = plan.skipped.filter((s) => s.awaitsUsageReport);
    if (awaiting.length > 0) {
        const ids = awaiting.slice(0, 5).map((s) => `${s.region}/${s.imageId}`);
        const more = awaiting.length > ids.length ? ` and ${awaiting.length - ids.length} more` : "";
        console.log(
            `${label(inputs)}: kept unless EC2's image usage report at apply shows no instance or launch template using it in another account (shared): ${ids.join(", ")}${more}`,
        );
    }
    printCopyOnly(inputs, plan.retire);
    const file = await writePlanFile(inputs, plan, inputs.pending.digest, now);
    if (file) console.log(`${label(inputs)}: full plan (${plan.retire.length} to retire, ${plan.skipped.length} held back) in ${file}`);
    // At up the preview before has printed the lines; kept in state they would print again, beside the next
    // preview's own (the CLI diffs old and new inputs), up to twice the budget. A dry run's output shows them.
    if (atUp && !inputs.dryRun) inputs.pending = { ...inputs.pending, groups: inputs.pending.groups.map((g) => ({ ...g, images: [] })) };
    return { inputs: compact(inputs) };
}

/** Says which shared images the plan retires because their only shares are with `copyOnlyAccounts`. */
function printCopyOnly(inputs: Partial<RetentionPolicyInputs>, retire: readonly PlannedRetirement[]): void {
    const copiedOnly = retire.filter((p) => p.copyOnlyShares);
    if (copiedOnly.length === 0) return;
    const ids = copiedOnly.slice(0, 5).map((p) => `${p.region}/${p.imageId} (${p.copyOnlyShares!.join(", ")})`);
    const more = copiedOnly.length > ids.length ? ` and ${copiedOnly.length - ids.length} more` : "";
    console.log(
        `${label(inputs)}: retires although shared, because the only shares are with accounts that copy it (copyOnlyAccounts): ${ids.join(", ")}${more}`,
    );
}

/** Pending retirements compare by which images (the digest), not by their reasons or ages (those change daily). */
function pendingKey(pending: RetentionPendingSummary | PlannedRetirement[] | undefined): string {
    if (Array.isArray(pending)) return planDigest(pending); // state written before summaries
    if (!pending || pending.status === "at-apply") return `at-apply:${(pending?.unknownInputs ?? []).join(",")}`;
    return pending.digest;
}

export async function diff(_id: string, olds: RetentionPolicyState, news: RetentionPolicyInputs): Promise<dynamic.DiffResult> {
    const changed = SETTINGS.filter((k) => !isDeepStrictEqual(olds[k], news[k]));
    const pendingChanged = pendingKey(olds.pending) !== pendingKey(news.pending);
    // Another account is another policy: replaced, and preview says which accounts.
    const [before, after] = [roleAccount(olds.assumeRole), roleAccount(news.assumeRole)];
    if (before !== after && !containsUnknown(news.assumeRole)) {
        console.log(`${label(news)}: replaced: account ${before ?? "of the caller"} -> ${after ?? "of the caller"} (assumeRole)`);
        return { changes: true, replaces: ["assumeRole"] };
    }
    return { changes: changed.length > 0 || pendingChanged, replaces: [] };
}

async function act(news: RetentionPolicyInputs): Promise<RetentionPolicyState> {
    // The sharing records live in the inputs (what the next check sees); the outputs need no second copy.
    const { sharingRead: records, ...given } = news;
    const inputs = withDefaults(given);
    const now = new Date();
    const name = label(inputs);
    if (inputs.dryRun) {
        // Nothing acted on; a plan deferred at preview is computed now, so that pending shows it.
        const pending =
            inputs.pending?.status === "planned" ? inputs.pending : ((await planToAct(inputs, now, records)).computed ?? inputs.pending);
        const run = runReport(inputs, now, []);
        printRun(name, run);
        return compact({ ...inputs, pending, lastRun: run });
    }
    const { planned, heldBack, planChanged, known, computed } = await planToAct(inputs, now, records);
    if (computed && inputs.pending?.status !== "planned") {
        console.log(`${name}: planned at apply: ${computed.summary}`);
        printCopyOnly(inputs, planned);
    }
    const run = await applyPlan(planned, inputs, now, planChanged, known, heldBack);
    printRun(name, run);
    // After a real run nothing is pending: the next check's plan shows what is left, failures included, as a change.
    return compact({ ...inputs, pending: doneSummary(run), lastRun: run });
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
