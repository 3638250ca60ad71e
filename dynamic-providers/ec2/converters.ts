import type { BlockDeviceMapping as Ec2BlockDeviceMapping, Filter, Image, LaunchPermission, Tag } from "@aws-sdk/client-ec2";
import type { RetentionImage, RetentionSelector } from "../../sdk/retention-plan";
import { partitionOf } from "../../sdk/rules/regions";
import type { BlockDeviceMapping, ImageOutputs, LaunchPermissions } from "../../sdk/types";
import { withoutMarks } from "../../sdk/ownership";

/**
 * Pure shape converters between EC2's types and golden-ami's, in one place.
 * Types only from the AWS SDK (`import type`): check and diff use some of
 * these, and preview must never load the SDK.
 */

/**
 * golden-ami's mark of a finished create (dynamic-providers/kept-image.ts):
 * bookkeeping that no resource manages, so tagsToRecord leaves it out (never
 * an input, an output, drift, or a tag to remove).
 */
export const CREATE_FINISHED_TAG = "golden-ami:create-finished";

export function tagsToRecord(tags: Tag[] | undefined): Record<string, string> {
    const out: Record<string, string> = {};
    for (const t of tags ?? []) if (t.Key !== undefined && t.Key !== CREATE_FINISHED_TAG) out[t.Key] = t.Value ?? "";
    return out;
}

export function recordToTags(tags: Record<string, string> | undefined): Tag[] {
    return Object.entries(tags ?? {}).map(([Key, Value]) => ({ Key, Value }));
}

/** The snapshot ids an image's EBS block devices were made from. */
export function imageSnapshotIds(image: Image): string[] {
    const ids = (image.BlockDeviceMappings ?? []).map((m) => m.Ebs?.SnapshotId).filter((id): id is string => !!id);
    return [...new Set(ids)];
}

/** The snapshot behind the image's root device, if it is EBS-backed. */
export function rootSnapshotId(image: Image): string | undefined {
    const root = (image.BlockDeviceMappings ?? []).find((m) => m.DeviceName === image.RootDeviceName);
    return root?.Ebs?.SnapshotId ?? imageSnapshotIds(image)[0];
}

/** EC2 reports `enabled`, `enabled-with-cooldown`, `disabled` or `disabled-until <time>`. */
export function isDeregistrationProtected(image: Image): boolean {
    return (image.DeregistrationProtection ?? "").startsWith("enabled");
}

/** EC2 keeps deprecation times to the minute. */
export function sameDeprecationTime(a: string | undefined, b: string | undefined): boolean {
    if (!a || !b) return !a && !b;
    return Math.round(Date.parse(a) / 60000) === Math.round(Date.parse(b) / 60000);
}

/** One spelling for "no permissions": empty lists and `public: false` are left out. */
export function normalizeLaunchPermissions(p: LaunchPermissions | undefined): LaunchPermissions {
    const out: LaunchPermissions = {};
    const sorted = (xs: string[] | undefined) => [...new Set(xs ?? [])].sort();
    if (p?.userIds?.length) out.userIds = sorted(p.userIds);
    if (p?.organizationArns?.length) out.organizationArns = sorted(p.organizationArns);
    if (p?.organizationalUnitArns?.length) out.organizationalUnitArns = sorted(p.organizationalUnitArns);
    if (p?.public) out.public = true;
    return out;
}

/** EC2's launch permission list, in the shape of the `launchPermissions` arg. */
export function launchPermissionsFromEc2(perms: LaunchPermission[]): LaunchPermissions {
    const sorted = (xs: (string | undefined)[]) => xs.filter((x): x is string => !!x).sort();
    return normalizeLaunchPermissions({
        userIds: sorted(perms.map((p) => p.UserId)),
        organizationArns: sorted(perms.map((p) => p.OrganizationArn)),
        organizationalUnitArns: sorted(perms.map((p) => p.OrganizationalUnitArn)),
        public: perms.some((p) => p.Group === "all"),
    });
}

/** The `launchPermissions` shape as EC2's list. */
export function launchPermissionsToEc2(p: LaunchPermissions): LaunchPermission[] {
    return [
        ...(p.userIds ?? []).map((UserId) => ({ UserId })),
        ...(p.organizationArns ?? []).map((OrganizationArn) => ({ OrganizationArn })),
        ...(p.organizationalUnitArns ?? []).map((OrganizationalUnitArn) => ({ OrganizationalUnitArn })),
        ...(p.public ? [{ Group: "all" as const }] : []),
    ];
}

/** What `a` grants that `b` does not. */
export function launchPermissionsMinus(a: LaunchPermissions, b: LaunchPermissions): LaunchPermissions {
    const keep = (xs: string[] | undefined, ys: string[] | undefined) => (xs ?? []).filter((x) => !(ys ?? []).includes(x));
    return {
        userIds: keep(a.userIds, b.userIds),
        organizationArns: keep(a.organizationArns, b.organizationArns),
        organizationalUnitArns: keep(a.organizationalUnitArns, b.organizationalUnitArns),
        public: !!a.public && !b.public,
    };
}

/** The `blockDeviceMappings` arg as CreateImage takes it. */
export function toEc2BlockDeviceMappings(mappings: BlockDeviceMapping[] | undefined): Ec2BlockDeviceMapping[] | undefined {
    if (!mappings?.length) return undefined;
    return mappings.map((m) => ({
        DeviceName: m.deviceName,
        ...(m.noDevice ? { NoDevice: "" } : {}),
        ...(m.virtualName ? { VirtualName: m.virtualName } : {}),
        ...(m.ebs
            ? {
                  Ebs: {
                      VolumeSize: m.ebs.volumeSize,
                      VolumeType: m.ebs.volumeType as NonNullable<Ec2BlockDeviceMapping["Ebs"]>["VolumeType"],
                      Iops: m.ebs.iops,
                      Throughput: m.ebs.throughput,
                      DeleteOnTermination: m.ebs.deleteOnTermination,
                      Encrypted: m.ebs.encrypted,
                  },
              }
            : {}),
    }));
}

/** The outputs every image resource reports, from EC2's description of the image; the ARN's partition is the region's (aws, aws-cn, aws-us-gov, aws-iso, …). */
export function imageOutputs(image: Image, region: string): ImageOutputs {
    const imageId = image.ImageId ?? "";
    return {
        imageId,
        arn: `arn:${partitionOf(region)}:ec2:${region}::image/${imageId}`,
        name: image.Name ?? "",
        region,
        ownerId: image.OwnerId ?? "",
        state: image.State ?? "",
        creationDate: image.CreationDate ?? "",
        rootSnapshotId: rootSnapshotId(image),
        snapshotIds: imageSnapshotIds(image),
        // golden-ami's marks are no program's tags: never drift, never an output.
        tags: withoutMarks(tagsToRecord(image.Tags)),
    };
}

/** An image as the retention planner sees it. */
export function toRetentionImage(image: Image, region: string): RetentionImage {
    return {
        imageId: image.ImageId ?? "",
        region,
        name: image.Name ?? "",
        creationDate: image.CreationDate ?? "",
        ownerId: image.OwnerId ?? "",
        tags: tagsToRecord(image.Tags),
        snapshotIds: imageSnapshotIds(image),
        deregistrationProtected: isDeregistrationProtected(image),
        lastLaunchedTime: image.LastLaunchedTime,
        deprecationTime: image.DeprecationTime,
        state: image.State,
    };
}

/** Server-side DescribeImages filters for a selector (the planner matches again, exactly). */
export function selectorFilters(selector: RetentionSelector): Filter[] {
    const filters: Filter[] = [];
    if (selector.namePattern && selector.namePattern !== "*") filters.push({ Name: "name", Values: [selector.namePattern] });
    for (const [k, v] of Object.entries(selector.tags ?? {})) {
        filters.push(v === "*" ? { Name: "tag-key", Values: [k] } : { Name: `tag:${k}`, Values: [v] });
    }
    return filters;
}
