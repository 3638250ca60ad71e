import * as pulumi from "@pulumi/pulumi";
import provider from "./providers/retention-policy";
import { defaultRegion } from "./region";
import type { PlannedRetirement, RetentionAction, SkippedImage } from "./retention-plan";

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
     * Delete the EBS snapshots of deregistered images (a snapshot another
     * image uses is always kept). Only with action `"deregister"`.
     * @default true with "deregister"
     */
    readonly deleteSnapshots?: pulumi.Input<boolean>;
    /** Images never retired. In-use images are excluded unless `inUse: false`. */
    readonly exclude?: pulumi.Input<{
        /** These images, e.g. `[web.imageId]` for images this stack manages. */
        imageIds?: pulumi.Input<pulumi.Input<string>[]>;
        /** Images with any of these tags (value `"*"` = any value), e.g. `{ Retain: "true" }`. */
        tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
        /** Images a non-terminated instance or a launch template's `$Default`/`$Latest` version uses. @default true */
        inUse?: pulumi.Input<boolean>;
        /** Images launched within this many days (EC2's lastLaunchedTime). */
        launchedWithinDays?: pulumi.Input<number>;
    }>;
    /**
     * Plan and show `pending`, but retire nothing.
     * @default false
     */
    readonly dryRun?: pulumi.Input<boolean>;
}

/** What the last `pulumi up` of a policy did. */
export interface RetentionRunReport {
    /** When it ran (ISO 8601). */
    at: string;
    dryRun: boolean;
    retired: { imageId: string; region: string }[];
    /** Snapshots deleted, each once (two retired images may share one). */
    snapshotsDeleted: string[];
    /** Snapshots of retired images kept because another image still uses them (not deleted by a later retirement of the run). */
    snapshotsKept: { snapshotId: string; region: string; imageId: string; reason: string }[];
    /** Planned images left alone when checked right before acting (gone, now in use, protected), with why. */
    skipped: SkippedImage[];
    /** Images that failed, with the error; retried by the next run. */
    failed: { imageId: string; region: string; error: string }[];
}

/**
 * Retires old AMIs as part of the stack: every `pulumi up` retires what has
 * expired, and `pulumi preview --diff` lists exactly which images the next run
 * will retire and why, as a change of `pending`.
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
    /** What the next `pulumi up` retires, each with its group and why. Shown by `pulumi preview --diff`. */
    declare readonly pending: pulumi.Output<PlannedRetirement[]>;
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
        };
        super(provider, name, { ...inputs, pending: undefined, lastRun: undefined }, opts, "golden-ami", "AmiRetentionPolicy");
    }
}
