import * as pulumi from "@pulumi/pulumi";
import { autoImageName } from "./auto-name";
import { commonImageInputs, givenInputs, IMAGE_OUTPUTS, ImageResourceArgs } from "./image-args";
import provider from "./providers/ami-from-instance";
import { ImageResource } from "./image-resource";
import { defaultRegion } from "./region";
import type { BlockDeviceMapping } from "./types";

/** Args of {@link AmiFromInstance}. */
export interface AmiFromInstanceArgs extends ImageResourceArgs {
    /** The EC2 instance to make the image from, e.g. `i-0123456789abcdef0`. Changing it replaces the image. */
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
     * volume out. Changing it replaces the image.
     * @default the instance's own block devices
     */
    readonly blockDeviceMappings?: pulumi.Input<pulumi.Input<BlockDeviceMapping>[]>;
}

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
        const region = args.region ?? defaultRegion();
        const inputs = {
            sourceInstanceId: args.sourceInstanceId,
            snapshotWithoutReboot: args.snapshotWithoutReboot,
            blockDeviceMappings: args.blockDeviceMappings,
            ...commonImageInputs(args, region),
        };
        const imageName =
            args.name ??
            autoImageName(name, [
                inputs.sourceInstanceId,
                inputs.snapshotWithoutReboot ?? false,
                inputs.blockDeviceMappings ?? [],
                region ?? "",
            ]);
        const props = givenInputs({ ...inputs, name: imageName }, ["name", "region", "tags", "sourceInstanceId"]);
        super(provider, name, { ...props, ...IMAGE_OUTPUTS }, opts, "golden-ami", "AmiFromInstance");
    }
}
