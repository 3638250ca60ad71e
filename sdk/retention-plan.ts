/**
 * What AmiRetentionPolicy retires, as a pure function of data:
 * `planRetention(images, inUse, rules, now)`. No EC2 call happens here; the
 * provider gathers the inventory, calls this, shows the plan in preview and
 * acts on it in `pulumi up`.
 */

/** One AMI as the planner sees it. */
export interface RetentionImage {
    imageId: string;
    region: string;
    name: string;
    /** ISO 8601, as EC2 reports it. */
    creationDate: string;
    ownerId: string;
    tags: Record<string, string>;
    /** The image's EBS snapshots (deleted with it when the action is deregister). */
    snapshotIds: string[];
    /** EC2's deregistration protection is on. */
    deregistrationProtected?: boolean;
    /** When an instance was last launched from it (EC2's lastLaunchedTime), if known. */
    lastLaunchedTime?: string;
    /** When EC2 deprecates it, if set. */
    deprecationTime?: string;
    /** `available`, `disabled`, ... */
    state?: string;
}

/** Which images a policy looks at. */
export interface RetentionSelector {
    /** Image owners as DescribeImages takes them. @default ["self"] */
    owners?: string[];
    /** Name pattern, `*` and `?` wildcards; `"*"` selects every name. */
    namePattern?: string;
    /** Tags an image must all have; value `"*"` means any value. */
    tags?: Record<string, string>;
}

/** Images a policy never retires. */
export interface RetentionExclusions {
    /** These images, e.g. the ones this stack manages. */
    imageIds?: string[];
    /** Images that have any of these tags (value `"*"` = any value), e.g. `{ Retain: "true" }`. */
    tags?: Record<string, string>;
    /**
     * Images a non-terminated instance or the `$Default`/`$Latest` version of a
     * launch template uses.
     * @default true
     */
    inUse?: boolean;
    /** Images an instance was launched from within this many days. */
    launchedWithinDays?: number;
}

export type RetentionAction = "deregister" | "deprecate" | "disable";

/** The rules of a policy, as the planner takes them. */
export interface RetentionRules {
    selector: RetentionSelector;
    /** Tag keys whose values split images into groups. @default one group per region */
    groupBy?: string[];
    /** Per group and region, the newest images that are never retired (at least 1). */
    keepLatest: number;
    /** Only images older than this many days are retired. */
    maxAgeDays?: number;
    /** @default "deregister" */
    action?: RetentionAction;
    exclude?: RetentionExclusions;
    /**
     * The account the policy runs as: images owned by any other account are
     * never retired, whatever the selector says.
     */
    accountId?: string;
}

/** An image the plan retires, and why. */
export interface PlannedRetirement {
    imageId: string;
    region: string;
    name: string;
    creationDate: string;
    group: string;
    reason: string;
}

/** An image that would be retired but is not, and why. */
export interface SkippedImage {
    imageId: string;
    region: string;
    reason: string;
}

export interface RetentionPlan {
    retire: PlannedRetirement[];
    skipped: SkippedImage[];
}

/** `*` and `?` wildcards, as EC2's name filter and amicleaner take them. */
export function wildcardMatch(pattern: string, value: string): boolean {
    const re = pattern
        .replace(/[.+^${}()|[\]\\]/g, "\\$&")
        .replace(/\*/g, ".*")
        .replace(/\?/g, ".");
    return new RegExp(`^${re}$`, "s").test(value);
}

function hasTag(tags: Record<string, string>, key: string, value: string): boolean {
    return key in tags && (value === "*" || tags[key] === value);
}

export function matchesSelector(image: RetentionImage, selector: RetentionSelector): boolean {
    if (selector.namePattern !== undefined && !wildcardMatch(selector.namePattern, image.name)) return false;
    return Object.entries(selector.tags ?? {}).every(([k, v]) => hasTag(image.tags, k, v));
}

/** An image already retired by the policy's action is no longer a candidate, nor a keeper. */
export function alreadyRetired(image: RetentionImage, action: RetentionAction, now: Date): boolean {
    if (image.state === "deregistered") return true;
    if (action === "disable") return image.state === "disabled";
    if (action === "deprecate") return !!image.deprecationTime && Date.parse(image.deprecationTime) <= now.getTime() + 60_000;
    return false;
}

const DAY_MS = 86_400_000;

/** Why the policy never retires this image, or undefined. */
export function exclusionReason(
    image: RetentionImage,
    inUse: ReadonlyMap<string, string>,
    rules: RetentionRules,
    now: Date,
): string | undefined {
    const ex = rules.exclude ?? {};
    if (rules.accountId && image.ownerId !== rules.accountId) return `owned by another account (${image.ownerId})`;
    if (ex.imageIds?.includes(image.imageId)) return "listed in exclude.imageIds";
    const tag = Object.entries(ex.tags ?? {}).find(([k, v]) => hasTag(image.tags, k, v));
    if (tag) return `tagged ${tag[0]}=${image.tags[tag[0]]} (exclude.tags)`;
    if (ex.inUse !== false && inUse.has(image.imageId)) return `in use: ${inUse.get(image.imageId)}`;
    if (ex.launchedWithinDays !== undefined && image.lastLaunchedTime) {
        const days = (now.getTime() - Date.parse(image.lastLaunchedTime)) / DAY_MS;
        if (days <= ex.launchedWithinDays)
            return `launched ${Math.floor(days)} days ago (exclude.launchedWithinDays ${ex.launchedWithinDays})`;
    }
    return undefined;
}

/** The group of an image: its region and its values of the groupBy tags. */
export function groupOf(image: RetentionImage, groupBy: string[] | undefined): string {
    const values = (groupBy ?? []).map((k) => `${k}=${image.tags[k] ?? ""}`);
    return [image.region, ...values].join("/");
}

/** Newest first; ties in creation date broken by image id, so the order never depends on input order. */
function newestFirst(a: RetentionImage, b: RetentionImage): number {
    const d = Date.parse(b.creationDate) - Date.parse(a.creationDate);
    return d !== 0 ? d : a.imageId < b.imageId ? -1 : a.imageId > b.imageId ? 1 : 0;
}

/**
 * Decides which images to retire. An image is retired when it matches the
 * selector, is not excluded (listed, tagged, in use, launched recently, owned
 * by another account), is not among the newest `keepLatest` non-excluded
 * images of its group in its region, and, when `maxAgeDays` is set, is older
 * than that. Deregistration-protected images that would be deregistered are
 * reported in `skipped` instead. The result is sorted and depends only on the
 * arguments.
 */
export function planRetention(
    images: readonly RetentionImage[],
    inUse: ReadonlyMap<string, string>,
    rules: RetentionRules,
    now: Date,
): RetentionPlan {
    const action = rules.action ?? "deregister";
    const groups = new Map<string, RetentionImage[]>();
    const seen = new Set<string>();
    for (const image of images) {
        if (seen.has(image.imageId)) continue;
        seen.add(image.imageId);
        if (!matchesSelector(image, rules.selector)) continue;
        if (alreadyRetired(image, action, now)) continue;
        if (exclusionReason(image, inUse, rules, now) !== undefined) continue;
        const group = groupOf(image, rules.groupBy);
        groups.set(group, [...(groups.get(group) ?? []), image]);
    }

    const retire: PlannedRetirement[] = [];
    const skipped: SkippedImage[] = [];
    const keep = Math.max(1, Math.floor(rules.keepLatest));
    const cutoff = rules.maxAgeDays === undefined ? undefined : now.getTime() - rules.maxAgeDays * DAY_MS;
    for (const [group, members] of groups) {
        members.sort(newestFirst);
        members.slice(keep).forEach((image, i) => {
            const created = Date.parse(image.creationDate);
            if (cutoff !== undefined && !(created < cutoff)) return;
            const age = Math.floor((now.getTime() - created) / DAY_MS);
            const reasons = [`${ordinal(keep + i + 1)} newest in group ${group} (keepLatest ${keep})`];
            if (rules.maxAgeDays !== undefined) reasons.push(`${age} days old (maxAgeDays ${rules.maxAgeDays})`);
            if (action === "deregister" && image.deregistrationProtected) {
                skipped.push({ imageId: image.imageId, region: image.region, reason: "deregistration protection is on" });
                return;
            }
            retire.push({
                imageId: image.imageId,
                region: image.region,
                name: image.name,
                creationDate: image.creationDate,
                group,
                reason: reasons.join("; "),
            });
        });
    }
    const byRegionThenId = (a: { region: string; imageId: string }, b: { region: string; imageId: string }) =>
        a.region < b.region ? -1 : a.region > b.region ? 1 : a.imageId < b.imageId ? -1 : a.imageId > b.imageId ? 1 : 0;
    return { retire: retire.sort(byRegionThenId), skipped: skipped.sort(byRegionThenId) };
}

function ordinal(n: number): string {
    const s = n % 100 >= 11 && n % 100 <= 13 ? "th" : (({ 1: "st", 2: "nd", 3: "rd" } as Record<number, string>)[n % 10] ?? "th");
    return `${n}${s}`;
}
