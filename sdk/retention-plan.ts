/**
 * What AmiRetentionPolicy retires, as a pure function of data:
 * `planRetention(images, inUse, rules, now)`. No EC2 call happens here; the
 * provider gathers the inventory, calls this, shows the plan in preview and
 * acts on it in `pulumi up`.
 */

/**
 * Who else may launch an image, one entry per grant, as EC2's
 * `DescribeImageAttribute(launchPermission)` reports it.
 */
export interface LaunchPermissionSummary {
    /** `"all"`: the image is public. */
    group?: "all";
    /** Another AWS account. */
    userId?: string;
    /** An organization (ARN). */
    organizationArn?: string;
    /** An organizational unit (ARN). */
    organizationalUnitArn?: string;
}

/** One AMI as the planner sees it. */
export interface RetentionImage {
    imageId: string;
    region: string;
    name: string;
    /** ISO 8601, as EC2 reports it. An unreadable date counts as the newest (never retired for its age). */
    creationDate: string;
    ownerId: string;
    tags: Record<string, string>;
    /** The image's EBS snapshots (deleted with it when the action is deregister). */
    snapshotIds: string[];
    /** EC2's deregistration protection is on. */
    deregistrationProtected?: boolean;
    /** When an instance was last launched from it (EC2's lastLaunchedTime), if known. */
    lastLaunchedTime?: string;
    /** When EC2 deprecates it, if set. A deprecated image still launches by id. */
    deprecationTime?: string;
    /**
     * EC2's image state: `available`, `pending`, `failed`, `disabled`,
     * `transient`, `invalid`, `error`, `deregistered`. Omitted means
     * `available`; a state not in this list is never touched.
     */
    state?: string;
    /** EC2's StateReason message, e.g. why a bake failed. */
    stateReason?: string;
    /** DescribeImages' `Public`. */
    public?: boolean;
    /**
     * Its launch permissions (accounts, organizations, OUs, public). The
     * inventory must fill this for `retireShared` to mean anything: an image
     * with no entry here and `public` unset counts as not shared.
     */
    launchPermissions?: LaunchPermissionSummary[];
}

/** What can refer to an image. The `ec2:*`, `ssm:*` and `imagebuilder:*` names are DescribeImageReferences' resource types. */
export type ImageReferenceKind =
    | "instance"
    | "launch-template"
    | "launch-configuration"
    | "ssm-parameter"
    | "image-recipe"
    | "container-recipe"
    | "auto-scaling-group"
    | "ec2-fleet"
    | "spot-fleet"
    | "launch-permission"
    | "ec2:Instance"
    | "ec2:LaunchTemplate"
    | "ssm:Parameter"
    | "imagebuilder:ImageRecipe"
    | "imagebuilder:ContainerRecipe";

/**
 * One thing that refers to an image, e.g.
 * `{ kind: "launch-template", id: "lt-0abc", detail: "version 3, pinned by Auto Scaling group web" }`.
 */
export interface ImageReference {
    kind: ImageReferenceKind | (string & {});
    /** Its id or ARN. */
    id: string;
    /** Anything a reviewer needs to find it, e.g. `running`, `$Default`. */
    detail?: string;
}

/**
 * The images in use, by image id: either a list of what refers to each
 * (an empty list means nothing does), or, as before, one sentence saying
 * why (e.g. `"instance i-0123 (running)"`).
 */
export type ImagesInUse = ReadonlyMap<string, string | readonly ImageReference[]>;

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
     * Images something refers to (the `inUse` argument of
     * {@link planRetention}: instances, launch template versions, launch
     * configurations, SSM parameters, Image Builder recipes, ...).
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
    /** Per group and region, the newest available images that are never retired (at least 1). */
    keepLatest: number;
    /** Only images older than this many days are retired (failed bakes excepted). */
    maxAgeDays?: number;
    /** @default "deregister" */
    action?: RetentionAction;
    exclude?: RetentionExclusions;
    /**
     * The account the policy runs as: images owned by any other account are
     * never retired, whatever the selector says.
     */
    accountId?: string;
    /**
     * Also retire images shared with other accounts, organizations, OUs or
     * the public. Off by default because this account cannot see what other
     * accounts launch from them. `"when-unused"`: the plan holds shared
     * candidates back (`awaitsUsageReport`), and apply retires one only when
     * EC2's image usage report shows no other account using it.
     * @default false
     */
    retireShared?: RetireShared;
    /**
     * Accounts an image is shared with only so that they can copy it (a
     * GoldenImage's `distribute` targets, which launch from copies of their
     * own): a share with one of them is not a use, whatever `retireShared`
     * says. Shares with any other account, an organization, an OU or the
     * public still count.
     * @default none
     */
    copyOnlyAccounts?: string[];
    /**
     * Which launch-template versions count as using their image, the same
     * rule whether EC2's DescribeImageReferences or the enumeration answers:
     * `"in-use"` counts every template's `$Default` and `$Latest` and the
     * versions an Auto Scaling group, EC2 Fleet or Spot Fleet names;
     * `"all"` counts every version of every template (for launching old
     * versions by number).
     * @default "in-use"
     */
    launchTemplateVersions?: LaunchTemplateVersionRule;
}

/** See {@link RetentionRules.launchTemplateVersions}. */
export type LaunchTemplateVersionRule = "in-use" | "all";

/** An image the plan retires, and why. */
export interface PlannedRetirement {
    imageId: string;
    region: string;
    name: string;
    creationDate: string;
    group: string;
    reason: string;
    /**
     * Set when the image is shared only with `copyOnlyAccounts` (and
     * `retireShared` is not true): those accounts, as "account 1234…".
     * Retired although shared, because those shares are not a use.
     */
    copyOnlyShares?: string[];
}

/** See {@link RetentionRules.retireShared}. */
export type RetireShared = boolean | "when-unused";

/** An image the plan leaves alone although its rules alone would retire it (or one it never touches, like a pending bake), and why. */
export interface SkippedImage {
    imageId: string;
    region: string;
    reason: string;
    /**
     * With `retireShared: "when-unused"`: held back only because it is
     * shared; apply asks EC2's image usage report and retires it when no
     * other account uses it.
     */
    awaitsUsageReport?: boolean;
    /** Its group, when the planner reports it. */
    group?: string;
}

export interface RetentionPlan {
    /** Sorted by group, then age (oldest first), then image id. */
    retire: PlannedRetirement[];
    /** Sorted the same way. */
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

function isDeprecated(image: RetentionImage, now: Date, slackMs = 0): boolean {
    return !!image.deprecationTime && Date.parse(image.deprecationTime) <= now.getTime() + slackMs;
}

/**
 * An image already retired by the policy's action is no longer a candidate,
 * nor a keeper: deregistered ones; with `disable`, disabled ones; with
 * `deprecate`, deprecated ones and disabled ones (which already cannot launch).
 */
export function alreadyRetired(image: RetentionImage, action: RetentionAction, now: Date): boolean {
    if (image.state === "deregistered") return true;
    if (action === "disable") return image.state === "disabled";
    if (action === "deprecate") return image.state === "disabled" || isDeprecated(image, now, 60_000);
    return false;
}

/**
 * Where an image stands, from its EC2 state:
 * - `launchable`: `available` (deprecated ones too: they still launch by
 *   id), or no state given. Only these fill `keepLatest` slots.
 * - `disabled`: launches from it fail, but it can be re-enabled. Never a
 *   keeper; retired only when older than the group's `keepLatest` newest
 *   available images (and than `maxAgeDays`).
 * - `failed`: a failed bake, never launchable. Retired whatever
 *   `keepLatest` and `maxAgeDays` (action `deregister` only).
 * - `untouchable`: `pending`, `transient`, `invalid`, `error` or a state we
 *   do not know: never touched, reported in `skipped`.
 */
export type ImageStanding = { kind: "launchable" } | { kind: "disabled" } | { kind: "failed" } | { kind: "untouchable"; reason: string };

const UNTOUCHABLE: Record<string, string> = {
    pending: "state pending: EC2 is still making it; never touched",
    transient: "state transient: EC2 is changing it; never touched",
    invalid: "state invalid: left for a person to look at; never touched",
    error: "state error: left for a person to look at; never touched",
    deregistered: "state deregistered: already gone",
};

export function imageStanding(image: RetentionImage): ImageStanding {
    const state = image.state ?? "available";
    if (state === "available") return { kind: "launchable" };
    if (state === "disabled") return { kind: "disabled" };
    if (state === "failed") return { kind: "failed" };
    const known = UNTOUCHABLE[state] ?? `state ${state}: not a state golden-ami knows; never touched`;
    return { kind: "untouchable", reason: image.stateReason ? `${known} (EC2: ${image.stateReason})` : known };
}

const DAY_MS = 86_400_000;
const LISTED = 3;

const KIND_LABEL: Record<string, string> = {
    instance: "instance",
    "launch-template": "launch template",
    "launch-configuration": "launch configuration",
    "auto-scaling-group": "Auto Scaling group",
    "ec2-fleet": "EC2 Fleet",
    "spot-fleet": "Spot Fleet request",
    "ssm-parameter": "SSM parameter",
    "image-recipe": "Image Builder image recipe",
    "container-recipe": "Image Builder container recipe",
    // id: "account 1234…", "organization arn:…", "the public"
    "launch-permission": "shared with",
    "ec2:Instance": "instance",
    "ec2:LaunchTemplate": "launch template",
    "ssm:Parameter": "SSM parameter",
    "imagebuilder:ImageRecipe": "Image Builder image recipe",
    "imagebuilder:ContainerRecipe": "Image Builder container recipe",
};

function listed(items: string[]): string {
    const shown = items.slice(0, LISTED).join("; ");
    return items.length > LISTED ? `${shown}; and ${items.length - LISTED} more` : shown;
}

/** Labels in the order a reviewer looks for them: what runs first, then what launches, then what names the image. */
const KIND_ORDER = [...new Set(Object.values(KIND_LABEL))];

/**
 * "instance i-0123 (running); launch template lt-1 (version 3, $Default)":
 * instances first, then launch templates, ..., each kind by id, so that the
 * text never depends on input order.
 */
export function describeReferences(refs: readonly ImageReference[]): string {
    const rank = (label: string) => {
        const i = KIND_ORDER.indexOf(label);
        return i < 0 ? KIND_ORDER.length : i;
    };
    const items = refs
        .map((r) => ({ label: KIND_LABEL[r.kind] ?? r.kind, text: `${r.id}${r.detail ? ` (${r.detail})` : ""}` }))
        .sort((a, b) => compare(rank(a.label), rank(b.label)) || compare(a.label, b.label) || compare(a.text, b.text));
    return listed([...new Set(items.map((i) => `${i.label} ${i.text}`))]);
}

/** Why the image counts as in use, or undefined. */
export function inUseReason(inUse: ImagesInUse, imageId: string): string | undefined {
    if (!inUse.has(imageId)) return undefined;
    const v = inUse.get(imageId);
    if (typeof v === "string") return v;
    if (!v || v.length === 0) return undefined;
    return describeReferences(v);
}

/**
 * Who else can launch the image, sorted: "the public", "account 4444…",
 * "organization arn:…"; accounts in `notCounted` (see
 * {@link RetentionRules.copyOnlyAccounts}) left out.
 */
export function sharedWith(image: RetentionImage, notCounted: readonly string[] = []): string[] {
    const out = new Set<string>();
    if (image.public) out.add("the public");
    for (const p of image.launchPermissions ?? []) {
        if (p.group === "all") out.add("the public");
        if (p.userId && p.userId !== image.ownerId && !notCounted.includes(p.userId)) out.add(`account ${p.userId}`);
        if (p.organizationArn) out.add(`organization ${p.organizationArn}`);
        if (p.organizationalUnitArn) out.add(`organizational unit ${p.organizationalUnitArn}`);
    }
    return [...out].sort();
}

/** The image's shares with `copyOnlyAccounts`, sorted ("account 1234…"): shares that are not a use. */
export function copyOnlyShares(image: RetentionImage, rules: Pick<RetentionRules, "copyOnlyAccounts">): string[] {
    const copyOnly = rules.copyOnlyAccounts ?? [];
    if (copyOnly.length === 0) return [];
    const all = sharedWith(image);
    const counted = new Set(sharedWith(image, copyOnly));
    return all.filter((s) => !counted.has(s));
}

/** What a shared candidate waits for with `retireShared: "when-unused"` (preview shows it as the reason it is held back). */
export const USAGE_REPORT_CONDITION =
    'kept unless its image usage report at apply shows no instance or launch template using it in another account (retireShared "when-unused")';

/**
 * With `retireShared: "when-unused"`: whether sharing is the only thing
 * that keeps the image (so a usage report showing no use retires it).
 */
export function awaitsUsageReport(image: RetentionImage, inUse: ImagesInUse, rules: RetentionRules, now: Date): boolean {
    return (
        rules.retireShared === "when-unused" &&
        sharedWith(image, rules.copyOnlyAccounts).length > 0 &&
        exclusionReason(image, inUse, { ...rules, retireShared: true }, now) === undefined
    );
}

/** Why the policy never retires this image, or undefined. */
export function exclusionReason(image: RetentionImage, inUse: ImagesInUse, rules: RetentionRules, now: Date): string | undefined {
    const ex = rules.exclude ?? {};
    if (rules.accountId && image.ownerId !== rules.accountId) return `owned by another account (${image.ownerId})`;
    if (ex.imageIds?.includes(image.imageId)) return "listed in exclude.imageIds";
    const tag = Object.entries(ex.tags ?? {}).find(([k, v]) => hasTag(image.tags, k, v));
    if (tag) return `tagged ${tag[0]}=${image.tags[tag[0]]} (exclude.tags)`;
    const used = ex.inUse !== false ? inUseReason(inUse, image.imageId) : undefined;
    if (used !== undefined) return `in use: ${used}`;
    const shares = rules.retireShared === true ? [] : sharedWith(image, rules.copyOnlyAccounts);
    if (shares.length > 0 && rules.retireShared === "when-unused") return `shared with ${listed(shares)}: ${USAGE_REPORT_CONDITION}`;
    if (shares.length > 0)
        return `shared with ${listed(shares)}: launches in other accounts are invisible to this one (retireShared: true retires shared images)`;
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

/**
 * Creation time in ms; an unreadable date counts as the newest, so that it is
 * never the one retired. The one parser of EC2's `CreationDate` for retention,
 * preview and apply alike.
 */
export function creationTime(creationDate: string | undefined): number {
    const t = Date.parse(creationDate ?? "");
    return Number.isNaN(t) ? Number.POSITIVE_INFINITY : t;
}

function createdAt(image: { creationDate?: string }): number {
    return creationTime(image.creationDate);
}

function compare<T>(a: T, b: T): number {
    return a < b ? -1 : a > b ? 1 : 0;
}

/** Newest first; ties in creation date broken by image id, so the order never depends on input order. */
function newestFirst(a: RetentionImage, b: RetentionImage): number {
    return compare(createdAt(b), createdAt(a)) || compare(a.imageId, b.imageId);
}

/** The retirement order, shared by preview and apply: by group, then oldest first, then image id. */
export function byGroupThenAge(
    a: { group?: string; region: string; creationDate?: string; imageId: string },
    b: { group?: string; region: string; creationDate?: string; imageId: string },
): number {
    return (
        compare(a.group ?? a.region, b.group ?? b.region) ||
        compare(creationTime(a.creationDate), creationTime(b.creationDate)) ||
        compare(a.imageId, b.imageId)
    );
}

interface Group {
    launchable: RetentionImage[];
    disabled: RetentionImage[];
    failed: RetentionImage[];
    excluded: { image: RetentionImage; standing: ImageStanding; reason: string }[];
}

/**
 * Decides which images to retire, one group (region + `groupBy` tag values)
 * at a time:
 *
 * - Never touched: images that do not match the selector, are excluded
 *   (owned by another account, listed, tagged, in use, shared unless
 *   `retireShared` (shares with `copyOnlyAccounts` do not count), launched recently), are `pending`/`transient`/`invalid`/
 *   `error`, or that the action already retired.
 * - Kept: the newest `keepLatest` available (deprecated included) non-excluded
 *   images. Failed, pending and disabled images never take these slots.
 * - Retired: the other available images and the disabled images older than
 *   the kept ones, when older than `maxAgeDays` (if set); failed bakes
 *   whatever their rank and age (action `deregister` only).
 * - Skipped, with why: what the rules alone would retire but an exclusion
 *   or deregistration protection keeps, failed bakes the action cannot
 *   retire, and images in a state never touched.
 *
 * The result is sorted (group, then oldest first, then id) and depends only
 * on the arguments.
 */
export function planRetention(images: readonly RetentionImage[], inUse: ImagesInUse, rules: RetentionRules, now: Date): RetentionPlan {
    const action = rules.action ?? "deregister";
    const groups = new Map<string, Group>();
    const retire: PlannedRetirement[] = [];
    const skipped: (SkippedImage & { creationDate: string })[] = [];
    const skip = (image: RetentionImage, group: string, reason: string) =>
        skipped.push({ imageId: image.imageId, region: image.region, group, reason, creationDate: image.creationDate });

    const seen = new Set<string>();
    for (const image of images) {
        if (seen.has(image.imageId)) continue;
        seen.add(image.imageId);
        if (!matchesSelector(image, rules.selector)) continue;
        if (image.state === "deregistered") continue;
        const group = groupOf(image, rules.groupBy);
        const standing = imageStanding(image);
        if (standing.kind === "untouchable") {
            skip(image, group, standing.reason);
            continue;
        }
        if (alreadyRetired(image, action, now)) continue;
        const g = groups.get(group) ?? { launchable: [], disabled: [], failed: [], excluded: [] };
        groups.set(group, g);
        const excluded = exclusionReason(image, inUse, rules, now);
        if (excluded !== undefined) g.excluded.push({ image, standing, reason: excluded });
        else g[standing.kind].push(image);
    }

    const keep = Math.max(1, Math.floor(rules.keepLatest));
    const cutoff = rules.maxAgeDays === undefined ? undefined : now.getTime() - rules.maxAgeDays * DAY_MS;
    const oldEnough = (image: RetentionImage) => cutoff === undefined || createdAt(image) < cutoff;
    const ageText = (image: RetentionImage) =>
        rules.maxAgeDays === undefined
            ? []
            : [`${Math.floor((now.getTime() - createdAt(image)) / DAY_MS)} days old (maxAgeDays ${rules.maxAgeDays})`];
    const plan = (image: RetentionImage, group: string, reasons: string[]) => {
        if (action === "deregister" && image.deregistrationProtected) return skip(image, group, "deregistration protection is on");
        // Retired although shared: say so, and with whom (those accounts launch from their own copies).
        const copyOnly = rules.retireShared === true ? [] : copyOnlyShares(image, rules);
        const why = copyOnly.length > 0 ? [...reasons, `shared only with ${listed(copyOnly)}, which copy it (copyOnlyAccounts)`] : reasons;
        retire.push({
            imageId: image.imageId,
            region: image.region,
            name: image.name,
            creationDate: image.creationDate,
            group,
            reason: why.join("; "),
            ...(copyOnly.length > 0 ? { copyOnlyShares: copyOnly } : {}),
        });
    };
    const failedText = (image: RetentionImage) => `failed bake (state failed${image.stateReason ? `: ${image.stateReason}` : ""})`;

    for (const [group, g] of groups) {
        g.launchable.sort(newestFirst);
        const oldestKept = g.launchable.length >= keep ? g.launchable[keep - 1] : undefined;
        /** Older than the group's keepLatest newest available images. */
        const pastKept = (image: RetentionImage) => oldestKept !== undefined && newestFirst(oldestKept, image) < 0;
        const keptText = `older than the ${keep} newest available images of group ${group} (keepLatest ${keep})`;

        g.launchable.slice(keep).forEach((image, i) => {
            if (!oldEnough(image)) return;
            const reasons = [`${ordinal(keep + i + 1)} newest in group ${group} (keepLatest ${keep})`, ...ageText(image)];
            if (isDeprecated(image, now)) reasons.push(`deprecated since ${image.deprecationTime}`);
            plan(image, group, reasons);
        });
        for (const image of g.disabled) {
            if (pastKept(image) && oldEnough(image))
                plan(image, group, [`disabled (launches from it fail; it could be re-enabled) and ${keptText}`, ...ageText(image)]);
        }
        for (const image of g.failed) {
            if (action === "deregister")
                plan(image, group, [`${failedText(image)}: it can never launch, so it is retired whatever keepLatest and maxAgeDays`]);
            else
                skip(image, group, `${failedText(image)}: action ${action} does not apply to it; action "deregister" retires failed bakes`);
        }
        for (const { image, standing, reason } of g.excluded) {
            const wouldRetire =
                standing.kind === "failed"
                    ? action === "deregister"
                    : standing.kind !== "untouchable" && pastKept(image) && oldEnough(image);
            if (!wouldRetire) continue;
            skip(image, group, reason);
            if (awaitsUsageReport(image, inUse, rules, now)) skipped[skipped.length - 1].awaitsUsageReport = true;
        }
    }
    return {
        retire: retire.sort(byGroupThenAge),
        // creationDate only sorts the skipped images; it is not part of what is reported.
        skipped: skipped.sort(byGroupThenAge).map(({ imageId, region, group, reason, awaitsUsageReport: awaits }) => ({
            imageId,
            region,
            group,
            reason,
            ...(awaits ? { awaitsUsageReport: true } : {}),
        })),
    };
}

function ordinal(n: number): string {
    const s = n % 100 >= 11 && n % 100 <= 13 ? "th" : (({ 1: "st", 2: "nd", 3: "rd" } as Record<number, string>)[n % 10] ?? "th");
    return `${n}${s}`;
}
