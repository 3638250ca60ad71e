import { optionInputs, secretCopyInput } from "./resource-options";
import * as pulumi from "@pulumi/pulumi";
import provider from "./providers/retention-policy";
import { defaultRegion } from "./region";
import type { RetentionAction, SkippedImage } from "./retention-plan";
import { assumeRoleInput } from "./image-args";
import type { AssumeRoleArgs } from "./types";

/** Args of {@link AmiRetentionPolicy}. */
export interface AmiRetentionPolicyArgs {
    /**
     * The regions to retire images in, each planned and acted on separately.
     * @default the stack's `aws:region` (else `AWS_REGION`)
     */
    readonly regions?: pulumi.Input<pulumi.Input<string>[]>;
    /**
     * Which images the policy looks at: `namePattern` (`*` and `?` wildcards)
     * and/or `tags` (all must match; value `"*"` = any value). One of them is
     * required, so that no policy selects every AMI by accident; `namePattern:
     * "*"` selects all. `owners` can only be `["self"]`: a policy never touches
     * another account's images.
     */
    readonly selector: pulumi.Input<{
        owners?: pulumi.Input<pulumi.Input<string>[]>;
        namePattern?: pulumi.Input<string>;
        tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    }>;
    /**
     * Tag keys whose values split images into groups, each kept and retired on
     * its own, e.g. `["App", "Env"]`.
     * @default one group per region
     */
    readonly groupBy?: pulumi.Input<pulumi.Input<string>[]>;
    /** Per group and region, the newest images that are never retired (at least 1). */
    readonly keepLatest: pulumi.Input<number>;
    /**
     * When set, only images older than this many days are retired (the
     * newest `keepLatest` are kept whatever their age).
     * @default no age limit
     */
    readonly maxAgeDays?: pulumi.Input<number>;
    /**
     * What retiring means: `"deregister"` (and delete the snapshots), `"deprecate"` (hidden from listings, still launches by
     * id) or `"disable"` (launches fail, and DisableImage removes every launch permission: EnableImage does not restore them).
     * @default "deregister"
     */
    readonly action?: pulumi.Input<RetentionAction>;
    /**
     * Delete the EBS snapshots of deregistered images that are the image's
     * own: for an image golden-ami made (it carries `golden-ami:owner`), the
     * snapshots its CreateImage/CopyImage made (marked with the same owner);
     * an AmiFromSnapshot's source snapshots are the user's and stay (unless
     * that resource says `deleteSnapshotsOnDestroy: true`). For an image
     * made outside golden-ami (no mark: your own AMIs, as "deregister old
     * AMIs" scripts retire them), every snapshot. A snapshot another image
     * uses is always kept. Kept snapshots are reported in
     * `lastRun.snapshotsKept` with why. Only with action `"deregister"`.
     * @default true with "deregister"
     */
    readonly deleteSnapshots?: pulumi.Input<boolean>;
    /**
     * Also retire images shared with other accounts, organizations, OUs or
     * the public. Off by default: this account cannot see what other accounts
     * launch from a shared image, so retiring it may break them. Held-back
     * shared images are listed in the preview's `heldBack`.
     *
     * `"when-unused"`: at apply, one EC2 image usage report per shared
     * candidate (CreateImageUsageReport, at most
     * USAGE_REPORT_CONCURRENCY at once), waited for up to
     * USAGE_REPORT_TIMEOUT_MINUTES with progress in the log; the image is
     * retired only when its report shows no instance and no launch template
     * (its 10,000 most recent versions) in another account. A report that
     * fails, expires, cannot be read or is not ready in time keeps the image
     * (listed in `lastRun.skipped` with why). Preview creates no report (a
     * report is a resource EC2 keeps for 30 days): it lists shared
     * candidates in `heldBack` as kept unless the report at apply shows no
     * use. Another account can still launch the image between its report and
     * its retirement.
     * @default false
     */
    readonly retireShared?: pulumi.Input<boolean | "when-unused">;
    /**
     * Accounts (12-digit ids) an image is shared with only so that they can
     * copy it, and that launch from copies of their own: a share with one of
     * them does not keep an image, whatever `retireShared` says, so an old
     * image shared only with them is retired like an unshared one (preview
     * lists it, saying so). A GoldenImage fills this with its `distribute`
     * targets. Shares with other accounts, organizations, OUs or the public
     * still count; an instance in one of these accounts launched from the
     * shared image itself (not from its copy) is not seen, unless a usage
     * report is asked for another share (`retireShared: "when-unused"`).
     * @default none
     */
    readonly copyOnlyAccounts?: pulumi.Input<pulumi.Input<string>[]>;
    /**
     * Which launch-template versions keep their image in use: `"in-use"`
     * counts every template's `$Default` and `$Latest` and the versions an
     * Auto Scaling group, EC2 Fleet or Spot Fleet names (one rule, on real
     * EC2 and on an emulator alike); `"all"` counts every version of every
     * template, for those who launch old versions by number (a template with
     * a new version per build then keeps every old image).
     * @default "in-use"
     */
    readonly launchTemplateVersions?: pulumi.Input<"in-use" | "all">;
    /** Images never retired. In-use images are excluded unless `inUse: false`. */
    readonly exclude?: pulumi.Input<{
        /** These images, e.g. `[web.imageId]` for images this stack manages. */
        imageIds?: pulumi.Input<pulumi.Input<string>[]>;
        /** Images with any of these tags (value `"*"` = any value), e.g. `{ Retain: "true" }`. */
        tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
        /**
         * Keep images something uses: a non-terminated instance, a launch template version, a launch configuration,
         * an SSM parameter, an Image Builder recipe. Turning it off lets in-use images be retired, which is rarely
         * wanted (their instances keep running, but nothing can launch from them again).
         * @default true
         */
        inUse?: pulumi.Input<boolean>;
        /** Images launched within this many days (EC2's lastLaunchedTime). */
        launchedWithinDays?: pulumi.Input<number>;
    }>;
    /**
     * Plan and show `pending`, but retire nothing.
     * @default false
     */
    readonly dryRun?: pulumi.Input<boolean>;
    /**
     * Plan and retire in another account, with a role assumed there (see
     * AssumeRoleArgs): every call of the policy is made in the role's
     * account, and only images visible there are candidates (`owners:
     * ["self"]` means that account's). Changing the account replaces the
     * policy; preview names the account.
     * @default the caller's credentials (the default credential chain)
     */
    readonly assumeRole?: pulumi.Input<AssumeRoleArgs>;
}

/** Counts of what one run did (all of them, not only the sampled entries). */
export interface RetentionRunCounts {
    retired: number;
    snapshotsDeleted: number;
    snapshotsKept: number;
    skipped: number;
    failed: number;
}

/**
 * What the last `pulumi up` of a policy did: counts (in total and per
 * region) and a bounded sample of each list, so that state stays small
 * however many images a run retires. Failures are kept up to
 * `RETENTION_REPORT_LIMITS.failed`, the rest counted; each run also
 * prints every skip and failure as it happens.
 */
export interface RetentionRunReport {
    /** When it ran (ISO 8601). */
    at: string;
    dryRun: boolean;
    /** Every outcome counted. */
    counts: RetentionRunCounts;
    /** The same counts per region. */
    regions: (RetentionRunCounts & { region: string })[];
    /**
     * True when the plan acted on was computed at apply and differs from the
     * one `check` showed (the inputs were not known at preview, or the images
     * changed in between). Every image acted on was planned at apply and
     * checked again right before acting.
     */
    planChanged?: boolean;
    /** The first retired images (see `counts.retired` for all). */
    retired: { imageId: string; region: string }[];
    /** The first snapshots deleted, each once (two retired images may share one). */
    snapshotsDeleted: string[];
    /** The first snapshots of retired images kept: another image still uses them, or they are not the image's own (see `deleteSnapshots`). */
    snapshotsKept: { snapshotId: string; region: string; imageId: string; reason: string }[];
    /**
     * The first images left alone, with why: those the plan held back (in use,
     * shared, excluded, a state retention leaves alone: `pending.heldBack`)
     * and planned ones found gone, now in use or protected when checked right
     * before acting. `counts.skipped` counts all of them.
     */
    skipped: SkippedImage[];
    /** Images that failed, with the error, up to the limit; retried by the next run. */
    failed: { imageId: string; region: string; error: string }[];
}

export { RETENTION_REPORT_LIMITS } from "./rules/retention-policy-rules";

export { formatPendingEntry, parsePendingEntry, PendingEntry, pendingEntries } from "./retention-pending-entry";

/** One group of the plan: how many it retires, their dates, and its images, oldest first (all of them while the whole list fits the preview budget). */
export interface PendingGroup {
    region: string;
    group: string;
    count: number;
    oldest: string;
    newest: string;
    /**
     * The group's retirements, oldest first, one line each:
     * `<imageId> <created YYYY-MM-DD> <name>: <why>`, e.g.
     * `ami-0a1b2c3d4e5f67890 2026-08-22 web-2026-08-22: 33rd newest; 105 days old`
     * (`why` leaves out the group and the policy's settings; read a line
     * with `parsePendingEntry`). All of them while the whole plan's list
     * fits the preview budget (`RETENTION_REPORT_LIMITS.previewBytes`),
     * else the first `RETENTION_REPORT_LIMITS.perGroup`.
     */
    images: string[];
}

/**
 * What the next `pulumi up` retires, bounded in size so that `pulumi preview
 * --diff` fits a pull-request comment at any scale: totals, counts per region,
 * every planned image (one line each) while the list prints within the
 * preview budget, else the first groups with their first entries; held-back
 * images by reason, and a digest of the full plan. The full plan is on demand
 * (see the README: `GOLDEN_AMI_RETENTION_PLAN_DIR`).
 */
export interface RetentionPendingSummary {
    /**
     * `"planned"`: computed by `check`. `"at-apply"`: an input was not known
     * yet at preview, so the plan is computed at apply. `"done"`: after a run,
     * nothing is pending until the next preview plans again.
     */
    status: "planned" | "at-apply" | "done";
    /** The one line the preview prints, e.g. `will retire 12 images (us-east-1: 10 in 2 groups); 3 held back (in use)`. */
    summary: string;
    /** Images the next run retires. */
    total: number;
    /** sha256 of the sorted `region/imageId` list: any change of which images are planned changes it, so preview shows a change. */
    digest: string;
    /** Counts per region. */
    regions: { region: string; count: number; groups: number }[];
    /** The first groups (by region and group name), oldest first within each. */
    groups: PendingGroup[];
    /** Groups beyond `groups`, and how many images they retire. */
    moreGroups?: { groups: number; images: number };
    /**
     * Only when not every planned image is listed (the list would not fit
     * the preview budget): how to see them all.
     */
    fullList?: string;
    /** Images the rules alone would retire but an exclusion or a state holds back. */
    heldBack: { total: number; byReason: { reason: string; count: number }[]; first: SkippedImage[] };
    /** With status `"at-apply"`: the inputs that were not known yet. */
    unknownInputs?: string[];
    /**
     * How fresh the sharing facts of the plan are (with `retireShared`
     * false): launch permissions read by this check, and taken from earlier
     * checks' records (at most a day old), with the oldest record's time.
     * Apply reads each image's sharing again right before retiring it.
     */
    sharing?: { readNow: number; fromRecords: number; oldestRecord?: string };
}

/**
 * Retires old AMIs as part of the stack: every `pulumi up` retires what has
 * expired. `pulumi preview` prints one line per policy (how many images it
 * will retire, per region, and how many are held back), and `pulumi preview
 * --diff` shows `pending`: per group, a count and its images with why, one
 * line each (all of them while they print within 60 KB: a few hundred; else
 * the first of each group), so that it fits a pull-request comment at any
 * scale. Inputs not
 * known yet at preview (e.g. `exclude.imageIds` from a resource still to be
 * created) never drop an exclusion: the plan is then computed at apply.
 *
 * An image is retired when it matches the selector, is not excluded (listed,
 * tagged, in use by an instance or a launch template, launched recently), is
 * not among the newest `keepLatest` non-excluded images of its group in its
 * region, and, when `maxAgeDays` is set, is older than that.
 * Deregistration-protected images are skipped and reported. Deregistering
 * deletes the image's snapshots too, unless another image uses them.
 *
 * Destroying the policy retires and deletes nothing.
 *
 * @example
 * ```ts
 * // "deregister AMIs older than 30 days", snapshots included, keeping the 3 newest per app
 * new AmiRetentionPolicy("web-images", {
 *     selector: { namePattern: "web-*" },
 *     groupBy: ["App"],
 *     keepLatest: 3,
 *     maxAgeDays: 30,
 *     exclude: { imageIds: [web.imageId], tags: { Retain: "true" } },
 * });
 * ```
 */
export class AmiRetentionPolicy extends pulumi.dynamic.Resource {
    /**
     * What the next `pulumi up` retires, per group with counts and its
     * images one line each (all while they fit the preview budget, else the
     * first), and a digest of the full plan. Shown by `pulumi preview
     * --diff`; after `up`, status `"done"`. The inputs kept in state by an
     * `up` hold the counts and digest but not the lines (unless `dryRun`),
     * so the next `preview --diff` prints only its own list.
     */
    declare readonly pending: pulumi.Output<RetentionPendingSummary>;
    /** What the last `pulumi up` did. */
    declare readonly lastRun: pulumi.Output<RetentionRunReport>;

    constructor(name: string, args: AmiRetentionPolicyArgs, opts?: pulumi.CustomResourceOptions) {
        const region = defaultRegion();
        const inputs = {
            regions: args.regions ?? (region ? [region] : undefined),
            selector: args.selector,
            groupBy: args.groupBy,
            keepLatest: args.keepLatest,
            maxAgeDays: args.maxAgeDays,
            action: args.action,
            deleteSnapshots: args.deleteSnapshots,
            exclude: args.exclude,
            dryRun: args.dryRun,
            retireShared: args.retireShared,
            copyOnlyAccounts: args.copyOnlyAccounts,
            launchTemplateVersions: args.launchTemplateVersions,
            assumeRole: assumeRoleInput(args.assumeRole),
            // Names the policy in the line preview prints, and in the plan file.
            policyName: name,
            // Read and dropped by check: at up, state keeps pending without its lines (see RetentionPolicyInputs).
            previewing: pulumi.runtime.isDryRun(),
        };
        // A policy has nothing in EC2 to import; its timeouts are its own limits.
        if (opts?.import !== undefined)
            optionInputs("AmiRetentionPolicy", name, opts, "a policy owns nothing in EC2: declare it without import");
        // What the plan and the run report list (images, group values) is made from what selects them: secret in
        // state where a selector, group or exclusion is (see secretCopyInput); check and the run write the real values.
        const sources = [args.selector, args.groupBy, args.exclude];
        const outputs = { pending: secretCopyInput(sources, "at apply"), lastRun: secretCopyInput(sources, "at apply") };
        super(provider, name, { ...inputs, ...outputs }, opts, "golden-ami", "AmiRetentionPolicy");
    }
}
