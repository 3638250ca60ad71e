import * as pulumi from "@pulumi/pulumi";
import { AmiCopy, AmiCopyArgs } from "./ami-copy";

/** Args of {@link AmiReplicaSet}: those of AmiCopy, with `regions` instead of `region`. */
export interface AmiReplicaSetArgs extends Omit<AmiCopyArgs, "region" | "name" | "kmsKeyId"> {
    /** The regions to copy the AMI to; one AmiCopy each. Adding or removing a region touches only that region's copy. */
    readonly regions: string[];
    /**
     * KMS key per destination region (keys are regional), e.g.
     * `{ "us-west-2": "alias/ami-dr" }`. Requires `encrypted: true`.
     * @default the account's default EBS key in each region
     */
    readonly kmsKeyIds?: Record<string, pulumi.Input<string>>;
    /**
     * The copies' name.
     * @default each copy's own automatic name
     */
    readonly name?: pulumi.Input<string>;
}

/**
 * One AMI fanned out to many regions: an {@link AmiCopy} child per region,
 * made in parallel.
 *
 * @example
 * ```ts
 * const replicas = new AmiReplicaSet("web", {
 *     sourceAmiId: web.imageId,
 *     sourceAmiRegion: "us-east-1",
 *     regions: ["us-west-2", "eu-west-1"],
 * });
 * export const amis = replicas.imageIds; // { "us-west-2": "ami-…", "eu-west-1": "ami-…" }
 * ```
 */
export class AmiReplicaSet extends pulumi.ComponentResource {
    /** The copy's AMI id in each region. */
    readonly imageIds: pulumi.Output<Record<string, string>>;
    /** The copies, by region. */
    readonly copies: Record<string, AmiCopy>;

    constructor(name: string, args: AmiReplicaSetArgs, opts?: pulumi.ComponentResourceOptions) {
        super("golden-ami:index:AmiReplicaSet", name, {}, opts);
        const regions = [...new Set(args.regions)];
        if (regions.length === 0) throw new Error(`AmiReplicaSet ${name}: regions is empty; give at least one destination region`);
        const { regions: _regions, kmsKeyIds, ...copyArgs } = args;
        this.copies = {};
        for (const region of regions) {
            // The child's name carries its region, so adding or removing a region leaves the others alone.
            this.copies[region] = new AmiCopy(
                `${name}-${region}`,
                { ...copyArgs, region, kmsKeyId: kmsKeyIds?.[region] },
                { parent: this },
            );
        }
        this.imageIds = pulumi.all(Object.fromEntries(regions.map((r) => [r, this.copies[r].imageId]))) as pulumi.Output<
            Record<string, string>
        >;
        this.registerOutputs({ imageIds: this.imageIds });
    }
}
