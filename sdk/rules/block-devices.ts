import type { BlockDeviceMapping } from "../types";
import { show } from "./primitives";

/** One volume attached to the source instance, as DescribeInstances and DescribeVolumes report it. */
export interface InstanceVolume {
    deviceName: string;
    volumeId: string;
    size?: number;
    volumeType?: string;
    encrypted?: boolean;
    iops?: number;
    throughput?: number;
}

/** The `ebs` settings CreateImage refuses for an existing volume, with the volume's own value (the same value is no change). */
const FIXED: readonly { key: "volumeSize" | "volumeType" | "encrypted" | "iops" | "throughput"; of: (v: InstanceVolume) => unknown }[] = [
    { key: "volumeSize", of: (v) => v.size },
    { key: "volumeType", of: (v) => v.volumeType },
    { key: "encrypted", of: (v) => v.encrypted },
    { key: "iops", of: (v) => v.iops },
    { key: "throughput", of: (v) => v.throughput },
];

/**
 * CreateImage's rules for the block devices of the instance's existing
 * volumes: "You can't change the volume size using the VolumeSize
 * parameter", "You can't modify the encryption status of existing volumes or
 * snapshots", "The only option that can be changed for existing mappings or
 * snapshots is DeleteOnTermination" (CreateImage, BlockDeviceMappings,
 * Amazon EC2 API Reference,
 * https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateImage.html).
 * `noDevice` (leave the volume out) is allowed; a device the instance does
 * not have is a new volume and may set anything. A value equal to the
 * volume's own is no change. Returns the reason of the first mapping EC2
 * would refuse, naming the index, the device and the fix.
 */
export function existingVolumeProblem(
    mappings: readonly BlockDeviceMapping[] | undefined,
    volumes: readonly InstanceVolume[],
    instanceId: string,
): string | undefined {
    const byDevice = new Map(volumes.map((v) => [v.deviceName, v]));
    for (const [i, m] of (mappings ?? []).entries()) {
        const volume = byDevice.get(m.deviceName);
        if (!volume || m.noDevice) continue;
        if (m.virtualName) {
            return (
                `[${i}] (${m.deviceName}) maps an instance store volume onto the existing EBS volume ${volume.volumeId} of ${instanceId}; ` +
                `CreateImage can change only deleteOnTermination of an existing volume: remove virtualName, or use another device name`
            );
        }
        for (const f of FIXED) {
            const wanted = m.ebs?.[f.key];
            if (wanted === undefined || wanted === f.of(volume)) continue;
            return (
                `[${i}].ebs.${f.key} (${m.deviceName}) would change the existing volume ${volume.volumeId} of ${instanceId} ` +
                `(${show(f.of(volume) ?? null)} → ${show(wanted)}); CreateImage can change only deleteOnTermination of an existing volume ` +
                `(or leave it out with noDevice: true): remove ebs.${f.key}, change the instance's volume first, or map a new device`
            );
        }
    }
    return undefined;
}
