import * as pulumi from "@pulumi/pulumi";
import { COPY_IMAGE_TIMEOUT_MINUTES } from "./time-limits";
import { imageResourceProps, ImageResourceArgs } from "./image-args";
import type { ImageKind } from "./image-kind";
import provider from "./providers/ami-copy";
import { ImageResource } from "./image-resource";
import { booleanRule, containsUnknown, imageIdRule, kmsKeyRule, regionRule } from "./rules/primitives";
import type { ImageInputs } from "./types";

/** Args of {@link AmiCopy}. */
export interface AmiCopyArgs extends ImageResourceArgs {
    /** The AMI to copy, e.g. `web.imageId`. Changing it replaces the copy. */
    readonly sourceAmiId: pulumi.Input<string>;
    /** The region the source AMI lives in. Changing it replaces the copy. */
    readonly sourceAmiRegion: pulumi.Input<string>;
    /**
     * Encrypt the copy's snapshots (with `kmsKeyId`, or the account's default
     * EBS key). Changing it replaces the copy.
     * @default false (the copy is encrypted only if the source is)
     */
    readonly encrypted?: pulumi.Input<boolean>;
    /**
     * The KMS key for the copy, in the destination region: key id, alias or
     * ARN. Requires `encrypted: true`. Changing it replaces the copy. A key
     * that turns out unusable fails the copy with EC2's reason, and the failed
     * copy is removed.
     * @default the account's default EBS key in the destination region
     */
    readonly kmsKeyId?: pulumi.Input<string>;
    /**
     * Copy the source AMI's tags to the copy; `tags` are applied on top.
     * Read when the copy is made: changing it later changes nothing.
     * @default false
     */
    readonly copyImageTags?: pulumi.Input<boolean>;
}

/** AmiCopy's inputs once `check` has filled in defaults. */
export interface AmiCopyInputs extends ImageInputs {
    sourceAmiId: string;
    sourceAmiRegion: string;
    encrypted?: boolean;
    kmsKeyId?: string;
    copyImageTags?: boolean;
}

/** What golden-ami knows about AmiCopy (see ImageKind). The identity also makes the copy's idempotency token. */
export const descriptor: ImageKind<AmiCopyInputs> = {
    type: "AmiCopy",
    module: "ami-copy",
    identity: [
        { key: "sourceAmiId" },
        { key: "sourceAmiRegion" },
        { key: "region", default: "" },
        { key: "name" },
        { key: "encrypted" },
        { key: "kmsKeyId", default: "" },
    ],
    name: "input",
    defaults: { encrypted: false, copyImageTags: false },
    rules: [
        { property: "sourceAmiId", rule: imageIdRule, required: "is required: the id of the AMI to copy" },
        { property: "sourceAmiRegion", rule: regionRule, required: "is required: the region the AMI to copy lives in" },
        { property: "encrypted", rule: booleanRule },
        { property: "copyImageTags", rule: booleanRule },
        { property: "kmsKeyId", rule: kmsKeyRule },
        {
            property: "kmsKeyId",
            unlessFailed: true,
            relation: ({ news }) =>
                news.kmsKeyId !== undefined &&
                !containsUnknown(news.kmsKeyId) &&
                news.encrypted !== true &&
                !containsUnknown(news.encrypted)
                    ? "is set but encrypted is not true; set encrypted: true to encrypt the copy with this key, or drop kmsKeyId"
                    : undefined,
        },
    ],
    createTimeoutMinutes: COPY_IMAGE_TIMEOUT_MINUTES,
    ownsSnapshots: true,
    example: { name: "web-dr-1", region: "us-west-2", sourceAmiId: "ami-0123456789abcdef0", sourceAmiRegion: "us-east-1" },
    outputInputs: ["sourceAmiId", "sourceAmiRegion"],
    needsEc2Check: ({ region, sourceAmiRegion, sourceAmiId, name }, olds) => {
        if (!sourceAmiId || !sourceAmiRegion || containsUnknown([sourceAmiId, sourceAmiRegion])) return false;
        // A new source (a create or a replacement) must exist: read at preview.
        if (olds?.sourceAmiId !== sourceAmiId || olds?.sourceAmiRegion !== sourceAmiRegion) return true;
        // EC2 refuses a copy into the source's region under the source's name only after the call: asked when the
        // name or region is new. A copy made already is never asked about its source again (another account's
        // source may no longer be shared with this one, and the copy is the account's own all the same).
        if (olds && olds.name === name && olds.region === region) return false;
        return !!region && region === sourceAmiRegion && !!name && !containsUnknown([region, name]);
    },
};

/**
 * A copy of an AMI in another region (or the same one), for disaster recovery
 * and global fleets.
 *
 * `pulumi up` calls CopyImage in the destination region with an idempotency
 * token derived from the resource and its inputs (a retried or re-run create
 * never makes a second copy) and waits until the copy is available, printing
 * progress for long copies. `pulumi destroy` deregisters the copy and deletes
 * its snapshots in its own region.
 *
 * @example
 * ```ts
 * const dr = new AmiCopy("web-dr", {
 *     sourceAmiId: web.imageId,
 *     sourceAmiRegion: "us-east-1",
 *     region: "us-west-2",
 *     encrypted: true,
 *     kmsKeyId: "alias/ami-dr",
 * });
 * ```
 */
export class AmiCopy extends ImageResource {
    /** The AMI that was copied. */
    declare readonly sourceAmiId: pulumi.Output<string>;
    /** The region of the AMI that was copied. */
    declare readonly sourceAmiRegion: pulumi.Output<string>;

    constructor(name: string, args: AmiCopyArgs, opts?: pulumi.CustomResourceOptions) {
        const own = {
            sourceAmiId: args.sourceAmiId,
            sourceAmiRegion: args.sourceAmiRegion,
            encrypted: args.encrypted,
            kmsKeyId: args.kmsKeyId,
            copyImageTags: args.copyImageTags,
        };
        super(provider, name, imageResourceProps(descriptor, name, args, own, opts), opts, "golden-ami", descriptor.type);
    }
}
