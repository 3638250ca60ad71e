import * as pulumi from "@pulumi/pulumi";
import { createHash } from "node:crypto";
import { AmiReplicaSet } from "./ami-replica-set";
import { GoldenImageBake } from "./golden-image-bake";
import { defaultRegion } from "./region";
import { AmiRetentionPolicy } from "./retention-policy";
import { assumeRoleInput } from "./image-args";
import type { PublishArgs } from "./publish-args";
import { roleAccount } from "./rules/assume-role";
import { distributeFailures } from "./rules/distribute";
import { UNKNOWN } from "./rules/primitives";
import type { AssumeRoleArgs, BlockDeviceMapping, LaunchPermissions } from "./types";

/** Where a GoldenImage's base image comes from: exactly one of the three forms. */
export type GoldenImageBase =
    | {
          /**
           * An SSM parameter holding an AMI id, e.g. AWS's public
           * `/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64`.
           * When the parameter moves to a new AMI, the next preview shows a replacement.
           */
          ssmParameter: pulumi.Input<string>;
      }
    | {
          /** An AMI id, e.g. `ami-0123456789abcdef0`. */
          imageId: pulumi.Input<string>;
      }
    | {
          /** Owners of the image: account ids, `self`, `amazon`, `aws-marketplace`. @default ["self"] */
          owners?: pulumi.Input<pulumi.Input<string>[]>;
          /** The newest available image whose name matches (`*` and `?` wildcards), e.g. `al2023-ami-2023.*-x86_64`. */
          namePattern: pulumi.Input<string>;
      };

/** How the builder instance is launched. Every setting but the time limit goes into the build hash: changing one makes a new image. */
export interface GoldenImageBuildArgs {
    /** The builder's instance type, e.g. `t3.small`. Required. */
    readonly instanceType: pulumi.Input<string>;
    /**
     * The provisioning script, run as user data on first boot. It must end
     * by printing the success marker and powering the instance off
     * (`echo "golden-ami: success"` then `poweroff`): the builder is launched
     * with `InstanceInitiatedShutdownBehavior: stop`, so the image is baked
     * from a stopped, consistent instance, and only when its console output
     * has the marker. A script that fails before that (use `set -e`) leaves
     * the builder running, and the build fails at `timeoutMinutes` with the
     * tail of the console output; one that powers off without the marker
     * fails at once. At most 16 KB.
     * @default none: the builder is stopped by golden-ami once it runs and its
     * status checks pass (2 to 5 minutes on EC2), and the base image is baked as it booted
     */
    readonly userData?: pulumi.Input<string>;
    /**
     * More instance types to try, in order, when EC2 has no capacity for
     * `instanceType` (`InsufficientInstanceCapacity`) in any zone of the
     * subnet's VPC. Of the same architecture. Not part of the build hash.
     * @default none (only other zones are tried)
     */
    readonly instanceTypes?: pulumi.Input<pulumi.Input<string>[]>;
    /** Subnet of the builder. @default the default VPC's default subnet in a zone EC2 picks */
    readonly subnetId?: pulumi.Input<string>;
    /** Security groups of the builder (a set: order does not matter). @default the VPC's default group */
    readonly securityGroupIds?: pulumi.Input<pulumi.Input<string>[]>;
    /** Instance profile (name or ARN) the script runs with, e.g. to read from S3. @default none */
    readonly iamInstanceProfile?: pulumi.Input<string>;
    /** Root volume size in GiB of the builder, and so of the image. @default the base image's */
    readonly rootVolumeSize?: pulumi.Input<number>;
    /**
     * The builder's block devices beside (or instead of) the base image's, and so the image's: e.g.
     * `[{ deviceName: "/dev/sdf", ebs: { volumeSize: 20, volumeType: "gp3" } }]` adds a 20 GiB data volume,
     * `[{ deviceName: "/dev/sdb", noDevice: true }]` leaves one of the base image's out (EC2 Image Builder
     * recipes' `blockDeviceMappings`, Packer's `launch_block_device_mappings`). Each EBS volume becomes a
     * snapshot of the image and of every copy. Part of the build hash: a change builds a new image.
     * @default the base image's
     */
    readonly blockDeviceMappings?: pulumi.Input<pulumi.Input<BlockDeviceMapping>[]>;
    /**
     * How long the script may run before the build fails: more than 0 and at most 1440 minutes (fractions allowed). The
     * builder is terminated on failure too. Not part of the build hash.
     * @default 30
     */
    readonly timeoutMinutes?: pulumi.Input<number>;
}

/** The AmiFromInstance settings that fit a GoldenImage's image (its name is derived). */
export interface GoldenImageImageArgs {
    /**
     * The image name's start; `-` and the build hash's first 8 hex digits are
     * appended, so that the new image can exist beside the old one.
     * @default the resource name
     */
    readonly namePrefix?: pulumi.Input<string>;
    /** The image's description. Updated in place. */
    readonly description?: pulumi.Input<string>;
    /** Tags on the image, its snapshots and its copies (with golden-ami's `golden-ami:*` tags). Updated in place. */
    readonly tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** Tags on the image's snapshots. @default the same as `tags` */
    readonly snapshotTags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** Accounts, organizations and OUs that may launch the image and its copies. Updated in place. @default owner only */
    readonly launchPermissions?: pulumi.Input<LaunchPermissions>;
    /** When EC2 marks the image and its copies deprecated (RFC 3339). Updated in place. @default never */
    readonly deprecationTime?: pulumi.Input<string>;
    /** Refuse deregistration while on (a protected image blocks replacement and destroy). @default false */
    readonly deregistrationProtection?: pulumi.Input<boolean>;
    /** Delete the EBS snapshots with the image (and its copies). @default true */
    readonly deleteSnapshotsOnDestroy?: pulumi.Input<boolean>;
    /**
     * KMS key (id, alias or ARN) the builder's volumes are encrypted with, and
     * so the image's snapshots. Replaces the image when changed. The
     * AWS-managed key `alias/aws/ebs` cannot be used with launchPermissions
     * for other accounts (EC2 cannot share such images).
     * @default the base image's encryption (and the account's EBS encryption by default)
     */
    readonly kmsKeyId?: pulumi.Input<string>;
    /**
     * KMS key per copy region, e.g. `{ "us-west-2": "alias/ami-dr" }`: the
     * copy there is encrypted with it (CopyImage `KmsKeyId`; a key belongs to
     * one region). A copy region without an entry is encrypted with the
     * account's default key there when the image is encrypted.
     * @default none
     */
    readonly copyKmsKeyIds?: Record<string, pulumi.Input<string>>;
    /** How long CreateImage may take to become available. @default 40 */
    readonly createTimeoutMinutes?: pulumi.Input<number>;
    /** How long deregistering and deleting snapshots may take. @default 20 */
    readonly deleteTimeoutMinutes?: pulumi.Input<number>;
}

/**
 * The test step: an instance launched from the new image runs a test script
 * before the image is copied, published or old images retired. Every setting
 * but the time limit goes into the build hash.
 */
export interface GoldenImageTestArgs {
    /**
     * The test script, run as user data on an instance of the new image in
     * the build region. It passes when it prints `golden-ami: success` and
     * powers the instance off within `timeoutMinutes`; otherwise the new
     * image and its snapshots are deleted, nothing ships, and `up` fails
     * with the tail of the test's console output. At most 16 KB.
     */
    readonly userData: pulumi.Input<string>;
    /** @default build.instanceType */
    readonly instanceType?: pulumi.Input<string>;
    /** @default build.subnetId */
    readonly subnetId?: pulumi.Input<string>;
    /** @default build.securityGroupIds */
    readonly securityGroupIds?: pulumi.Input<pulumi.Input<string>[]>;
    /** @default build.iamInstanceProfile */
    readonly iamInstanceProfile?: pulumi.Input<string>;
    /** How long the test may run (1 to 1440). Not part of the build hash. @default 30 */
    readonly timeoutMinutes?: pulumi.Input<number>;
}

/**
 * One account a GoldenImage is distributed to: the image is shared with the
 * account (a launch permission on the image, added before the copies are
 * made and revoked when the target is removed), copied there by the
 * account's own role (an {@link AmiReplicaSet} with `assumeRole`: the copies
 * and their snapshots are that account's), tagged like the regional copies,
 * and replaced, retired and destroyed with the image.
 */
export interface GoldenImageDistributionArgs {
    /**
     * The role golden-ami assumes in the target account; its ARN names the
     * account (each account once). The role needs the AmiCopy actions of the
     * IAM policy in the README (CopyImage, DescribeImages, CreateTags, the
     * deletion and in-use checks; SSM when `publish` is set), and KMS use of
     * `kmsKeyId`. A plain `roleArn` (known when the program runs: the
     * account names the copies); `externalId` may be a secret.
     */
    readonly assumeRole: Omit<AssumeRoleArgs, "externalId"> & { readonly externalId?: pulumi.Input<string> };
    /** The target account's regions to copy the image to (at least one; the build region is allowed). */
    readonly regions: readonly string[];
    /**
     * The target account's KMS key the copies are encrypted with (CopyImage
     * `Encrypted` and `KmsKeyId`): an alias that exists in each of `regions`,
     * or a key ARN when there is one region. When the image itself is
     * encrypted (`image.kmsKeyId`), that key's policy must also let the
     * target account use it (kms:Decrypt, kms:CreateGrant, kms:DescribeKey,
     * kms:ReEncrypt*), or EC2 fails the copy.
     * @default the copies are encrypted only if the image is (with the target account's default EBS key)
     */
    readonly kmsKeyId?: pulumi.Input<string>;
    /** Who may launch the copies in the target account. Updated in place. @default the target account only */
    readonly launchPermissions?: pulumi.Input<LaunchPermissions>;
    /**
     * Publish each copy's id as an SSM parameter in the target account, in
     * the copy's region (see PublishArgs), e.g. `{ ssmParameter: "/golden/web/latest" }`.
     * @default not published
     */
    readonly publish?: pulumi.Input<PublishArgs>;
}

/** Args of {@link GoldenImage}. */
export interface GoldenImageArgs {
    /** The image to start from. A new AMI behind it (a moved parameter, a newer match) replaces the golden image. */
    readonly baseImage: pulumi.Input<GoldenImageBase>;
    /** The builder and the provisioning script. */
    readonly build: GoldenImageBuildArgs;
    /** Settings of the baked image. */
    readonly image?: GoldenImageImageArgs;
    /** Test the new image before it ships. @default no test */
    readonly test?: GoldenImageTestArgs;
    /**
     * The region the image is built in.
     * @default the stack's `aws:region`, else `AWS_REGION`, else `AWS_DEFAULT_REGION`
     */
    readonly region?: string;
    /** Regions to copy the image to (an {@link AmiReplicaSet}); each copy is replaced with the image. @default no copies */
    readonly regions?: string[];
    /**
     * Publish the image id for consumers, e.g. a launch template's
     * `imageId: "resolve:ssm:/golden/web/latest"`. The parameter (data type
     * `aws:ec2:image`, in the image's region) switches to a new image before
     * the old one is retired, and is deleted on destroy if it still holds
     * this pipeline's image. golden-ami creates the parameter, or takes over
     * one that holds one of this pipeline's images; any other existing
     * parameter is refused before anything is built, unless `overwrite: true`.
     * @default not published
     */
    readonly publish?: { readonly ssmParameter: pulumi.Input<string>; readonly overwrite?: pulumi.Input<boolean> };
    /**
     * Retire this pipeline's older images (tag `golden-ami:pipeline`) in the
     * image's region and every copy region, keeping the newest N besides the
     * current ones: an {@link AmiRetentionPolicy}. Images the stack replaced
     * are deleted at once unless they were in use; this retires those too once
     * nothing uses them. At least 1. The image's shares with the `distribute`
     * accounts do not keep an old image in this account (they launch from
     * their own copies: the policy's `copyOnlyAccounts`); shares you asked
     * for in `image.launchPermissions` do, unless `retireShared` says otherwise.
     * @default no retention policy
     */
    readonly keepLatest?: pulumi.Input<number>;
    /**
     * Whether `keepLatest` also retires old images shared with other
     * accounts, organizations, OUs or the public (`image.launchPermissions`,
     * or `distribute[].launchPermissions` for the copies there): the
     * AmiRetentionPolicy setting of the same name, passed to the policy in
     * this account and in each `distribute` account. `"when-unused"`
     * retires a shared image only when EC2's image usage report shows no
     * other account using it. Only with `keepLatest`.
     * @default false (shared images are kept)
     */
    readonly retireShared?: pulumi.Input<boolean | "when-unused">;
    /**
     * Build, copy, publish and retire in another account, with a role
     * assumed there (see AssumeRoleArgs): the bake, its copies and its
     * retention policy all make their calls in the role's account. Changing
     * the account replaces them.
     * @default the caller's credentials (the default credential chain)
     */
    readonly assumeRole?: pulumi.Input<AssumeRoleArgs>;
    /**
     * Other accounts that get their own copies of the image (see
     * GoldenImageDistributionArgs), e.g. `[{ assumeRole: { roleArn:
     * "arn:aws:iam::111122223333:role/golden-ami" }, regions: ["us-east-1"] }]`.
     * A plain list known when the program runs: each account and region is a
     * child resource. The image is shared with each account (added to
     * `image.launchPermissions`), and each account's copies are replaced with
     * the image, kept while something in that account still uses them (the
     * in-use guard runs there, with its role), retired by `keepLatest` there,
     * and deleted with their snapshots on destroy.
     * @default no other accounts
     */
    readonly distribute?: readonly GoldenImageDistributionArgs[];
}

/**
 * The image's launch permissions with the distribute accounts added: the
 * share each target account copies the image from. A target removed from
 * `distribute` is revoked with the next update (launch permissions not
 * listed are revoked).
 */
function sharedWith(perms: pulumi.Input<LaunchPermissions> | undefined, accounts: string[]): pulumi.Input<LaunchPermissions> | undefined {
    if (!accounts.length) return perms;
    return pulumi
        .output(perms)
        .apply((p) => ({ ...(p ?? {}), userIds: [...new Set([...(p?.userIds ?? []), ...accounts])] }) as LaunchPermissions);
}

/**
 * The distribute accounts whose shares of the image are only for copying
 * (the retention policy's `copyOnlyAccounts`): all of them but those the
 * user also shares the image with in `image.launchPermissions` (a share
 * asked for is a use).
 */
function copyOnly(perms: pulumi.Input<LaunchPermissions> | undefined, accounts: string[]): pulumi.Input<string[]> | undefined {
    if (!accounts.length) return undefined;
    return pulumi.output(perms).apply((p) => accounts.filter((a) => !(p?.userIds ?? []).includes(a)));
}

/**
 * What is known of a program's value when it runs: Outputs and promises as
 * not known yet (checked in the providers' own `check` then), the rest as is.
 */
function knownNow(v: unknown): unknown {
    if (pulumi.Output.isInstance(v) || v instanceof Promise) return UNKNOWN;
    if (Array.isArray(v)) return v.map(knownNow);
    if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, knownNow(x)]));
    return v;
}

/**
 * The `golden-ami:builder` tag value: the GoldenImage's URN (without parent
 * types), hashed when EC2's 256-character tag limit forbids it.
 */
export function builderOwnerTag(urn: string): string {
    return urn.length <= 256 ? urn : `sha256:${createHash("sha256").update(urn).digest("hex")}`;
}

export { GoldenImageBake };

/**
 * The whole golden-image job in the stack: base image in, provisioned AMI
 * out, copied, shared, published, and the old ones retired, all reviewed as
 * one `pulumi preview --diff`.
 *
 * `pulumi up` launches a builder instance from the base image with the
 * provisioning script as user data, waits until the script prints
 * `golden-ami: success` and powers it off (without a script: until it has
 * booted, then stops it), bakes the stopped instance with CreateImage, runs
 * the optional `test` on an instance of the new image (a failure deletes the
 * new image and ships nothing), and always terminates the
 * builder (on success, failure and timeout; one left by an interrupted run
 * is found by its `golden-ami:builder` tag and terminated by the next `up`,
 * `refresh` or `destroy`). The base image is resolved at preview: a new base
 * AMI, or a changed script or build setting, changes `buildHash` and the
 * preview shows a replacement naming what changed. The new image is made
 * first, the published parameter switches to it, then the old image, its
 * copies and snapshots are deleted, unless it is still in use. With
 * `distribute`, other accounts get copies of their own the same way, made
 * and deleted there with their roles.
 *
 * @example
 * ```ts
 * const web = new GoldenImage("web", {
 *     baseImage: { ssmParameter: "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64" },
 *     build: { instanceType: "t3.small", userData: fs.readFileSync("provision.sh", "utf8"), timeoutMinutes: 30 },
 *     image: { tags: { App: "web" } },
 *     regions: ["us-west-2"],
 *     publish: { ssmParameter: "/golden/web/latest" },
 *     keepLatest: 3,
 * });
 * export const amiId = web.imageId;
 * ```
 */
export class GoldenImage extends pulumi.ComponentResource {
    /** The image's AMI id in its own region. */
    readonly imageId: pulumi.Output<string>;
    /** The AMI id per region: the image's own region and each copy's. */
    readonly imageIds: pulumi.Output<Record<string, string>>;
    /** The AMI the base image stood for at the build. */
    readonly baseImageId: pulumi.Output<string>;
    /** Hash of what went into the bake; a change replaces the image. */
    readonly buildHash: pulumi.Output<string>;
    /** The image's name (`<namePrefix>-<8 hex digits of buildHash>`); secret when `image.namePrefix` is. */
    readonly imageName: pulumi.Output<string>;
    /** The region the image is built in. */
    readonly region: string;
    /** The `golden-ami:pipeline` tag value of this pipeline's images: `<project>/<stack>/<name>`. */
    readonly pipeline: string;
    /** The bake resource. */
    readonly bake: GoldenImageBake;
    /** The copies, when `regions` is given. */
    readonly replicas?: AmiReplicaSet;
    /** The retention policy, when `keepLatest` is given. */
    readonly retention?: AmiRetentionPolicy;
    /** The copies in each `distribute` account, by account id. */
    readonly distributions: Record<string, AmiReplicaSet>;
    /** The retention policy in each `distribute` account, by account id, when `keepLatest` is given. */
    readonly distributionRetention: Record<string, AmiRetentionPolicy>;
    /** The copies' AMI ids in each `distribute` account: `{ [account]: { [region]: amiId } }`. */
    readonly distributedImageIds: pulumi.Output<Record<string, Record<string, string>>>;

    constructor(name: string, args: GoldenImageArgs, opts?: pulumi.ComponentResourceOptions) {
        const failures = distributeFailures({
            distribute: knownNow(args.distribute),
            assumeRole: knownNow(args.assumeRole),
            imageKmsKeyId: knownNow(args.image?.kmsKeyId),
        });
        if (args.retireShared !== undefined && args.keepLatest === undefined)
            failures.push({
                property: "retireShared",
                reason: "retireShared: applies to the retention policies keepLatest makes; set keepLatest too, or drop retireShared",
            });
        // Refused before the component is registered: nothing reaches state.
        if (failures.length) throw new Error(`GoldenImage ${name}: ${failures.map((f) => f.reason).join("; ")}`);
        super("golden-ami:index:GoldenImage", name, {}, opts);
        const region = args.region ?? defaultRegion();
        if (!region) {
            throw new Error(`GoldenImage ${name}: no region is set; set the region arg, or run \`pulumi config set aws:region <region>\``);
        }
        this.region = region;
        this.pipeline = `${pulumi.getProject()}/${pulumi.getStack()}/${name}`;
        const image = args.image ?? {};
        const build = args.build;
        const targets = args.distribute ?? [];
        const targetAccounts = targets.map((t) => roleAccount(t.assumeRole)!);
        const inputs = {
            pipeline: this.pipeline,
            // A plain string, not this.urn: an input that depends on the component would wait for its own children.
            builderOwner: builderOwnerTag(`urn:pulumi:${pulumi.getStack()}::${pulumi.getProject()}::golden-ami:index:GoldenImage::${name}`),
            baseImage: args.baseImage,
            instanceType: build?.instanceType,
            userData: build?.userData,
            subnetId: build?.subnetId,
            securityGroupIds: build?.securityGroupIds,
            iamInstanceProfile: build?.iamInstanceProfile,
            rootVolumeSize: build?.rootVolumeSize,
            blockDeviceMappings: build?.blockDeviceMappings,
            buildTimeoutMinutes: build?.timeoutMinutes,
            instanceTypes: build?.instanceTypes,
            kmsKeyId: image.kmsKeyId,
            test: args.test
                ? {
                      userData: args.test.userData,
                      instanceType: args.test.instanceType,
                      subnetId: args.test.subnetId,
                      securityGroupIds: args.test.securityGroupIds,
                      iamInstanceProfile: args.test.iamInstanceProfile,
                  }
                : undefined,
            testTimeoutMinutes: args.test?.timeoutMinutes,
            namePrefix: image.namePrefix ?? name,
            publishParameter: args.publish?.ssmParameter,
            publishOverwrite: args.publish?.overwrite,
            description: image.description,
            tags: image.tags,
            // A copy of secret tags is secret: given as an input, the engine keeps its secret bit in state.
            snapshotTags: image.snapshotTags ?? image.tags,
            // The name is decided once (kept across renames) unless the program gives its prefix.
            autoNamed: image.namePrefix === undefined ? true : undefined,
            // A secret build or test script: the build hash is stretched so that the name does not give it away (see buildHash).
            secretBuild: pulumi
                .output(Promise.all([build?.userData, args.test?.userData].map((u) => pulumi.isSecret(pulumi.output(u ?? "")))))
                .apply((s) => s.includes(true) || undefined),
            deprecationTime: image.deprecationTime,
            deregistrationProtection: image.deregistrationProtection,
            launchPermissions: sharedWith(image.launchPermissions, targetAccounts),
            deleteSnapshotsOnDestroy: image.deleteSnapshotsOnDestroy,
            createTimeoutMinutes: image.createTimeoutMinutes,
            deleteTimeoutMinutes: image.deleteTimeoutMinutes,
            region,
            assumeRole: assumeRoleInput(args.assumeRole),
        };
        this.bake = new GoldenImageBake(name, inputs, { parent: this });
        this.imageId = this.bake.imageId;
        this.baseImageId = this.bake.baseImageId;
        this.buildHash = this.bake.buildHash;
        this.imageName = this.bake.name;

        // The copies carry the pipeline's tags, so retention finds them in their regions (and accounts).
        const pipelineTags = pulumi
            .all([image.tags ?? {}, this.bake.buildHash])
            .apply(([tags, hash]) => ({ ...tags, "golden-ami:pipeline": this.pipeline, "golden-ami:build-hash": hash }));
        const copyRegions = [...new Set(args.regions ?? [])];
        if (copyRegions.length) {
            this.replicas = new AmiReplicaSet(
                name,
                {
                    sourceAmiId: this.bake.imageId,
                    sourceAmiRegion: region,
                    regions: copyRegions,
                    tags: pipelineTags,
                    description: image.description,
                    launchPermissions: image.launchPermissions,
                    deprecationTime: image.deprecationTime,
                    deleteSnapshotsOnDestroy: image.deleteSnapshotsOnDestroy,
                    deleteTimeoutMinutes: image.deleteTimeoutMinutes,
                    ...(image.copyKmsKeyIds ? { encrypted: true, kmsKeyIds: image.copyKmsKeyIds } : {}),
                    assumeRole: args.assumeRole,
                },
                { parent: this },
            );
        }
        const perRegion: Record<string, pulumi.Output<string>> = { [region]: this.bake.imageId };
        for (const r of copyRegions) if (r !== region) perRegion[r] = this.replicas!.copies[r].imageId;
        this.imageIds = pulumi.all(perRegion) as pulumi.Output<Record<string, string>>;

        if (args.keepLatest !== undefined) {
            this.retention = new AmiRetentionPolicy(
                `${name}-retention`,
                {
                    regions: [...new Set([region, ...copyRegions])],
                    selector: { tags: { "golden-ami:pipeline": this.pipeline } },
                    keepLatest: args.keepLatest,
                    // A list of outputs, not an output of a list: at preview the new ids are unknown one by one.
                    exclude: { imageIds: Object.values(perRegion) },
                    retireShared: args.retireShared,
                    // The distribute accounts copy the image and launch from their copies: their shares are no use here.
                    copyOnlyAccounts: copyOnly(image.launchPermissions, targetAccounts),
                    assumeRole: args.assumeRole,
                },
                { parent: this, dependsOn: [this.bake, ...(this.replicas ? [this.replicas] : [])] },
            );
        }

        // Each account: the same composition as the regional copies, made by the account's own role from the
        // image shared with it (the bake's launch permission, above). Their deletes run the in-use guard there.
        this.distributions = {};
        this.distributionRetention = {};
        for (const target of targets) {
            const account = roleAccount(target.assumeRole)!;
            const regions = [...target.regions];
            const assumeRole = pulumi.output(target.assumeRole) as pulumi.Output<AssumeRoleArgs>;
            const copies = new AmiReplicaSet(
                `${name}-${account}`,
                {
                    sourceAmiId: this.bake.imageId,
                    sourceAmiRegion: region,
                    regions,
                    tags: pipelineTags,
                    description: image.description,
                    launchPermissions: target.launchPermissions,
                    deprecationTime: image.deprecationTime,
                    deleteSnapshotsOnDestroy: image.deleteSnapshotsOnDestroy,
                    deleteTimeoutMinutes: image.deleteTimeoutMinutes,
                    ...(target.kmsKeyId !== undefined
                        ? { encrypted: true, kmsKeyIds: Object.fromEntries(regions.map((r) => [r, target.kmsKeyId!])) }
                        : {}),
                    publish: target.publish,
                    assumeRole,
                },
                { parent: this },
            );
            this.distributions[account] = copies;
            if (args.keepLatest !== undefined) {
                this.distributionRetention[account] = new AmiRetentionPolicy(
                    `${name}-${account}-retention`,
                    {
                        regions,
                        selector: { tags: { "golden-ami:pipeline": this.pipeline } },
                        keepLatest: args.keepLatest,
                        exclude: { imageIds: regions.map((r) => copies.copies[r].imageId) },
                        retireShared: args.retireShared,
                        assumeRole,
                    },
                    { parent: this, dependsOn: [copies] },
                );
            }
        }
        this.distributedImageIds = pulumi.all(
            Object.fromEntries(Object.entries(this.distributions).map(([account, set]) => [account, set.imageIds])),
        ) as pulumi.Output<Record<string, Record<string, string>>>;

        this.registerOutputs({
            imageId: this.imageId,
            distributedImageIds: this.distributedImageIds,
            imageIds: this.imageIds,
            baseImageId: this.baseImageId,
            buildHash: this.buildHash,
            imageName: this.imageName,
        });
    }
}
