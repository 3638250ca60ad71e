import * as pulumi from "@pulumi/pulumi";
import { AmiCopy, AmiCopyArgs } from "./ami-copy";
import { REPLICA_SET_RULES } from "./rules/replica-set";
import { runRules } from "./rules/runner";

/** Args of {@link AmiReplicaSet}: those of AmiCopy, with `regions` instead of `region`. */
export interface AmiReplicaSetArgs extends Omit<AmiCopyArgs, "region" | "name" | "kmsKeyId"> {
    /**
     * The regions to copy the AMI to; one AmiCopy each. Adding or removing a
     * region touches only that region's copy.
     *
     * A plain list, not an `Input`, on purpose: each region is a child
     * resource whose name carries the region, and Pulumi must know the
     * children when the program runs so that preview shows every copy. A list
     * known only later (an Output) would mean creating resources inside
     * `apply`, which preview cannot show and Pulumi advises against. Regions
     * from config or a stack reference can be read with `config.requireObject`
     * (known at once); for an Output, create one {@link AmiCopy} per region
     * yourself where the list is known.
     */
    readonly regions: readonly string[];
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
        const failures = runRules(REPLICA_SET_RULES, {
            news: { regions: args.regions, kmsKeyIds: args.kmsKeyIds },
            olds: undefined,
            now: new Date(),
        });
        // Refused before the component is registered: nothing reaches state.
        if (failures.length) throw new Error(`AmiReplicaSet ${name}: ${failures.map((f) => f.reason).join("; ")}`);
        super("golden-ami:index:AmiReplicaSet", name, {}, opts);
        const regions = [...args.regions];
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
