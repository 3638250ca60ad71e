import * as pulumi from "@pulumi/pulumi";
import { autoImageName } from "./auto-name";
import { commonImageInputs, givenInputs, IMAGE_OUTPUTS, ImageResourceArgs } from "./image-args";
import provider from "./providers/ami-copy";
import { ImageResource } from "./image-resource";
import { defaultRegion } from "./region";

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
     * @default false
     */
    readonly copyImageTags?: pulumi.Input<boolean>;
}

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
        const region = args.region ?? defaultRegion();
        const inputs = {
            sourceAmiId: args.sourceAmiId,
            sourceAmiRegion: args.sourceAmiRegion,
            encrypted: args.encrypted,
            kmsKeyId: args.kmsKeyId,
            copyImageTags: args.copyImageTags,
            ...commonImageInputs(args, region),
        };
        const imageName =
            args.name ??
            autoImageName(name, [
                inputs.sourceAmiId,
                inputs.sourceAmiRegion,
                region ?? "",
                inputs.encrypted ?? false,
                inputs.kmsKeyId ?? "",
            ]);
        const props = givenInputs({ ...inputs, name: imageName }, ["name", "region", "tags", "sourceAmiId", "sourceAmiRegion"]);
        super(provider, name, { ...props, ...IMAGE_OUTPUTS }, opts, "golden-ami", "AmiCopy");
    }
}
