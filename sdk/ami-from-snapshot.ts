import * as pulumi from "@pulumi/pulumi";
import { imageResourceProps, ImageResourceArgs } from "./image-args";
import type { ImageKind } from "./image-kind";
import provider from "./providers/ami-from-snapshot";
import { ImageResource } from "./image-resource";
import { blockDeviceMappingsRule, booleanRule, containsUnknown, Rule, show } from "./rules/primitives";
import { CREATE_IMAGE_TIMEOUT_MINUTES } from "./time-limits";
import type { BlockDeviceMapping, EbsBlockDevice, ImageInputs } from "./types";

/** One block device of an image registered from snapshots: `ebs.snapshotId` names the snapshot behind the volume. */
export interface SnapshotBlockDeviceMapping extends BlockDeviceMapping {
    ebs?: EbsBlockDevice & {
        /** The EBS snapshot the volume starts from, e.g. `snap-0123456789abcdef0`. Never deleted or retagged by default. */
        snapshotId?: string;
    };
}

/** Args of {@link AmiFromSnapshot}. */
export interface AmiFromSnapshotArgs extends ImageResourceArgs {
    /**
     * The image's block devices, the root device among them with its
     * `ebs.snapshotId`, e.g.
     * `[{ deviceName: "/dev/xvda", ebs: { snapshotId: snap.id, volumeType: "gp3" } }]`.
     * The snapshots stay the user's: destroy keeps them and golden-ami never
     * retags them, unless `deleteSnapshotsOnDestroy: true` makes them the
     * resource's own. Changing it replaces the image.
     */
    readonly blockDeviceMappings: pulumi.Input<pulumi.Input<SnapshotBlockDeviceMapping>[]>;
    /**
     * The device the instance boots from; `blockDeviceMappings` must have it,
     * with a snapshot. Changing it replaces the image.
     * @default "/dev/xvda"
     */
    readonly rootDeviceName?: pulumi.Input<string>;
    /**
     * `x86_64`, `arm64`, `i386`, `x86_64_mac` or `arm64_mac`: the snapshot's
     * operating system must be built for it. Changing it replaces the image.
     * @default "x86_64"
     */
    readonly architecture?: pulumi.Input<string>;
    /**
     * `legacy-bios`, `uefi` or `uefi-preferred`. Changing it replaces the image.
     * @default EC2's default for the architecture
     */
    readonly bootMode?: pulumi.Input<string>;
    /**
     * Enhanced networking with ENA (every current instance type needs it).
     * Changing it replaces the image.
     * @default true
     */
    readonly enaSupport?: pulumi.Input<boolean>;
    /**
     * `"v2.0"`: instances launched from the image require IMDSv2.
     * Changing it replaces the image.
     * @default instances accept IMDSv1 and IMDSv2
     */
    readonly imdsSupport?: pulumi.Input<string>;
    /**
     * `"v2.0"`: NitroTPM; needs `bootMode: "uefi"`. Changing it replaces the image.
     * @default no TPM
     */
    readonly tpmSupport?: pulumi.Input<string>;
    /**
     * `hvm` or `paravirtual`. Changing it replaces the image.
     * @default "hvm"
     */
    readonly virtualizationType?: pulumi.Input<string>;
}

/** AmiFromSnapshot's inputs once `check` has filled in defaults. */
export interface AmiFromSnapshotInputs extends ImageInputs {
    blockDeviceMappings: SnapshotBlockDeviceMapping[];
    rootDeviceName: string;
    architecture: string;
    bootMode?: string;
    enaSupport: boolean;
    imdsSupport?: string;
    tpmSupport?: string;
    virtualizationType: string;
}

const SNAPSHOT_ID = /^snap-([0-9a-f]{8}|[0-9a-f]{17})$/;
const oneOf =
    (allowed: readonly string[]): Rule =>
    (v) =>
        typeof v === "string" && allowed.includes(v) ? undefined : `${show(v)} is not one of ${allowed.join(", ")}`;

const deviceNameRule: Rule = (v) =>
    typeof v === "string" && /^\/dev\/[a-z0-9]+$/.test(v) ? undefined : `must be a device name such as "/dev/xvda", got ${show(v)}`;

/** blockDeviceMappings: the shared shape, and a snapshot id wherever one is given. */
const snapshotMappingsRule: Rule = (v, property) => {
    const shape = blockDeviceMappingsRule(v, property);
    if (shape) return shape;
    for (const [i, m] of (v as SnapshotBlockDeviceMapping[]).entries()) {
        const id = m.ebs?.snapshotId;
        if (id !== undefined && !containsUnknown(id) && (typeof id !== "string" || !SNAPSHOT_ID.test(id))) {
            return `[${i}].ebs.snapshotId ${show(id)} is not an EBS snapshot id; expected "snap-" and 8 or 17 lowercase hex digits, e.g. "snap-0123456789abcdef0"`;
        }
    }
    return undefined;
};

/** The snapshot ids the mappings name (what `check` looks up in EC2, and what the image must never delete by default). */
export function mappedSnapshotIds(mappings: readonly SnapshotBlockDeviceMapping[] | undefined): string[] {
    return (mappings ?? []).flatMap((m) => (m.ebs?.snapshotId ? [m.ebs.snapshotId] : []));
}

/** What golden-ami knows about AmiFromSnapshot (see ImageKind). */
export const descriptor: ImageKind<AmiFromSnapshotInputs> = {
    type: "AmiFromSnapshot",
    module: "ami-from-snapshot",
    identity: [
        { key: "blockDeviceMappings" },
        { key: "name" },
        { key: "rootDeviceName" },
        { key: "architecture" },
        { key: "bootMode", default: "" },
        { key: "enaSupport" },
        { key: "imdsSupport", default: "" },
        { key: "tpmSupport", default: "" },
        { key: "virtualizationType" },
        { key: "region", default: "" },
    ],
    name: "input",
    defaults: { rootDeviceName: "/dev/xvda", architecture: "x86_64", enaSupport: true, virtualizationType: "hvm" },
    rules: [
        {
            property: "blockDeviceMappings",
            rule: snapshotMappingsRule,
            required:
                'is required: the image\'s devices with their snapshots, e.g. [{ deviceName: "/dev/xvda", ebs: { snapshotId: "snap-0123456789abcdef0" } }]',
        },
        { property: "rootDeviceName", rule: deviceNameRule },
        {
            property: "rootDeviceName",
            unlessFailed: true,
            relation: ({ news }) => {
                const root = (news.rootDeviceName ?? "/dev/xvda") as string;
                const mappings = news.blockDeviceMappings as SnapshotBlockDeviceMapping[] | undefined;
                if (!Array.isArray(mappings) || containsUnknown([root, mappings])) return undefined;
                const entry = mappings.find((m) => m?.deviceName === root);
                return entry?.ebs?.snapshotId
                    ? undefined
                    : `${show(root)} has no snapshot in blockDeviceMappings; add { deviceName: ${show(root)}, ebs: { snapshotId: "snap-…" } }, or set rootDeviceName to the device that has the boot volume's snapshot`;
            },
        },
        { property: "architecture", rule: oneOf(["x86_64", "arm64", "i386", "x86_64_mac", "arm64_mac"]) },
        { property: "bootMode", rule: oneOf(["legacy-bios", "uefi", "uefi-preferred"]) },
        { property: "enaSupport", rule: booleanRule },
        { property: "imdsSupport", rule: oneOf(["v2.0"]) },
        { property: "tpmSupport", rule: oneOf(["v2.0"]) },
        {
            property: "tpmSupport",
            unlessFailed: true,
            relation: ({ news }) =>
                news.tpmSupport !== undefined && news.bootMode !== "uefi" && !containsUnknown([news.tpmSupport, news.bootMode])
                    ? `NitroTPM needs UEFI; set bootMode: "uefi", or drop tpmSupport`
                    : undefined,
        },
        { property: "virtualizationType", rule: oneOf(["hvm", "paravirtual"]) },
        {
            property: "snapshotTags",
            relation: ({ news }) =>
                news.snapshotTags !== undefined && news.deleteSnapshotsOnDestroy !== true && !containsUnknown(news.deleteSnapshotsOnDestroy)
                    ? "is set but the snapshots are yours, and golden-ami never retags them; set deleteSnapshotsOnDestroy: true to make them this image's own (destroy then deletes them), or drop snapshotTags"
                    : undefined,
        },
    ],
    createTimeoutMinutes: CREATE_IMAGE_TIMEOUT_MINUTES,
    // The snapshots are the user's: never deleted or retagged unless deleteSnapshotsOnDestroy is true.
    ownsSnapshots: false,
    example: {
        name: "restored-1",
        region: "us-east-1",
        blockDeviceMappings: [{ deviceName: "/dev/xvda", ebs: { snapshotId: "snap-0123456789abcdef0" } }],
    },
    outputInputs: ["blockDeviceMappings", "rootDeviceName", "architecture"],
    // The snapshots must exist in the image's region: read at preview (a create or a replacement), when known.
    needsEc2Check: (news, olds) => {
        const ids = mappedSnapshotIds(news.blockDeviceMappings);
        if (!news.region || ids.length === 0 || containsUnknown([news.region, ids])) return false;
        return (
            JSON.stringify(olds?.blockDeviceMappings ?? null) !== JSON.stringify(news.blockDeviceMappings) || olds?.region !== news.region
        );
    },
};

/**
 * An AMI registered from EBS snapshots you already have (RegisterImage): an
 * image rebuilt from a backup, or an OS disk made outside EC2 and imported as
 * a snapshot.
 *
 * `pulumi up` registers the image and waits until it is available; tags,
 * description, deprecation, deregistration protection, launch permissions and
 * `publish` update in place, everything else replaces the image. The
 * snapshots stay yours: `pulumi destroy` deregisters the image and **keeps
 * them**, and golden-ami never retags them, unless `deleteSnapshotsOnDestroy:
 * true` makes them the resource's own.
 *
 * @example
 * ```ts
 * const restored = new AmiFromSnapshot("restored", {
 *     blockDeviceMappings: [{ deviceName: "/dev/xvda", ebs: { snapshotId: "snap-0123456789abcdef0", volumeType: "gp3" } }],
 *     architecture: "arm64",
 *     bootMode: "uefi",
 *     imdsSupport: "v2.0",
 *     tags: { App: "web" },
 * });
 * export const amiId = restored.imageId;
 * ```
 */
export class AmiFromSnapshot extends ImageResource {
    /** The image's block devices with their snapshots, as given. */
    declare readonly blockDeviceMappings: pulumi.Output<SnapshotBlockDeviceMapping[]>;
    /** The device the image boots from. */
    declare readonly rootDeviceName: pulumi.Output<string>;
    /** The image's architecture. */
    declare readonly architecture: pulumi.Output<string>;

    constructor(name: string, args: AmiFromSnapshotArgs, opts?: pulumi.CustomResourceOptions) {
        const own = {
            blockDeviceMappings: args.blockDeviceMappings,
            rootDeviceName: args.rootDeviceName,
            architecture: args.architecture,
            bootMode: args.bootMode,
            enaSupport: args.enaSupport,
            imdsSupport: args.imdsSupport,
            tpmSupport: args.tpmSupport,
            virtualizationType: args.virtualizationType,
        };
        super(provider, name, imageResourceProps(descriptor, name, args, own, opts), opts, "golden-ami", descriptor.type);
    }
}
