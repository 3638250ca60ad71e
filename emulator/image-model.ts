// The emulator's image table: what EC2 stores about an AMI, and how EC2
// writes it out (DescribeImages items, DescribeImageAttribute values). Pure:
// no I/O, no clock; emulator/image-service.ts does the actions.
//
// Field names and shapes follow the EC2 API model (botocore's
// `ec2/2016-11-15/service-2.json`: the `Image`, `BlockDeviceMapping`,
// `EbsBlockDevice`, `ImageAttribute` and `LaunchPermission` shapes, whose
// `locationName`s are the XML element names the SDKs read).
import { xmlEscape } from "./ec2-xml";

/** The account moto answers as when a request carries no STS-issued key (moto's DEFAULT_ACCOUNT_ID). */
export const DEFAULT_ACCOUNT = "123456789012";

export type ImageState = "pending" | "available" | "failed" | "disabled" | "deregistered";

export interface EbsMapping {
    snapshotId?: string;
    volumeSize?: number;
    volumeType?: string;
    iops?: number;
    throughput?: number;
    deleteOnTermination: boolean;
    encrypted?: boolean;
    kmsKeyId?: string;
}

export interface DeviceMapping {
    deviceName: string;
    /** Instance store (`ephemeral0`...). */
    virtualName?: string;
    ebs?: EbsMapping;
}

export interface LaunchPermissions {
    userIds: Set<string>;
    /** Only `all` (public). */
    groups: Set<string>;
    organizationArns: Set<string>;
    organizationalUnitArns: Set<string>;
}

export interface Image {
    imageId: string;
    region: string;
    ownerId: string;
    ownerAlias?: string;
    name: string;
    description?: string;
    state: ImageState;
    stateReason?: { code: string; message: string };
    /** The state the image returns to when a disabled image is enabled again. */
    creationDate: string;
    architecture: string;
    rootDeviceName: string;
    rootDeviceType: "ebs" | "instance-store";
    virtualizationType: string;
    hypervisor: string;
    bootMode?: string;
    enaSupport?: boolean;
    sriovNetSupport?: string;
    imdsSupport?: string;
    tpmSupport?: string;
    uefiData?: string;
    kernelId?: string;
    ramdiskId?: string;
    platform?: string;
    platformDetails: string;
    usageOperation: string;
    imageLocation: string;
    mappings: DeviceMapping[];
    tags: Map<string, string>;
    launchPermissions: LaunchPermissions;
    deprecationTime?: string;
    /** `enabled-with-cooldown`, `enabled-without-cooldown`, `disabled`. */
    protection?: string;
    /** With-cooldown protection disabled: DeregisterImage is refused until then (epoch ms). */
    cooldownUntil?: number;
    sourceInstanceId?: string;
    sourceImageId?: string;
    sourceImageRegion?: string;
    lastLaunchedTime?: string;
    /** DescribeImages answers that include it while still `pending`. */
    pendingLeft: number;
    /** Ends `failed` with this reason once its pending answers are used up. */
    failWith?: { code: string; message: string };
    /** After deregistration: DescribeImages answers that still include it as `deregistered`. */
    visibleReadsLeft?: number;
    /** The snapshots its deregistration leaves "in use" for a few DeleteSnapshot calls. */
}

export function emptyPermissions(): LaunchPermissions {
    return { userIds: new Set(), groups: new Set(), organizationArns: new Set(), organizationalUnitArns: new Set() };
}

export function isPublic(image: Image): boolean {
    return image.launchPermissions.groups.has("all");
}

export function snapshotIdsOfImage(image: Image): string[] {
    return image.mappings.flatMap((m) => (m.ebs?.snapshotId ? [m.ebs.snapshotId] : []));
}

const el = (tag: string, value: string | number | boolean | undefined): string =>
    value === undefined ? "" : `<${tag}>${xmlEscape(String(value))}</${tag}>`;

export function mappingXml(m: DeviceMapping): string {
    let inner = el("deviceName", m.deviceName) + el("virtualName", m.virtualName);
    if (m.ebs) {
        const e = m.ebs;
        inner +=
            "<ebs>" +
            el("deleteOnTermination", e.deleteOnTermination) +
            el("iops", e.iops) +
            el("snapshotId", e.snapshotId) +
            el("volumeSize", e.volumeSize) +
            el("volumeType", e.volumeType) +
            el("kmsKeyId", e.kmsKeyId) +
            el("throughput", e.throughput) +
            el("encrypted", e.encrypted ?? false) +
            "</ebs>";
    }
    return `<item>${inner}</item>`;
}

export function tagSetXml(tags: Map<string, string>): string {
    if (tags.size === 0) return "<tagSet/>";
    return `<tagSet>${[...tags].map(([k, v]) => `<item>${el("key", k)}${el("value", v)}</item>`).join("")}</tagSet>`;
}

/** The image as a DescribeImages `<item>`, with `state` as the caller is to see it. */
export function imageXml(image: Image, state: ImageState = image.state): string {
    const reason = state === "failed" && image.stateReason ? image.stateReason : undefined;
    return (
        "<item>" +
        el("imageId", image.imageId) +
        el("imageLocation", image.imageLocation) +
        el("imageState", state) +
        el("imageOwnerId", image.ownerId) +
        el("imageOwnerAlias", image.ownerAlias) +
        el("creationDate", image.creationDate) +
        el("isPublic", isPublic(image)) +
        el("architecture", image.architecture) +
        el("imageType", "machine") +
        el("kernelId", image.kernelId) +
        el("ramdiskId", image.ramdiskId) +
        el("platform", image.platform) +
        el("platformDetails", image.platformDetails) +
        el("usageOperation", image.usageOperation) +
        "<productCodes/>" +
        (reason ? `<stateReason>${el("code", reason.code)}${el("message", reason.message)}</stateReason>` : "") +
        el("name", image.name) +
        el("description", image.description) +
        el("rootDeviceType", image.rootDeviceType) +
        el("rootDeviceName", image.rootDeviceName) +
        (image.mappings.length
            ? `<blockDeviceMapping>${image.mappings.map(mappingXml).join("")}</blockDeviceMapping>`
            : "<blockDeviceMapping/>") +
        el("virtualizationType", image.virtualizationType) +
        tagSetXml(image.tags) +
        el("hypervisor", image.hypervisor) +
        el("enaSupport", image.enaSupport) +
        el("sriovNetSupport", image.sriovNetSupport) +
        el("bootMode", image.bootMode) +
        el("tpmSupport", image.tpmSupport) +
        el("imdsSupport", image.imdsSupport) +
        el("deprecationTime", image.deprecationTime) +
        el("deregistrationProtection", image.protection) +
        el("lastLaunchedTime", image.lastLaunchedTime) +
        el("sourceInstanceId", image.sourceInstanceId) +
        el("sourceImageId", image.sourceImageId) +
        el("sourceImageRegion", image.sourceImageRegion) +
        "</item>"
    );
}

export function launchPermissionXml(p: LaunchPermissions): string {
    const items = [
        ...[...p.groups].map((g) => `<item>${el("group", g)}</item>`),
        ...[...p.userIds].map((u) => `<item>${el("userId", u)}</item>`),
        ...[...p.organizationArns].map((a) => `<item>${el("organizationArn", a)}</item>`),
        ...[...p.organizationalUnitArns].map((a) => `<item>${el("organizationalUnitArn", a)}</item>`),
    ];
    return items.length ? `<launchPermission>${items.join("")}</launchPermission>` : "<launchPermission/>";
}

/**
 * "The only valid characters are letters, numbers, spaces, and ( ) [ ] . /
 * - ' @ _ ... Constraints: 3-128 alphanumeric characters, parentheses (()),
 * square brackets ([]), spaces ( ), periods (.), slashes (/), dashes (-),
 * single quotes ('), at-signs (@), or underscores(_)" (CreateImage, Name,
 * Amazon EC2 API Reference, API_CreateImage.html; the same for CopyImage and
 * RegisterImage). Undefined when valid, else why not.
 */
export function imageNameProblem(name: string | null): string | undefined {
    if (name === null || name === "") return "is required";
    if (name.length < 3 || name.length > 128) return `must be 3 to 128 characters long (it has ${name.length})`;
    const bad = [...name].find((c) => !/[A-Za-z0-9()[\] ./\-'@_]/.test(c));
    if (bad !== undefined) return `contains '${bad}'; allowed are letters, digits, spaces and ( ) [ ] . / - ' @ _`;
    return undefined;
}

/** Description: "Constraints: Up to 255 characters" (CreateImage, Description). */
export const MAX_DESCRIPTION = 255;

/** "Tag keys ... maximum of 128 Unicode characters"; "values ... maximum of 256"; the `aws:` prefix is reserved ("Tag restrictions", Tag your Amazon EC2 resources, Using_Tags.html). */
export function tagProblem(key: string, value: string): string | undefined {
    // Counted in Unicode characters, not UTF-16 units.
    const keyLength = [...key].length;
    if (keyLength === 0 || keyLength > 128) return `Tag key '${key.slice(0, 40)}' must be 1 to 128 characters long`;
    if ([...value].length > 256) return `Tag value for key '${key}' exceeds the maximum of 256 characters`;
    if (key.toLowerCase().startsWith("aws:")) return `Tag keys starting with 'aws:' are reserved for internal use`;
    return undefined;
}

/** `arn:aws:organizations::<account>:organization/o-<id>` (LaunchPermission, OrganizationArn). */
export const ORGANIZATION_ARN = /^arn:aws[a-z-]*:organizations::\d{12}:organization\/o-[a-z0-9]{10,32}$/;
/** `arn:aws:organizations::<account>:ou/o-<id>/ou-<root>-<id>` (LaunchPermission, OrganizationalUnitArn). */
export const OU_ARN = /^arn:aws[a-z-]*:organizations::\d{12}:ou\/o-[a-z0-9]{10,32}\/ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$/;

/** `ami-` and 8 or 17 lowercase hex digits: anything else is InvalidAMIID.Malformed. */
export const IMAGE_ID = /^ami-([0-9a-f]{8}|[0-9a-f]{17})$/;

/** Wildcards of DescribeImages filter values: `*` any run, `?` one character. */
export function wildcard(pattern: string): RegExp {
    const escaped = pattern
        .replace(/[.+^${}()|[\]\\]/g, "\\$&")
        .replace(/\*/g, ".*")
        .replace(/\?/g, ".");
    return new RegExp(`^${escaped}$`, "s");
}
