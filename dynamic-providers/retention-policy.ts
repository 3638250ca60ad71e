import type * as dynamic from "@pulumi/pulumi/dynamic";
import pLimit from "p-limit";
import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { isDeepStrictEqual } from "node:util";
import {
    byGroupThenAge,
    creationTime,
    describeReferences,
    exclusionReason,
    LaunchTemplateVersionRule,
    ImageReference,
    LaunchPermissionSummary,
    PlannedRetirement,
    RetentionImage,
    planRetention,
    RetentionAction,
    RetentionExclusions,
    RetentionRules,
    RetentionSelector,
    sharedWith,
    SkippedImage,
} from "../sdk/retention-plan";
import type { PendingGroup, RetentionPendingSummary, RetentionRunCounts, RetentionRunReport } from "../sdk/retention-policy";
import { containsUnknown } from "../sdk/rules/primitives";
import { RETENTION_REPORT_LIMITS } from "../sdk/rules/retention-policy";
import { checkRetentionPolicyInputs } from "../sdk/validation";
import { ec2Client, type AssumeRole } from "./ec2/client";
import { roleAccount } from "../sdk/rules/assume-role";
import { deregisterImage, ImageInUseError, type ReadReferences } from "./ec2/delete-image";
import { errorCode, OperationError } from "./ec2/errors";
import { disableImage, setDeprecation } from "./ec2/image-lifecycle";
import { addLaunchPermissions, describeImagesById, imagesInUse, retentionInventory } from "./ec2/inventory";
import type { EC2Client } from "./ec2/types";
import { compact } from "./state-values";
import { DELETE_IMAGE_TIMEOUT_MINUTES, RECHECK_AFTER_SECONDS, RETENTION_CONCURRENCY, SHARING_RECORD_MAX_AGE_HOURS } from "./ec2/limits";
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
    retireShared?: boolean;
    launchTemplateVersions?: LaunchTemplateVersionRule;
    /** The role whose account the policy works in (see withRole); the caller's when unset. */
    assumeRole?: AssumeRole;
    /** The resource's name, for the line preview prints and the plan file. */
    policyName?: string;
    /** What the next run retires, summarised: computed by `check`, so preview shows it as a change. */
    pending: RetentionPendingSummary;
    /** Launch permissions `check` read or carried, kept in state so that the next check need not read them again (see `SharingRecord`). */
    sharingRead?: SharingRecord[];
}

/**
 * Launch permissions read at one time in one region: the candidates found
 * with none, and the shared ones with theirs. Kept in the policy's state
 * (with its inputs, which is what the next `check` sees), for the
 * candidates the plan does not retire (held back because shared), and with
 * `dryRun` for all of them: a retired image needs no record. A check takes a
 * record while it is younger than SHARING_RECORD_MAX_AGE_HOURS and reads the
 * rest; apply reads each image's sharing again right before retiring it.
 */
export interface SharingRecord {
    region: string;
    /** ISO time of the read. */
    at: string;
    unshared: string[];
    shared: { imageId: string; launchPermissions: LaunchPermissionSummary[] }[];
}

export interface RetentionPolicyState extends RetentionPolicyInputs {
    lastRun?: RetentionRunReport;
}

/** Fresh records by `region/imageId`: the permissions and when they were read. */
export function knownSharing(
    records: readonly SharingRecord[] | undefined,
    now: number,
    maxAgeHours = SHARING_RECORD_MAX_AGE_HOURS,
): Map<string, { launchPermissions: LaunchPermissionSummary[]; at: number }> {
    const out = new Map<string, { launchPermissions: LaunchPermissionSummary[]; at: number }>();
    for (const r of Array.isArray(records) ? records : []) {
        const at = Date.parse(r.at);
        // A record from the future (a skewed clock) counts as read now, never as fresher.
        if (!Number.isFinite(at) || now - Math.min(at, now) > maxAgeHours * 3_600_000) continue;
        for (const id of r.unshared ?? []) out.set(`${r.region}/${id}`, { launchPermissions: [], at: Math.min(at, now) });
        for (const x of r.shared ?? [])
            out.set(`${r.region}/${x.imageId}`, { launchPermissions: x.launchPermissions, at: Math.min(at, now) });
    }
    return out;
}

/** The records to keep: every candidate whose sharing is known, minus those the plan retires (unless nothing is retired: dryRun). */
export function sharingRecords(
    sharing: ReadonlyMap<string, { launchPermissions: LaunchPermissionSummary[]; at: number }>,
    retire: readonly { region: string; imageId: string }[],
    dryRun: boolean,
): SharingRecord[] {
    const retired = new Set(dryRun ? [] : retire.map((p) => factKey(p.region, p.imageId)));
    const byReadAt = new Map<string, SharingRecord>();
    for (const [key, fact] of [...sharing].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
        if (retired.has(key)) continue;
        const slash = key.indexOf("/");
        const region = key.slice(0, slash);
        const imageId = key.slice(slash + 1);
        const at = new Date(fact.at).toISOString();
        let r = byReadAt.get(`${region} ${at}`);
        if (!r) byReadAt.set(`${region} ${at}`, (r = { region, at, unshared: [], shared: [] }));
        if (fact.launchPermissions.length === 0) r.unshared.push(imageId);
        else r.shared.push({ imageId, launchPermissions: fact.launchPermissions });
    }
    return [...byReadAt.values()];
}

/** The policy's settings: a change to any of them is an update (a policy has nothing to replace). */
const SETTINGS = [
    "regions",
    "selector",
    "groupBy",
    "keepLatest",
    "maxAgeDays",
    "action",
    "deleteSnapshots",
    "exclude",
    "dryRun",
    "retireShared",
    "launchTemplateVersions",
    "assumeRole",
] as const;

/** The inputs the plan depends on: while any is unknown (preview), nothing is planned. */
const PLAN_INPUTS = [
    "regions",
    "selector",
    "groupBy",
    "keepLatest",
    "maxAgeDays",
    "action",
    "exclude",
    "retireShared",
    "launchTemplateVersions",
] as const;

/** Where the full plan is written during `check`, one JSON file per policy, when set. */
export const PLAN_DIR_ENV = "GOLDEN_AMI_RETENTION_PLAN_DIR";

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
        launchTemplateVersions: inputs.launchTemplateVersions ?? "in-use",
    };
}

// The retirement order and the creation-date parser are the planner's (sdk/retention-plan.ts): preview and apply share them.
export { byGroupThenAge };

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
    sharing: Map<string, { launchPermissions: LaunchPermissionSummary[]; at: number }>;
    /** How many candidates' sharing was read now, and how many came from records. */
    sharingCounts: { readNow: number; fromRecords: number; oldestRecord?: number };
    /** What the inventory found in use, by region: the guard (ec2/delete-image.ts) acts on it while it is fresh. */
    references: Map<string, ReadonlyMap<string, ImageReference[]>>;
}

const factKey = (region: string, imageId: string) => `${region}/${imageId}`;

/**
 * Inventory every region (in parallel), then plan; the regions' plans
 * combined in one order. `known`: sharing read by earlier checks (see
 * `knownSharing`), taken instead of reading it again.
 */
export async function computePlan(
    inputs: RetentionPolicyInputs,
    now: Date,
    known: ReadonlyMap<string, { launchPermissions: LaunchPermissionSummary[]; at: number }> = new Map(),
): Promise<ComputedPlan> {
    const rules = rulesOf(inputs);
    const readAt = Date.now();
    const facts = new Map<string, RetentionImage>();
    const sharing = new Map<string, { launchPermissions: LaunchPermissionSummary[]; at: number }>();
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

/** sha256 of the sorted `region/imageId` list: which images, not why. */
export function planDigest(retire: readonly { region: string; imageId: string }[]): string {
    const ids = retire.map((p) => `${p.region}/${p.imageId}`).sort();
    return createHash("sha256").update(ids.join("\n")).digest("hex");
}

/** "in use: instance i-1 (running)" → "in use": what the counts per reason group by. */
export function reasonKind(reason: string): string {
    if (reason.startsWith("in use")) return "in use";
    if (reason.startsWith("shared with")) return "shared";
    if (reason.startsWith("listed in exclude.imageIds")) return "exclude.imageIds";
    if (reason.includes("(exclude.tags)")) return "exclude.tags";
    if (reason.includes("exclude.launchedWithinDays")) return "launched recently";
    if (reason.startsWith("owned by another account")) return "owned by another account";
    if (reason.startsWith("deregistration protection")) return "deregistration protection";
    if (reason.startsWith("failed bake")) return "failed bake";
    const state = /^state (\w+)/.exec(reason);
    if (state) return `state ${state[1]}`;
    return reason.split(":")[0].slice(0, 60);
}

const DAY_MS = 86_400_000;

const cut = (text: string, chars: number) => (text.length > chars ? `${text.slice(0, chars - 1)}…` : text);

function summaryLine(total: number, regions: RetentionPendingSummary["regions"], heldBack: RetentionPendingSummary["heldBack"]): string {
    const perRegion = regions
        .filter((r) => r.count > 0)
        .map((r) => `${r.region}: ${r.count}${r.groups > 1 ? ` in ${r.groups} groups` : ""}`)
        .join(", ");
    const held =
        heldBack.total > 0 ? `; ${heldBack.total} held back (${heldBack.byReason.map((r) => r.reason).join(", ")})` : "; none held back";
    return `will retire ${total} image${total === 1 ? "" : "s"}${perRegion ? ` (${perRegion})` : ""}${held}`;
}

/**
 * The bounded summary preview shows: per region a count, the first groups
 * with their count, dates and first entries, held-back images by reason.
 * Its size does not grow with the plan beyond the counts.
 */
export function summarizePlan(
    plan: { retire: readonly PlannedRetirement[]; skipped: readonly SkippedImage[] },
    regions: readonly string[],
    now: Date,
    limits: SummaryLimits = RETENTION_REPORT_LIMITS,
): RetentionPendingSummary {
    // Every image while the whole list prints within the budget; else the bounded summary.
    if (plan.retire.length > limits.perGroup || countGroups(plan.retire) > limits.groups) {
        const all = boundedSummary(plan, regions, now, { ...limits, groups: Number.MAX_SAFE_INTEGER, perGroup: Number.MAX_SAFE_INTEGER });
        if (printedBytes(all) <= limits.previewBytes) return all;
    }
    return boundedSummary(plan, regions, now, limits);
}

/** The limits of a pending summary (RETENTION_REPORT_LIMITS). */
export type SummaryLimits = {
    groups: number;
    perGroup: number;
    heldBack: number;
    heldBackReasons: number;
    reasonChars: number;
    previewBytes: number;
};

function countGroups(retire: readonly PlannedRetirement[]): number {
    return new Set(retire.map((p) => `${p.region}\u0000${p.group}`)).size;
}

/**
 * About what `pulumi preview --diff` prints for a summary: one line per
 * value, indented, with its key padded to the longest key of its object,
 * times PRINTED_MARGIN. Measured against the CLI (the bench's preview at 150
 * AMIs, one group): 149 entries printed 65,788 bytes with the rest of the
 * preview, where the walk below counts about 59,900 for the summary alone.
 */
export function printedBytes(summary: RetentionPendingSummary): number {
    const walk = (v: unknown, depth: number): number => {
        const indent = 4 + depth * 4;
        if (Array.isArray(v)) return v.reduce<number>((n, x, i) => n + indent + String(i).length + 6 + walk(x, depth + 1), 2);
        if (v && typeof v === "object") {
            const entries = Object.entries(v);
            const pad = Math.max(0, ...entries.map(([k]) => k.length));
            return entries.reduce<number>((n, [, x]) => n + indent + pad + 6 + walk(x, depth + 1), indent + 4);
        }
        return JSON.stringify(v ?? null).length + 1;
    };
    return Math.ceil(walk(summary, 0) * PRINTED_MARGIN);
}

/** The CLI prints some 10% more than `printedBytes`' walk counts (measured, see there), and the preview has other lines. */
const PRINTED_MARGIN = 1.15;

function boundedSummary(
    plan: { retire: readonly PlannedRetirement[]; skipped: readonly SkippedImage[] },
    regions: readonly string[],
    now: Date,
    limits: SummaryLimits,
): RetentionPendingSummary {
    const sorted = [...plan.retire].sort(byGroupThenAge);
    const groups: PendingGroup[] = [];
    const perRegion = new Map<string, { count: number; groups: number }>(regions.map((r) => [r, { count: 0, groups: 0 }]));
    let current: PendingGroup | undefined;
    let moreGroups = 0;
    let moreImages = 0;
    let groupCount = 0;
    for (const p of sorted) {
        const r = perRegion.get(p.region) ?? { count: 0, groups: 0 };
        perRegion.set(p.region, r);
        r.count++;
        if (!current || current.group !== p.group) {
            r.groups++;
            groupCount++;
            current = { region: p.region, group: p.group, count: 0, oldest: p.creationDate, newest: p.creationDate, first: [] };
            if (groupCount <= limits.groups) groups.push(current);
            else moreGroups++;
        }
        current.count++;
        current.newest = p.creationDate;
        if (groupCount > limits.groups) moreImages++;
        else if (current.first.length < limits.perGroup) {
            const ageDays = Math.max(0, Math.floor((now.getTime() - creationTime(p.creationDate)) / DAY_MS));
            current.first.push({
                imageId: p.imageId,
                name: p.name,
                creationDate: p.creationDate,
                ageDays: Number.isFinite(ageDays) ? ageDays : 0,
                reason: cut(p.reason, limits.reasonChars),
            });
        }
    }
    const reasons = new Map<string, number>();
    for (const s of plan.skipped) reasons.set(reasonKind(s.reason), (reasons.get(reasonKind(s.reason)) ?? 0) + 1);
    const heldBack = {
        total: plan.skipped.length,
        byReason: [...reasons]
            .map(([reason, count]) => ({ reason, count }))
            .sort((a, b) => b.count - a.count || (a.reason < b.reason ? -1 : 1))
            .slice(0, limits.heldBackReasons),
        first: plan.skipped.slice(0, limits.heldBack).map((s) => ({ ...s, reason: cut(s.reason, limits.reasonChars) })),
    };
    const regionList = [...perRegion].map(([region, r]) => ({ region, ...r }));
    return {
        status: "planned",
        summary: summaryLine(sorted.length, regionList, heldBack),
        total: sorted.length,
        digest: planDigest(sorted),
        regions: regionList,
        groups,
        ...(moreGroups > 0 ? { moreGroups: { groups: moreGroups, images: moreImages } } : {}),
        heldBack,
    };
}

/** The summary when an input is not known yet at preview: nothing planned, nothing dropped. */
export function atApplySummary(unknown: string[]): RetentionPendingSummary {
    return {
        status: "at-apply",
        summary:
            unknown.length > 0
                ? `plan computed at apply (inputs not known yet: ${unknown.join(", ")})`
                : "not planned: the inputs are refused",
        total: 0,
        digest: "",
        regions: [],
        groups: [],
        heldBack: { total: 0, byReason: [], first: [] },
        unknownInputs: unknown,
    };
}

/** "sharing: 12 read now, 9,880 from records up to 5 h old (read again before each retirement)". */
export function sharingFreshness(c: { readNow: number; fromRecords: number; oldestRecord?: number }, now: number): string {
    const parts = [`${c.readNow} read now`];
    if (c.fromRecords > 0) {
        const hours = Math.max(0, now - (c.oldestRecord ?? now)) / 3_600_000;
        const age = hours < 1 ? `${Math.max(1, Math.round(hours * 60))} min` : `${Math.round(hours)} h`;
        parts.push(`${c.fromRecords} from records up to ${age} old`);
    }
    return `sharing: ${parts.join(", ")} (read again right before each retirement)`;
}

/** After a run: no stale plan; the next preview plans again. */
function doneSummary(run: RetentionRunReport): RetentionPendingSummary {
    return {
        status: "done",
        summary: `nothing pending: the last run retired ${run.counts.retired} (${run.counts.failed} failed, retried next run)`,
        total: 0,
        digest: planDigest([]),
        regions: [],
        groups: [],
        heldBack: { total: 0, byReason: [], first: [] },
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

function remember(digest: string, plan: ComputedPlan): void {
    checkedPlans.delete(digest);
    checkedPlans.set(digest, plan);
    while (checkedPlans.size > CHECKED_PLANS_KEPT) checkedPlans.delete(checkedPlans.keys().next().value as string);
}

function label(inputs: Partial<RetentionPolicyInputs>): string {
    const account = roleAccount(inputs.assumeRole);
    return `retention${inputs.policyName ? ` ${inputs.policyName}` : ""}${account ? ` (account ${account})` : ""}`;
}

/** With GOLDEN_AMI_RETENTION_PLAN_DIR set, the full plan as JSON, one file per policy. */
async function writePlanFile(
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
    inputs.pending = summarizePlan(plan, inputs.regions, now);
    if (!inputs.retireShared) {
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
    const file = await writePlanFile(inputs, plan, inputs.pending.digest, now);
    if (file) console.log(`${label(inputs)}: full plan (${plan.retire.length} to retire, ${plan.skipped.length} held back) in ${file}`);
    return { inputs: compact(inputs) };
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
    return { ready, outcomes, references: { refs: inUse, readAt, sharingRead: true } };
}

/** A batch ready to retire, and what the guard acts on: the references read with its facts. */
interface BatchFacts {
    ready: RetentionImage[];
    outcomes: Outcome[];
    references?: ReadReferences;
    /** The batch's launch permissions were read with its facts just now (recheck). */
    sharingJustRead?: boolean;
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
): Promise<Outcome> {
    const { imageId, region } = image;
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
                    timeoutMinutes: DELETE_IMAGE_TIMEOUT_MINUTES,
                    references,
                    // Sharing was read and ruled on by the plan (retireShared).
                    sharesAllowed: inputs.retireShared === true,
                    // The user's explicit exclude.inUse: false.
                    inUseAllowed: inputs.exclude?.inUse === false,
                    launchTemplateVersions: inputs.launchTemplateVersions,
                },
            );
            snapshotsDeleted = r.snapshotsDeleted;
            for (const k of r.snapshotsKept)
                if (k.inUse) snapshotsKept.push({ snapshotId: k.snapshotId, region, imageId, reason: k.reason });
        }
        return { kind: "retired", imageId, region, snapshotsDeleted, snapshotsKept };
    } catch (e) {
        if (e instanceof ImageInUseError) return { kind: "skipped", imageId, region, reason: `in use: ${describeReferences(e.users)}` };
        return { kind: "failed", imageId, region, error: describeError(e) };
    }
}

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
function runReport(inputs: RetentionPolicyInputs, now: Date, outcomes: Outcome[], planChanged = false): RetentionRunReport {
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

/** Images read again at once when their facts are stale (DescribeImages by id takes 100 per call here). */
const RECHECK_BATCH = 100;

/** Step 1 for one batch: the images to retire, from the plan's facts while they are fresh, else from a re-check. */
async function factsForBatch(
    client: EC2Client,
    region: string,
    batch: PlannedRetirement[],
    inputs: RetentionPolicyInputs,
    now: Date,
    known: PlanFacts | undefined,
): Promise<BatchFacts> {
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
 * image shared since the plan was made is kept. Undefined: retire it.
 */
async function sharedSincePlan(client: EC2Client, image: RetentionImage): Promise<Outcome | undefined> {
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
    const shares = sharedWith(now);
    if (shares.length === 0) return undefined;
    return {
        kind: "skipped",
        imageId: image.imageId,
        region: image.region,
        reason: `shared with ${shares.join(", ")} (read right before retiring)`,
    };
}

/**
 * Acts on a plan region by region (regions in parallel, bounded concurrency
 * within one), a batch at a time: facts (the plan's while fresh, else read
 * again; the next batch is read while this one is retired), retire, report.
 * One image failing never stops the others.
 */
export async function applyPlan(
    planned: readonly PlannedRetirement[],
    inputs: RetentionPolicyInputs,
    now: Date,
    planChanged = false,
    known?: PlanFacts,
    /** Images the plan held back (in use, shared, excluded, a state it leaves alone): counted and listed as skipped. */
    heldBack: readonly SkippedImage[] = [],
): Promise<RetentionRunReport> {
    const held: Outcome[] = heldBack.map((s) => ({ kind: "skipped", imageId: s.imageId, region: s.region, reason: s.reason }));
    if (inputs.dryRun || planned.length === 0) return runReport(inputs, now, inputs.dryRun ? [] : held, planChanged);
    const regions = [...new Set(planned.map((p) => p.region))];
    const perRegion = await Promise.all(
        regions.map(async (region) => {
            const client = ec2Client(region);
            const mine = planned.filter((p) => p.region === region);
            const batches: PlannedRetirement[][] = [];
            for (let i = 0; i < mine.length; i += RECHECK_BATCH) batches.push(mine.slice(i, i + RECHECK_BATCH));
            const limit = pLimit(RETENTION_CONCURRENCY);
            const outcomes: Outcome[] = [];
            let next = factsForBatch(client, region, batches[0], inputs, now, known);
            for (let b = 0; b < batches.length; b++) {
                const checked = await next;
                if (b + 1 < batches.length) next = factsForBatch(client, region, batches[b + 1], inputs, now, known);
                const reread = !inputs.retireShared && !checked.sharingJustRead;
                const retired = await Promise.all(
                    checked.ready.map((image) =>
                        limit(
                            async () =>
                                (reread && (await sharedSincePlan(client, image))) ||
                                retireImage(client, image, inputs, now, checked.references),
                        ),
                    ),
                );
                outcomes.push(...checked.outcomes, ...retired);
            }
            return outcomes;
        }),
    );
    return runReport(inputs, now, [...held, ...perRegion.flat()], planChanged);
}

/** Prints the run: counts, then every skip, kept snapshot and failure as it happened (the report keeps a sample). */
function report(name: string, run: RetentionRunReport): void {
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

/**
 * The plan `up` acts on: the one check summarised (same digest, same
 * process), else (inputs unknown at preview, another process) the plan
 * computed now with the then-known inputs.
 */
async function planToAct(
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
    const computed = summarizePlan(plan, inputs.regions, now);
    return {
        planned: plan.retire,
        heldBack: plan.skipped,
        planChanged: pending?.status === "planned" && computed.digest !== pending.digest,
        known: plan,
        computed,
    };
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
        report(name, run);
        return compact({ ...inputs, pending, lastRun: run });
    }
    const { planned, heldBack, planChanged, known, computed } = await planToAct(inputs, now, records);
    if (computed && inputs.pending?.status !== "planned") console.log(`${name}: planned at apply: ${computed.summary}`);
    const run = await applyPlan(planned, inputs, now, planChanged, known, heldBack);
    report(name, run);
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
