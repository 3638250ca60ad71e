import * as pulumi from "@pulumi/pulumi";
import { CREATE_IMAGE_TIMEOUT_MINUTES } from "./time-limits";
import { imageResourceProps, ImageResourceArgs } from "./image-args";
import { identityValues, ImageKind } from "./image-kind";
import provider from "./providers/ami-from-instance";
import { ImageResource } from "./image-resource";
import { blockDeviceMappingsRule, booleanRule, containsUnknown, instanceIdRule } from "./rules/primitives";
import type { BlockDeviceMapping, ImageInputs } from "./types";

/** Args of {@link AmiFromInstance}. */
export interface AmiFromInstanceArgs extends ImageResourceArgs {
    /**
     * The EC2 instance to make the image from, e.g. `i-0123456789abcdef0`.
     * Changing it replaces the image; `check` first makes sure the new
     * instance exists and is not terminated, so a same-name replacement never
     * deletes the old image for an instance that cannot be imaged.
     */
    readonly sourceInstanceId: pulumi.Input<string>;
    /**
     * Snapshot the volumes without stopping the instance first (`--no-reboot`).
     * Faster and without downtime, but files being written may be inconsistent.
     * Changing it replaces the image.
     * @default false (EC2 reboots the instance for a consistent image)
     */
    readonly snapshotWithoutReboot?: pulumi.Input<boolean>;
    /**
     * Block devices of the image, to change or leave out volumes of the
     * instance, e.g. `[{ deviceName: "/dev/sdf", noDevice: true }]` leaves a data
     * volume out. For a device the instance already has, CreateImage allows
     * only `ebs.deleteOnTermination` (or `noDevice`); `check` refuses size,
     * type, IOPS, throughput or encryption changes there, before anything is
     * replaced. New devices may set anything. Changing it replaces the image.
     * @default the instance's own block devices
     */
    readonly blockDeviceMappings?: pulumi.Input<pulumi.Input<BlockDeviceMapping>[]>;
}

/** AmiFromInstance's inputs once `check` has filled in defaults. */
export interface AmiFromInstanceInputs extends ImageInputs {
    sourceInstanceId: string;
    snapshotWithoutReboot?: boolean;
    blockDeviceMappings?: BlockDeviceMapping[];
}

/** What golden-ami knows about AmiFromInstance (see ImageKind). */
export const descriptor: ImageKind<AmiFromInstanceInputs> = {
    type: "AmiFromInstance",
    module: "ami-from-instance",
    identity: [
        { key: "sourceInstanceId" },
        { key: "name" },
        { key: "snapshotWithoutReboot" },
        { key: "blockDeviceMappings", default: [] },
        { key: "region", default: "" },
    ],
    name: "input",
    defaults: { snapshotWithoutReboot: false },
    rules: [
        {
            property: "sourceInstanceId",
            rule: instanceIdRule,
            required: "is required: the id of the EC2 instance to make the image from",
        },
        { property: "snapshotWithoutReboot", rule: booleanRule },
        { property: "blockDeviceMappings", rule: blockDeviceMappingsRule },
    ],
    createTimeoutMinutes: CREATE_IMAGE_TIMEOUT_MINUTES,
    ownsSnapshots: true,
    example: { name: "web-1", region: "us-east-1", sourceInstanceId: "i-0123456789abcdef0" },
    outputInputs: ["sourceInstanceId"],
    // The preflight (checkWithEc2): on a create, the source instance must exist
    // (and the block devices fit it); a changed source instance, block devices
    // or reboot choice (a replacement) is checked before the old image goes.
    // An unchanged resource asks EC2 nothing at preview.
    needsEc2Check: (news, olds) => {
        const { sourceInstanceId, region, blockDeviceMappings } = news;
        if (!sourceInstanceId || !region || containsUnknown([sourceInstanceId, region, blockDeviceMappings ?? []])) return false;
        if (!olds?.sourceInstanceId) return true;
        // Any replacement on the instance's side (the identity but the name and
        // region): the instance may have been terminated since the last bake (a
        // builder instance often is).
        const instanceSide = (i: Partial<AmiFromInstanceInputs>) => JSON.stringify(identityValues(descriptor, { ...i, region: "" }));
        return instanceSide(olds) !== instanceSide(news);
    },
};

/**
 * An AMI baked from an EC2 instance.
 *
 * `pulumi up` calls CreateImage and waits until the image is available;
 * `pulumi destroy` deregisters it **and deletes its EBS snapshots**, so nothing
 * is left to pay for. Tags, description, deprecation, deregistration protection
 * and launch permissions update in place; the source, name, reboot choice,
 * block devices and region replace the image.
 *
 * @example
 * ```ts
 * const web = new AmiFromInstance("web", {
 *     sourceInstanceId: instance.id,
 *     snapshotWithoutReboot: true,
 *     tags: { App: "web", Version: "1.4.2" },
 * });
 * export const amiId = web.imageId;
 * ```
 */
export class AmiFromInstance extends ImageResource {
    /** The instance the image was made from. */
    declare readonly sourceInstanceId: pulumi.Output<string>;

    constructor(name: string, args: AmiFromInstanceArgs, opts?: pulumi.CustomResourceOptions) {
        const own = {
            sourceInstanceId: args.sourceInstanceId,
            snapshotWithoutReboot: args.snapshotWithoutReboot,
            blockDeviceMappings: args.blockDeviceMappings,
        };
        super(provider, name, imageResourceProps(descriptor, name, args, own, opts), opts, "golden-ami", descriptor.type);
    }
}
