// Emulated EC2 image rules that need look-ups at moto: CreateImage's
// block-device rules for the instance's existing volumes, and DeregisterImage
// with DeleteAssociatedSnapshots. Used by the proxy (ec2-proxy.ts).
import { ec2Error, ec2Success, Reply, setItems, snapshotIdsOf, splitImages, tagText, xmlEscape } from "./ec2-xml";

/** The proxy's own call to moto (in the client's region and account). */
export type MotoCall = (action: string, params: Record<string, string>) => Promise<Reply>;

/**
 * CreateImage's rules for block devices of the instance's existing volumes:
 * "You can't change the volume size using the VolumeSize parameter", "You
 * can't modify the encryption status of existing volumes or snapshots",
 * "The only option that can be changed for existing mappings or snapshots
 * is DeleteOnTermination." (CreateImage, BlockDeviceMappings, Amazon EC2 API
 * Reference, https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateImage.html).
 * NoDevice (omit the device) is allowed. A value equal to the volume's is
 * no change and passes. The docs do not say which error code EC2 answers
 * here; it answers InvalidBlockDeviceMapping for mappings it cannot honour
 * (e.g. "Volume of size 20GB is smaller than snapshot ..."), so that code.
 */
export async function checkCreateImageBlockDevices(params: URLSearchParams, moto: MotoCall): Promise<Reply | undefined> {
    const byIndex = new Map<string, Map<string, string>>();
    for (const [key, value] of params) {
        const m = /^BlockDeviceMapping\.(\d+)\.(.+)$/.exec(key);
        if (!m) continue;
        const fields = byIndex.get(m[1]) ?? new Map<string, string>();
        fields.set(m[2], value);
        byIndex.set(m[1], fields);
    }
    if (byIndex.size === 0) return undefined;
    const instanceId = params.get("InstanceId") ?? "";
    const described = await moto("DescribeInstances", { "InstanceId.1": instanceId });
    if (described.status !== 200) return undefined; // moto answers the unknown instance itself
    const devices = new Map<string, string>(); // device name → volume id
    for (const item of setItems(described.body, "blockDeviceMapping")) {
        const device = tagText(item, "deviceName");
        const volume = tagText(item, "volumeId");
        if (device && volume) devices.set(device, volume);
    }
    const volumes = new Map<string, string>();
    if (devices.size > 0) {
        const query: Record<string, string> = {};
        [...devices.values()].forEach((v, i) => (query[`VolumeId.${i + 1}`] = v));
        const vols = await moto("DescribeVolumes", query);
        for (const item of setItems(vols.body, "volumeSet")) volumes.set(tagText(item, "volumeId") ?? "", item);
    }
    for (const fields of byIndex.values()) {
        const device = fields.get("DeviceName") ?? "";
        const volumeId = devices.get(device);
        if (!volumeId || fields.has("NoDevice")) continue;
        const volume = volumes.get(volumeId) ?? "";
        const current: Record<string, string | undefined> = {
            "Ebs.VolumeSize": tagText(volume, "size"),
            "Ebs.VolumeType": tagText(volume, "volumeType"),
            "Ebs.Encrypted": tagText(volume, "encrypted"),
            "Ebs.KmsKeyId": tagText(volume, "kmsKeyId"),
            "Ebs.SnapshotId": tagText(volume, "snapshotId") || undefined,
            "Ebs.Iops": tagText(volume, "iops"),
            "Ebs.Throughput": tagText(volume, "throughput"),
        };
        for (const [field, value] of fields) {
            if (field === "DeviceName" || field === "Ebs.DeleteOnTermination") continue;
            if (field in current && current[field] === value) continue;
            return ec2Error(
                400,
                "InvalidBlockDeviceMapping",
                `The block device mapping for ${device} refers to the existing volume ${volumeId} of instance ${instanceId}: ` +
                    `CreateImage can change only DeleteOnTermination of an existing volume (or omit it with NoDevice), not ` +
                    `${field.replace(/^Ebs\./, "")} (${current[field] ?? "unset"} → ${value}).`,
            );
        }
    }
    return undefined;
}

/**
 * DeregisterImage with DeleteAssociatedSnapshots: "When deregistering an
 * EBS-backed AMI, you can optionally delete its associated snapshots at
 * the same time. However, if a snapshot is associated with multiple AMIs,
 * it won't be deleted even if specified for deletion, although the AMI will
 * still be deregistered." (DeregisterImage, Amazon EC2 API Reference,
 * https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DeregisterImage.html).
 * The answer lists each snapshot with its DeleteSnapshotReturnCode
 * (`success`, `skipped` for one other AMIs use, ...) in
 * deleteSnapshotResultSet, as the API model's DeregisterImageResult says.
 */
export async function deregisterWithSnapshots(imageId: string, snapshots: string[], moto: MotoCall): Promise<Reply> {
    const all = await moto("DescribeImages", {});
    const others = all.status === 200 ? (splitImages(all.body)?.items ?? []) : [];
    const results: string[] = [];
    for (const { snapshotId, usedElsewhere } of sharedSnapshots(imageId, snapshots, others)) {
        let code = "skipped";
        if (!usedElsewhere) {
            const deleted = await moto("DeleteSnapshot", { SnapshotId: snapshotId });
            code = deleted.status === 200 ? "success" : deleted.status >= 500 ? "internal-error" : "client-error";
        }
        results.push(`<item><snapshotId>${xmlEscape(snapshotId)}</snapshotId><returnCode>${code}</returnCode></item>`);
    }
    return ec2Success("DeregisterImage", `<return>true</return><deleteSnapshotResultSet>${results.join("")}</deleteSnapshotResultSet>`);
}

/**
 * For DeregisterImage with DeleteAssociatedSnapshots: which of the image's
 * snapshots another live image (a DescribeImages item) also uses, and so stay.
 */
export function sharedSnapshots(imageId: string, snapshots: string[], images: string[]): { snapshotId: string; usedElsewhere: boolean }[] {
    const live = images.filter((i) => tagText(i, "imageId") !== imageId && tagText(i, "imageState") !== "deregistered");
    return snapshots.map((snapshotId) => ({ snapshotId, usedElsewhere: live.some((i) => snapshotIdsOf(i).includes(snapshotId)) }));
}
