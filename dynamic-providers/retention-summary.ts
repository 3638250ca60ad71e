import { createHash } from "node:crypto";
import { byGroupThenAge, PlannedRetirement, SkippedImage } from "../sdk/retention-plan";
import { formatPendingEntry } from "../sdk/retention-pending-entry";
import type { PendingGroup, RetentionPendingSummary, RetentionRunReport } from "../sdk/retention-policy";
import { RETENTION_REPORT_LIMITS } from "../sdk/rules/retention-policy-rules";

/**
 * What preview shows of a retention plan (`pending`): a summary bounded in
 * size whatever the plan's, its digest, and the summaries for a plan not made
 * yet or already acted on.
 */

/** Where the full plan is written during `check`, one JSON file per policy, when set. */
export const PLAN_DIR_ENV = "GOLDEN_AMI_RETENTION_PLAN_DIR";

/** sha256 of the sorted `region/imageId` list: which images, not why. */
export function planDigest(retire: readonly { region: string; imageId: string }[]): string {
    const ids = retire.map((p) => `${p.region}/${p.imageId}`).sort();
    return createHash("sha256").update(ids.join("\n")).digest("hex");
}

/** "in use: instance i-1 (running)" → "in use": what the counts per reason group by. */
export function reasonKind(reason: string): string {
    if (reason.startsWith("in use")) return "in use";
    if (reason.startsWith("shared with") && reason.includes('retireShared "when-unused"')) return "shared, usage report at apply";
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
 * What preview shows: every planned image, one line each, while the whole
 * list prints within `limits.previewBytes`; else the bounded summary (per
 * region a count, the first groups with their count, dates and first
 * entries, and where to find the full list). Held-back images by reason in
 * both. Its size does not grow with the plan beyond the budget.
 */
export function summarizePlan(
    plan: { retire: readonly PlannedRetirement[]; skipped: readonly SkippedImage[] },
    regions: readonly string[],
    limits: SummaryLimits = RETENTION_REPORT_LIMITS,
): RetentionPendingSummary {
    if (plan.retire.length > limits.perGroup || countGroups(plan.retire) > limits.groups) {
        const all = boundedSummary(plan, regions, { ...limits, groups: Number.MAX_SAFE_INTEGER, perGroup: Number.MAX_SAFE_INTEGER });
        if (printedBytes(all) <= limits.previewBytes) return all;
    }
    const bounded = boundedSummary(plan, regions, limits);
    const listed = bounded.groups.reduce((n, g) => n + g.images.length, 0);
    if (listed < bounded.total) {
        bounded.fullList =
            `${listed} of ${bounded.total} listed (all would print over ${limits.previewBytes} bytes); every image with why: ` +
            `preview with ${PLAN_DIR_ENV}=<dir> set, which writes <dir>/<policy name>.json`;
    }
    return bounded;
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
 * The bytes `pulumi preview --diff` prints for a summary, modelled on the
 * CLI's layout: one line per value, nested values indented by 4, an
 * object's keys padded to its longest, array items as `[i]: `, strings
 * JSON-quoted; the policy at the top of the stack (its properties indented
 * by 8). Checked against the CLI (3.x, see BENCHMARKS.md): within 1% for
 * the listed shape; PRINTED_MARGIN covers a policy nested a few components
 * deep.
 */
export function printedBytes(summary: RetentionPendingSummary): number {
    return Math.ceil((PROPERTY_INDENT + "pending".length + 2 + printedValue(summary, PROPERTY_INDENT)) * PRINTED_MARGIN);
}

/** A resource's properties start 8 columns in (`+ `/`~ ` marks and the resource line before). */
const PROPERTY_INDENT = 8;

/** Each component level adds 4 columns to every line: 5% covers about two levels of a listed plan. */
const PRINTED_MARGIN = 1.05;

/** The bytes of a value printed after `key: ` at `indent`, to the end of its last line. */
function printedValue(v: unknown, indent: number): number {
    const inner = indent + 4;
    if (Array.isArray(v)) {
        if (v.length === 0) return 3;
        const items = v.reduce<number>((n, x, i) => n + inner + String(i).length + 4 + printedValue(x, inner), 0);
        return 2 + items + indent + 2;
    }
    if (v && typeof v === "object") {
        const entries = Object.entries(v).filter(([, x]) => x !== undefined);
        if (entries.length === 0) return 3;
        const pad = Math.max(...entries.map(([k]) => k.length));
        const items = entries.reduce<number>((n, [, x]) => n + inner + pad + 2 + printedValue(x, inner), 0);
        return 2 + items + indent + 2;
    }
    return Buffer.byteLength(JSON.stringify(v ?? null)) + 1;
}

/**
 * An entry's why without what its listing already says: its group (the
 * group header names it) and the policy's settings (printed with its
 * inputs). "33rd newest in group us-east-1/App=web (keepLatest 3); 105 days
 * old (maxAgeDays 30)" → "33rd newest; 105 days old".
 */
export function entryReason(reason: string, group: string): string {
    const escaped = group.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    // Only the group itself, not a group whose name starts with it ("App=web" in "App=web-2").
    return reason.replace(new RegExp(` (in|of) group ${escaped}(?= \\(|;|$)`, "g"), "").replace(/ \((keepLatest|maxAgeDays) \d+\)/g, "");
}

function boundedSummary(
    plan: { retire: readonly PlannedRetirement[]; skipped: readonly SkippedImage[] },
    regions: readonly string[],
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
            current = { region: p.region, group: p.group, count: 0, oldest: p.creationDate, newest: p.creationDate, images: [] };
            if (groupCount <= limits.groups) groups.push(current);
            else moreGroups++;
        }
        current.count++;
        current.newest = p.creationDate;
        if (groupCount > limits.groups) moreImages++;
        else if (current.images.length < limits.perGroup) {
            current.images.push(formatPendingEntry({ ...p, reason: cut(entryReason(p.reason, p.group), limits.reasonChars) }));
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
export function doneSummary(run: RetentionRunReport): RetentionPendingSummary {
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
