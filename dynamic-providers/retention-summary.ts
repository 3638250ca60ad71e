import { createHash } from "node:crypto";
import { byGroupThenAge, creationTime, PlannedRetirement, SkippedImage } from "../sdk/retention-plan";
import type { PendingGroup, RetentionPendingSummary, RetentionRunReport } from "../sdk/retention-policy";
import { RETENTION_REPORT_LIMITS } from "../sdk/rules/retention-policy-rules";

/**
 * What preview shows of a retention plan (`pending`): a summary bounded in
 * size whatever the plan's, its digest, and the summaries for a plan not made
 * yet or already acted on.
 */

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
