// The emulator's image service: AMIs as EC2 stores and answers them, in one
// table (image-model.ts), with moto underneath as the block store and the
// compute (volumes, snapshots, instances) and for KMS and SSM. moto's own
// image code is never in the path: it snapshots the root volume only, with a
// made-up size, ignores RegisterImage's mappings, answers `standard` root
// devices, does not page, forgets deregistered images at once and answers
// HTTP 500 to DisableImage, EnableImage and several image attributes.
//
// Every behaviour follows the Amazon EC2 API Reference page of its action
// (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_<Action>.html),
// quoted next to the code. Where the pages are silent, the comment says so
// and the behaviour is the one hardest on a client.
import { randomBytes } from "node:crypto";
import { ec2Error, ec2Success, Reply, setItems, tagText, xmlEscape } from "./ec2-xml";
import {
    DeviceMapping,
    emptyPermissions,
    Image,
    IMAGE_ID,
    imageNameProblem,
    imageXml,
    isPublic,
    launchPermissionXml,
    mappingXml,
    MAX_DESCRIPTION,
    ORGANIZATION_ARN,
    OU_ARN,
    snapshotIdsOfImage,
    tagProblem,
    wildcard,
} from "./image-model";
import { checkCreateImageBlockDevices, MotoCall } from "./image-rules";

/** The image service's own switches (ProxyOptions.imageService). Each is on unless set to false. */
export interface ImageServiceSwitches {
    /**
     * DescribeImages answers at most this many images when the request has
     * no MaxResults. The API reference documents MaxResults (5 to 1000) and
     * NextToken but no default page; a page smaller than the test data is
     * the hardest on a client that does not follow NextToken. @default 5
     */
    defaultPageSize?: number;
    /**
     * "Recently deregistered images appear in the returned results for a
     * short interval and then return empty results" (DescribeImages): a
     * deregistered image stays in 1..N (seeded) DescribeImages answers that
     * include it, as `deregistered`. @default 2
     */
    deregisteredReads?: number;
    /** Names, descriptions, deprecation times, tags and organization ARNs checked as EC2 checks them. @default true */
    validation?: boolean;
    /** RunInstances refuses unknown, malformed, deregistered, disabled and pending images; CreateImage refuses terminated instances. @default true */
    launchChecks?: boolean;
    /** Amazon Linux images owned by `amazon`, public, in every region, with the ids of the public SSM parameters under `/aws/service/ami-amazon-linux-latest/`. @default true */
    publicImages?: boolean;
    /** CopyImage with a KMS key that does not exist ends `failed`. @default true */
    kmsChecks?: boolean;
}

/** What the service reads of the proxy's settings (ProxyOptions) on each request. */
export interface ImageServiceSettings {
    pendingPolls: number;
    failImages?: { reason: string; code?: string };
    duplicateNames: boolean;
    deprecation: boolean;
    deregistrationProtection: boolean;
    protectionCooldown: boolean;
    idempotentParameterMismatch: boolean;
    createImageBlockDeviceRules: boolean;
    deleteAssociatedSnapshots: boolean;
    snapshotInUseCalls: number;
    pageSize?: number;
    creationDateFromName?: (name: string) => string | undefined;
    imageService: ImageServiceSwitches;
}

/** One request as the service sees it. */
export interface ImageRequest {
    region: string;
    account: string;
    params: URLSearchParams;
    /** moto, in the request's region and account (never routed back to this service). */
    moto: MotoCall;
    /** moto in another region (CopyImage's source region). */
    motoIn(region: string): MotoCall;
    /** A JSON-protocol call to moto (KMS, SSM) in a region. */
    json(service: "kms" | "ssm", target: string, body: object, region?: string): Promise<{ status: number; body: unknown }>;
}

/** The actions the service answers. */
export const IMAGE_ACTIONS = new Set([
    "CreateImage",
    "CopyImage",
    "RegisterImage",
    "DescribeImages",
    "DeregisterImage",
    "DescribeImageAttribute",
    "ModifyImageAttribute",
    "ResetImageAttribute",
    "EnableImage",
    "DisableImage",
    "EnableImageDeprecation",
    "DisableImageDeprecation",
    "EnableImageDeregistrationProtection",
    "DisableImageDeregistrationProtection",
    "DeleteSnapshot",
    "CreateTags",
    "DeleteTags",
    "RunInstances",
]);

/**
 * "If you chose to include a 24-hour cooldown period ..., you won't
 * immediately be able to deregister the AMI" (DisableImageDeregistrationProtection).
 */
export const PROTECTION_COOLDOWN_MS = 24 * 60 * 60 * 1000;
/** "The upper limit for DeprecateAt is 10 years from now" (EnableImageDeprecation). */
const DEPRECATION_MAX_YEARS = 10;
/** The owner of the Amazon Linux images (what `aws ec2 describe-images --owners amazon` shows for them). */
const AMAZON_ACCOUNT = "137112412989";
const AMAZON_LINUX_PATH = "/aws/service/ami-amazon-linux-latest";

class Refused extends Error {
    constructor(
        readonly code: string,
        message: string,
        readonly status = 400,
    ) {
        super(message);
    }
}

const newId = (prefix: string) => `${prefix}-${randomBytes(9).toString("hex").slice(0, 17)}`;
const bool = (v: string | null | undefined) => (v === null || v === undefined ? undefined : v === "true");
const num = (v: string | null | undefined) => (v === null || v === undefined || v === "" ? undefined : Number(v));

/** The values of a flattened list parameter `Name.1`, `Name.2`, ... in order. */
function listParam(params: URLSearchParams, name: string): string[] {
    const re = new RegExp(`^${name.replace(/\./g, "\\.")}\\.(\\d+)$`);
    return [...params.entries()]
        .map(([k, v]) => [re.exec(k)?.[1], v] as const)
        .filter(([i]) => i !== undefined)
        .sort(([a], [b]) => Number(a) - Number(b))
        .map(([, v]) => v);
}

/** `Prefix.N.Field...` grouped by N, in order: [{ Field: value, "Ebs.VolumeSize": value }]. */
function structList(params: URLSearchParams, prefix: string): Map<string, string>[] {
    const byIndex = new Map<number, Map<string, string>>();
    const re = new RegExp(`^${prefix.replace(/\./g, "\\.")}\\.(\\d+)\\.(.+)$`);
    for (const [k, v] of params) {
        const m = re.exec(k);
        if (!m) continue;
        const fields = byIndex.get(Number(m[1])) ?? new Map<string, string>();
        fields.set(m[2], v);
        byIndex.set(Number(m[1]), fields);
    }
    return [...byIndex.entries()].sort(([a], [b]) => a - b).map(([, f]) => f);
}

/** TagSpecification.N for one resource type, as key → value. */
function tagSpecifications(params: URLSearchParams, resourceType: string): Map<string, string> {
    const tags = new Map<string, string>();
    for (const spec of structList(params, "TagSpecification")) {
        if (spec.get("ResourceType") !== resourceType) continue;
        const keys = [...spec.keys()].filter((k) => /^Tag\.\d+\.Key$/.test(k));
        for (const k of keys) tags.set(spec.get(k) ?? "", spec.get(k.replace(/Key$/, "Value")) ?? "");
    }
    return tags;
}

function filtersOf(params: URLSearchParams): { name: string; values: string[] }[] {
    return structList(params, "Filter").map((f) => ({
        name: f.get("Name") ?? "",
        values: [...f.entries()]
            .filter(([k]) => /^Value\.\d+$/.test(k))
            .sort(([a], [b]) => Number(a.slice(6)) - Number(b.slice(6)))
            .map(([, v]) => v),
    }));
}

/**
 * A page token: the last image id handed out and the query it belongs to.
 * Pages resume after that id in id order, not at an offset, so an image that
 * leaves the table between two pages (a deregistered one whose short
 * visibility ends) never makes the next page skip a live one.
 */
function encodeToken(lastId: string, query: string): string {
    return Buffer.from(JSON.stringify({ k: lastId, q: query })).toString("base64url");
}

function decodeToken(token: string, query: string): string | undefined {
    try {
        const t = JSON.parse(Buffer.from(token, "base64url").toString()) as { k?: unknown; q?: unknown };
        return typeof t.k === "string" && t.q === query ? t.k : undefined;
    } catch {
        return undefined; // not a token of ours: refused below
    }
}

export class ImageService {
    /** Images by region, then id. */
    private readonly images = new Map<string, Map<string, Image>>();
    /** CopyImage answers by region and ClientToken, with the parameters the token was first used with. */
    private readonly copiesByToken = new Map<string, { parameters: string; imageId: string }>();
    /** Snapshots of a just-deregistered image: DeleteSnapshot still answers InvalidSnapshot.InUse. */
    private readonly snapshotsInUse = new Map<string, { imageId: string; left: number }>();
    /** Instance id → the image it was launched from (what CreateImage of it inherits). */
    private readonly launchedFrom = new Map<string, Image>();
    private readonly seededRegions = new Map<string, Promise<void>>();

    constructor(
        private readonly settings: () => ImageServiceSettings,
        private readonly now: () => number,
        private readonly random: () => number,
    ) {}

    private switches(): Required<ImageServiceSwitches> {
        return {
            defaultPageSize: 5,
            deregisteredReads: 2,
            validation: true,
            launchChecks: true,
            publicImages: true,
            kmsChecks: true,
            ...this.settings().imageService,
        };
    }

    private table(region: string): Map<string, Image> {
        let t = this.images.get(region);
        if (!t) this.images.set(region, (t = new Map()));
        return t;
    }

    /** The image by id in a region, as the caller may see it (own, public or shared with it). */
    private find(region: string, id: string, account: string): Image | undefined {
        const image = this.table(region).get(id);
        if (!image || !this.visibleTo(image, account)) return undefined;
        return image;
    }

    private visibleTo(image: Image, account: string): boolean {
        return image.ownerId === account || isPublic(image) || image.launchPermissions.userIds.has(account);
    }

    /**
     * An image the caller names that must exist and not be deregistered:
     * "InvalidAMIID.Malformed: The specified AMI ID is malformed" /
     * "InvalidAMIID.NotFound: The specified AMI doesn't exist" (Error codes
     * for the Amazon EC2 API).
     */
    private mustFind(req: ImageRequest, id: string | null, opts: { own?: boolean } = {}): Image {
        if (!id) throw new Refused("MissingParameter", "The request must contain the parameter ImageId");
        if (!IMAGE_ID.test(id)) throw new Refused("InvalidAMIID.Malformed", `Invalid id: "${id}" (expecting "ami-...")`);
        const image = this.find(req.region, id, req.account);
        if (!image || image.state === "deregistered") throw new Refused("InvalidAMIID.NotFound", `The image id '[${id}]' does not exist`);
        if (opts.own && image.ownerId !== req.account) {
            throw new Refused("AuthFailure", `Not authorized for image:${id}`);
        }
        return image;
    }

    async handle(action: string, req: ImageRequest): Promise<Reply | undefined> {
        try {
            if (this.switches().publicImages) await this.seedPublicImages(req);
            switch (action) {
                case "CreateImage":
                    return await this.createImage(req);
                case "RegisterImage":
                    return await this.registerImage(req);
                case "CopyImage":
                    return await this.copyImage(req);
                case "DescribeImages":
                    return this.describeImages(req);
                case "DeregisterImage":
                    return await this.deregisterImage(req);
                case "DescribeImageAttribute":
                    return this.describeImageAttribute(req);
                case "ModifyImageAttribute":
                    return this.modifyImageAttribute(req);
                case "ResetImageAttribute":
                    return this.resetImageAttribute(req);
                case "EnableImage":
                case "DisableImage":
                    return this.enableImage(req, action === "EnableImage");
                case "EnableImageDeprecation":
                case "DisableImageDeprecation":
                    return this.deprecation(req, action);
                case "EnableImageDeregistrationProtection":
                case "DisableImageDeregistrationProtection":
                    return this.protection(req, action);
                case "DeleteSnapshot":
                    return await this.deleteSnapshot(req);
                case "CreateTags":
                case "DeleteTags":
                    return await this.tags(req, action);
                case "RunInstances":
                    return await this.runInstances(req);
                default:
                    return undefined;
            }
        } catch (e) {
            if (e instanceof Refused) return ec2Error(e.status, e.code, e.message);
            throw e;
        }
    }

    /** Whether a snapshot is mapped by a live (not deregistered) image of the region; the image if so. */
    imageUsingSnapshot(region: string, snapshotId: string): Image | undefined {
        for (const image of this.table(region).values()) {
            if (image.state !== "deregistered" && snapshotIdsOfImage(image).includes(snapshotId)) return image;
        }
        return undefined;
    }

    // ---- creating ------------------------------------------------------------------

    private checkNameAndDescription(params: URLSearchParams): void {
        if (!this.switches().validation) return;
        const problem = imageNameProblem(params.get("Name"));
        if (problem) throw new Refused("InvalidAMIName.Malformed", `The AMI name ${problem}: '${params.get("Name") ?? ""}'`);
        const description = params.get("Description");
        if (description && description.length > MAX_DESCRIPTION) {
            throw new Refused("InvalidParameterValue", `The description must be at most ${MAX_DESCRIPTION} characters long`);
        }
    }

    private checkTags(tags: Map<string, string>): void {
        if (!this.switches().validation) return;
        for (const [k, v] of tags) {
            const problem = tagProblem(k, v);
            if (problem) throw new Refused("InvalidParameterValue", problem);
        }
    }

    /** "AMI names must be unique per Region and account" (InvalidAMIName.Duplicate, Error codes). */
    private checkDuplicate(req: ImageRequest, name: string): void {
        if (!this.settings().duplicateNames) return;
        for (const image of this.table(req.region).values()) {
            if (image.ownerId === req.account && image.name === name && image.state !== "deregistered") {
                throw new Refused("InvalidAMIName.Duplicate", `AMI name ${name} is already in use by AMI ${image.imageId}`);
            }
        }
    }

    private newImage(req: ImageRequest, fields: Partial<Image> & Pick<Image, "name" | "mappings" | "rootDeviceName">): Image {
        const s = this.settings();
        const now = new Date(this.now());
        const image: Image = {
            imageId: newId("ami"),
            region: req.region,
            ownerId: req.account,
            state: "pending",
            creationDate: s.creationDateFromName?.(fields.name) ?? now.toISOString().replace(/\.\d{3}Z$/, ".000Z"),
            architecture: "x86_64",
            rootDeviceType: "ebs",
            virtualizationType: "hvm",
            hypervisor: "xen",
            platformDetails: "Linux/UNIX",
            usageOperation: "RunInstances",
            imageLocation: `${req.account}/${fields.name}`,
            tags: new Map(),
            launchPermissions: emptyPermissions(),
            pendingLeft: s.pendingPolls,
            failWith: s.failImages ? { code: s.failImages.code ?? "Server.InternalError", message: s.failImages.reason } : undefined,
            ...fields,
        };
        if (image.pendingLeft <= 0) this.settle(image);
        this.table(req.region).set(image.imageId, image);
        return image;
    }

    /** A pending image whose pending answers are used up: available, or failed with its reason. */
    private settle(image: Image): void {
        if (image.state !== "pending") return;
        if (image.failWith) {
            image.state = "failed";
            image.stateReason = image.failWith;
        } else {
            image.state = "available";
        }
    }

    /**
     * CreateImage: "Creates an Amazon EBS-backed AMI from an Amazon EBS-backed
     * instance that is either running or stopped. ... If you customized your
     * instance with instance store volumes or Amazon EBS volumes in addition
     * to the root device volume, the new AMI contains block device mapping
     * information for those volumes. When you launch an instance from this
     * new AMI, the instance automatically launches with those additional
     * volumes." One snapshot per EBS volume kept; `NoDevice` leaves a device
     * out; a device the instance does not have adds a volume; an existing
     * volume may change only DeleteOnTermination (image-rules.ts).
     */
    private async createImage(req: ImageRequest): Promise<Reply> {
        const { params } = req;
        this.checkNameAndDescription(params);
        const imageTags = tagSpecifications(params, "image");
        const snapshotTags = tagSpecifications(params, "snapshot");
        this.checkTags(imageTags);
        this.checkTags(snapshotTags);
        const instanceId = params.get("InstanceId") ?? "";
        const described = await req.moto("DescribeInstances", { "InstanceId.1": instanceId });
        if (described.status !== 200) return described;
        const instance = setItems(described.body, "instancesSet")[0] ?? "";
        const state = /<instanceState>[\s\S]*?<name>([^<]*)<\/name>/.exec(instance)?.[1];
        if (this.switches().launchChecks && (state === "terminated" || state === "shutting-down")) {
            // "IncorrectInstanceState: The instance is in an incorrect state, so the requested action can't be
            // completed" (Error codes); CreateImage takes "an instance that is either running or stopped".
            throw new Refused(
                "IncorrectInstanceState",
                `The instance '${instanceId}' is not in a state from which it can be imaged (${state}).`,
            );
        }
        if (this.settings().createImageBlockDeviceRules) {
            const refused = await checkCreateImageBlockDevices(params, req.moto);
            if (refused) return refused;
        }
        this.checkDuplicate(req, params.get("Name") ?? "");

        // The instance's EBS volumes, by device.
        const attached = setItems(instance, "blockDeviceMapping").map((item) => ({
            deviceName: tagText(item, "deviceName") ?? "",
            volumeId: tagText(item, "volumeId") ?? "",
            deleteOnTermination: tagText(item, "deleteOnTermination") === "true",
        }));
        const volumes = new Map<string, string>();
        if (attached.length) {
            const query: Record<string, string> = {};
            attached.forEach((a, i) => (query[`VolumeId.${i + 1}`] = a.volumeId));
            const vols = await req.moto("DescribeVolumes", query);
            for (const item of setItems(vols.body, "volumeSet")) volumes.set(tagText(item, "volumeId") ?? "", item);
        }
        const requested = new Map(structList(params, "BlockDeviceMapping").map((f) => [f.get("DeviceName") ?? "", f]));
        const source = this.launchedFrom.get(instanceId);
        // The root device of the image it was launched from, when that device is attached (moto reports
        // `/dev/sda1` for every instance); else moto's.
        const motoRoot = /<rootDeviceName>([^<]*)</.exec(instance)?.[1];
        const rootDeviceName =
            source && attached.some((a) => a.deviceName === source.rootDeviceName) ? source.rootDeviceName : (motoRoot ?? "/dev/xvda");

        const mappings: DeviceMapping[] = [];
        const toSnapshot: { mapping: DeviceMapping; volumeId: string }[] = [];
        for (const a of attached) {
            const asked = requested.get(a.deviceName);
            requested.delete(a.deviceName);
            if (asked?.has("NoDevice")) continue;
            const volume = volumes.get(a.volumeId) ?? "";
            const mapping: DeviceMapping = {
                deviceName: a.deviceName,
                ebs: {
                    volumeSize: num(tagText(volume, "size")),
                    volumeType: tagText(volume, "volumeType"),
                    iops: num(tagText(volume, "iops")),
                    throughput: num(tagText(volume, "throughput")),
                    encrypted: tagText(volume, "encrypted") === "true",
                    kmsKeyId: tagText(volume, "kmsKeyId") || undefined,
                    deleteOnTermination: bool(asked?.get("Ebs.DeleteOnTermination")) ?? a.deleteOnTermination,
                },
            };
            mappings.push(mapping);
            toSnapshot.push({ mapping, volumeId: a.volumeId });
        }
        for (const [deviceName, f] of requested) {
            if (f.has("NoDevice")) continue;
            mappings.push(this.requestedMapping(deviceName, f));
        }
        // The root device first, then by device name (the order EC2's answers show).
        mappings.sort(
            (a, b) =>
                Number(b.deviceName === rootDeviceName) - Number(a.deviceName === rootDeviceName) ||
                a.deviceName.localeCompare(b.deviceName),
        );
        const image = this.newImage(req, {
            name: params.get("Name") ?? "",
            description: params.get("Description") ?? undefined,
            rootDeviceName,
            mappings,
            tags: imageTags,
            sourceInstanceId: instanceId,
            architecture: source?.architecture ?? "x86_64",
            virtualizationType: source?.virtualizationType ?? "hvm",
            bootMode: source?.bootMode,
            enaSupport: source?.enaSupport ?? true,
            imdsSupport: source?.imdsSupport,
            tpmSupport: source?.tpmSupport,
            platform: source?.platform,
            platformDetails: source?.platformDetails ?? "Linux/UNIX",
            usageOperation: source?.usageOperation ?? "RunInstances",
        });
        try {
            for (const { mapping, volumeId } of toSnapshot) {
                mapping.ebs!.snapshotId = await this.snapshotVolume(
                    req.moto,
                    volumeId,
                    `Created by CreateImage(${instanceId}) for ${image.imageId} from ${volumeId}`,
                    snapshotTags,
                );
            }
        } catch (e) {
            this.table(req.region).delete(image.imageId);
            throw e;
        }
        return ec2Success("CreateImage", `<imageId>${image.imageId}</imageId>`);
    }

    /** A mapping of the request that is not an existing volume: a new EBS volume or an instance store. */
    private requestedMapping(deviceName: string, f: Map<string, string>): DeviceMapping {
        if (f.has("VirtualName")) return { deviceName, virtualName: f.get("VirtualName") };
        const snapshotId = f.get("Ebs.SnapshotId");
        const volumeSize = num(f.get("Ebs.VolumeSize"));
        if (!snapshotId && volumeSize === undefined) {
            throw new Refused(
                "InvalidBlockDeviceMapping",
                `The block device mapping for ${deviceName} needs a snapshot id or a volume size (or NoDevice, or a VirtualName).`,
            );
        }
        return {
            deviceName,
            ebs: {
                snapshotId,
                volumeSize,
                volumeType: f.get("Ebs.VolumeType") ?? "gp2",
                iops: num(f.get("Ebs.Iops")),
                throughput: num(f.get("Ebs.Throughput")),
                encrypted: bool(f.get("Ebs.Encrypted")) ?? false,
                kmsKeyId: f.get("Ebs.KmsKeyId"),
                deleteOnTermination: bool(f.get("Ebs.DeleteOnTermination")) ?? true,
            },
        };
    }

    private async snapshotVolume(moto: MotoCall, volumeId: string, description: string, tags: Map<string, string>): Promise<string> {
        const reply = await moto("CreateSnapshot", { VolumeId: volumeId, Description: description });
        const snapshotId = reply.status === 200 ? tagText(reply.body, "snapshotId") : undefined;
        if (!snapshotId) throw new Refused("InternalError", `Could not snapshot ${volumeId}: ${reply.body.slice(0, 200)}`, 500);
        await this.tagSnapshot(moto, snapshotId, tags);
        return snapshotId;
    }

    private async tagSnapshot(moto: MotoCall, snapshotId: string, tags: Map<string, string>): Promise<void> {
        if (tags.size === 0) return;
        const q: Record<string, string> = { "ResourceId.1": snapshotId };
        [...tags].forEach(([k, v], i) => {
            q[`Tag.${i + 1}.Key`] = k;
            q[`Tag.${i + 1}.Value`] = v;
        });
        await moto("CreateTags", q);
    }

    /**
     * RegisterImage from EBS snapshots: the image maps exactly the given
     * devices. "If you specify a snapshot in the block device mapping, ...
     * you must have permission to use it" (RegisterImage): a snapshot that
     * does not exist or is not the caller's fails InvalidSnapshot.NotFound
     * (moto answers it for both). The page documents no default for
     * VirtualizationType; `hvm` is what EC2 reports for images registered
     * without one today.
     */
    private async registerImage(req: ImageRequest): Promise<Reply> {
        const { params } = req;
        this.checkNameAndDescription(params);
        const tags = tagSpecifications(params, "image");
        this.checkTags(tags);
        const rootDeviceName = params.get("RootDeviceName");
        const requested = structList(params, "BlockDeviceMapping");
        if (!rootDeviceName && !params.get("ImageLocation")) {
            throw new Refused("InvalidParameterValue", "RootDeviceName is required when registering an AMI from snapshots");
        }
        const mappings = requested.filter((f) => !f.has("NoDevice")).map((f) => this.requestedMapping(f.get("DeviceName") ?? "", f));
        const snapshots = mappings.flatMap((m) => (m.ebs?.snapshotId ? [m.ebs.snapshotId] : []));
        if (snapshots.length) {
            const q: Record<string, string> = {};
            snapshots.forEach((id, i) => (q[`SnapshotId.${i + 1}`] = id));
            const found = await req.moto("DescribeSnapshots", q);
            if (found.status !== 200) return found;
            const sizes = new Map(
                setItems(found.body, "snapshotSet").map((i) => [
                    tagText(i, "snapshotId") ?? "",
                    {
                        size: num(tagText(i, "volumeSize")),
                        encrypted: tagText(i, "encrypted") === "true",
                        kmsKeyId: tagText(i, "kmsKeyId"),
                    },
                ]),
            );
            for (const m of mappings) {
                const snap = m.ebs?.snapshotId ? sizes.get(m.ebs.snapshotId) : undefined;
                if (m.ebs?.snapshotId && !snap) {
                    throw new Refused("InvalidSnapshot.NotFound", `The snapshot '${m.ebs.snapshotId}' does not exist.`);
                }
                if (m.ebs && snap) {
                    if (m.ebs.volumeSize !== undefined && snap.size !== undefined && m.ebs.volumeSize < snap.size) {
                        throw new Refused(
                            "InvalidBlockDeviceMapping",
                            `Volume of size ${m.ebs.volumeSize}GB is smaller than snapshot '${m.ebs.snapshotId}', expect size >= ${snap.size}GB`,
                        );
                    }
                    m.ebs.volumeSize ??= snap.size;
                    m.ebs.encrypted = snap.encrypted;
                    m.ebs.kmsKeyId = snap.kmsKeyId || undefined;
                }
            }
        }
        if (rootDeviceName && !mappings.some((m) => m.deviceName === rootDeviceName)) {
            throw new Refused("InvalidBlockDeviceMapping", `The root device name ${rootDeviceName} has no block device mapping.`);
        }
        this.checkDuplicate(req, params.get("Name") ?? "");
        const image = this.newImage(req, {
            name: params.get("Name") ?? "",
            description: params.get("Description") ?? undefined,
            rootDeviceName: rootDeviceName ?? "/dev/xvda",
            mappings,
            tags,
            architecture: params.get("Architecture") ?? "x86_64",
            virtualizationType: params.get("VirtualizationType") ?? "hvm",
            bootMode: params.get("BootMode") ?? undefined,
            enaSupport: bool(params.get("EnaSupport")),
            sriovNetSupport: params.get("SriovNetSupport") ?? undefined,
            imdsSupport: params.get("ImdsSupport") ?? undefined,
            tpmSupport: params.get("TpmSupport") ?? undefined,
            uefiData: params.get("UefiData") ?? undefined,
            kernelId: params.get("KernelId") ?? undefined,
            ramdiskId: params.get("RamdiskId") ?? undefined,
        });
        return ec2Success("RegisterImage", `<imageId>${image.imageId}</imageId>`);
    }

    /**
     * CopyImage: one new snapshot per EBS mapping of the source, in the
     * destination region. "Encrypted: Specifies whether the destination
     * snapshots of the copied image should be encrypted. ... The default KMS
     * key for Amazon EBS is used unless you specify a non-default KMS key
     * using KmsKeyId"; "KmsKeyId: ... If you specify a KMS key, you must also
     * set the encrypted state to true"; an unusable key makes the copy end
     * `failed` (its StateReason); "CopyImageTags: Indicates whether to include
     * your user-defined AMI tags when copying the source AMI"; TagSpecifications
     * tag the new AMI and its snapshots. ClientToken: "Ensuring idempotency"
     * (ec2-api-idempotency.html): the same token and parameters answer the
     * first copy, changed parameters IdempotentParameterMismatch; a token is
     * never forgotten here (the page does not say for how long EC2 keeps one).
     */
    private async copyImage(req: ImageRequest): Promise<Reply> {
        const { params } = req;
        this.checkNameAndDescription(params);
        const token = params.get("ClientToken");
        const key = `${req.region}|${req.account}|${token}`;
        const parameters = JSON.stringify(
            [...params.entries()].filter(([k]) => !["Action", "Version", "ClientToken", "DryRun"].includes(k)).sort(),
        );
        const seen = token ? this.copiesByToken.get(key) : undefined;
        if (seen) {
            if (this.settings().idempotentParameterMismatch && seen.parameters !== parameters) {
                throw new Refused(
                    "IdempotentParameterMismatch",
                    `The client token ${token} was used before with different parameters; use a new token or repeat the request unchanged.`,
                );
            }
            return ec2Success("CopyImage", `<imageId>${seen.imageId}</imageId>`);
        }
        const encrypted = bool(params.get("Encrypted")) ?? false;
        const kmsKeyId = params.get("KmsKeyId") ?? undefined;
        if (kmsKeyId && !encrypted) {
            throw new Refused(
                "InvalidParameterCombination",
                "KmsKeyId requires Encrypted to be true: set Encrypted when you specify a KMS key.",
            );
        }
        const sourceRegion = params.get("SourceRegion") ?? req.region;
        const sourceReq: ImageRequest = { ...req, region: sourceRegion, moto: req.motoIn(sourceRegion) };
        if (this.switches().publicImages) await this.seedPublicImages(sourceReq);
        // Another account's image is found only when shared with the caller (launch permission, public): "Copy an
        // AMI", cross-account copying. Not shared: InvalidAMIID.NotFound, as DescribeImages answers for it. The copy
        // and its new snapshots are the caller's (newImage, copySnapshot: in the caller's account), never the source's.
        const source = this.mustFind(sourceReq, params.get("SourceImageId"));
        if (source.state !== "available") {
            throw new Refused("IncorrectState", `Image ${source.imageId} is ${source.state}; only available images can be copied.`);
        }
        const tags = new Map<string, string>();
        if (bool(params.get("CopyImageTags"))) for (const [k, v] of source.tags) tags.set(k, v);
        for (const [k, v] of tagSpecifications(params, "image")) tags.set(k, v);
        const snapshotTags = tagSpecifications(params, "snapshot");
        this.checkTags(tags);
        this.checkTags(snapshotTags);
        this.checkDuplicate(req, params.get("Name") ?? "");

        let keyProblem = this.crossAccountKeyProblem(req, source);
        let keyArn: string | undefined;
        if (encrypted && !keyProblem) {
            const resolved = await this.resolveKey(req, kmsKeyId ?? "alias/aws/ebs");
            keyArn = resolved.arn;
            keyProblem = resolved.problem;
        }
        const mappings: DeviceMapping[] = source.mappings.map((m) => ({ ...m, ebs: m.ebs ? { ...m.ebs } : undefined }));
        const image = this.newImage(req, {
            name: params.get("Name") ?? "",
            description: params.get("Description") ?? source.description,
            rootDeviceName: source.rootDeviceName,
            mappings,
            tags,
            architecture: source.architecture,
            virtualizationType: source.virtualizationType,
            rootDeviceType: source.rootDeviceType,
            bootMode: source.bootMode,
            enaSupport: source.enaSupport,
            sriovNetSupport: source.sriovNetSupport,
            imdsSupport: source.imdsSupport,
            tpmSupport: source.tpmSupport,
            platform: source.platform,
            platformDetails: source.platformDetails,
            usageOperation: source.usageOperation,
            sourceImageId: source.imageId,
            sourceImageRegion: sourceRegion,
        });
        if (keyProblem) {
            // The copy is accepted and fails later, as EC2 does with a key it cannot use.
            image.failWith = { code: "Client.InvalidKMSKey.InvalidState", message: keyProblem };
            for (const m of image.mappings) if (m.ebs) delete m.ebs.snapshotId;
            if (image.state !== "pending") {
                image.state = "pending";
                this.settle(image);
            }
        } else {
            try {
                for (const m of image.mappings) {
                    if (!m.ebs?.snapshotId) continue;
                    m.ebs.snapshotId = await this.copySnapshot(req, sourceReq, m, image, { encrypted, keyArn }, snapshotTags);
                    if (encrypted) {
                        m.ebs.encrypted = true;
                        m.ebs.kmsKeyId = keyArn;
                    }
                }
            } catch (e) {
                this.table(req.region).delete(image.imageId);
                throw e;
            }
        }
        if (token) this.copiesByToken.set(key, { parameters, imageId: image.imageId });
        return ec2Success("CopyImage", `<imageId>${image.imageId}</imageId>`);
    }

    private async copySnapshot(
        req: ImageRequest,
        sourceReq: ImageRequest,
        m: DeviceMapping,
        image: Image,
        encryption: { encrypted: boolean; keyArn?: string },
        tags: Map<string, string>,
    ): Promise<string> {
        const sourceSnapshot = m.ebs!.snapshotId!;
        const q: Record<string, string> = {
            SourceSnapshotId: sourceSnapshot,
            SourceRegion: sourceReq.region,
            Description: `Copied for DestinationAmi ${image.imageId} from SourceAmi ${image.sourceImageId} for SourceSnapshot ${sourceSnapshot}.`,
        };
        if (encryption.encrypted || m.ebs!.encrypted) {
            q.Encrypted = "true";
            if (encryption.keyArn) q.KmsKeyId = encryption.keyArn;
        }
        const reply = await req.moto("CopySnapshot", q);
        let snapshotId = reply.status === 200 ? tagText(reply.body, "snapshotId") : undefined;
        if (!snapshotId) {
            // A public image's snapshot (Amazon's) or one of an image shared by another account (in that account's
            // store, not the caller's): a new snapshot of its size stands for the copy.
            const zone = `${req.region}a`;
            const vol = await req.moto("CreateVolume", {
                AvailabilityZone: zone,
                Size: String(m.ebs!.volumeSize ?? 8),
                ...(q.Encrypted ? { Encrypted: "true" } : {}),
                ...(q.KmsKeyId ? { KmsKeyId: q.KmsKeyId } : {}),
            });
            const volumeId = tagText(vol.body, "volumeId");
            if (!volumeId)
                throw new Refused("InternalError", `Could not copy snapshot ${sourceSnapshot}: ${reply.body.slice(0, 200)}`, 500);
            const snap = await req.moto("CreateSnapshot", { VolumeId: volumeId, Description: q.Description });
            await req.moto("DeleteVolume", { VolumeId: volumeId });
            snapshotId = tagText(snap.body, "snapshotId");
            if (!snapshotId) throw new Refused("InternalError", `Could not copy snapshot ${sourceSnapshot}`, 500);
        }
        await this.tagSnapshot(req.moto, snapshotId, tags);
        return snapshotId;
    }

    /**
     * Why a copy of another account's image cannot read the source's
     * encrypted snapshots, if it cannot. "Copy an AMI" (EC2 User Guide,
     * cross-account copying): the caller needs launch permission on the
     * source (without it the source is not found, as DescribeImages answers:
     * InvalidAMIID.NotFound, see mustFind) and "the copy is owned by" the
     * caller. "Share an AMI with specific AWS accounts": "you must share any
     * KMS keys used to encrypt snapshots that an AMI references", and "You
     * can't share AMIs that are backed by snapshots that are encrypted with
     * the default AWS managed key". The emulator keeps no key policies across
     * accounts, so another account's key is never shared here: the copy is
     * accepted and ends `failed`, as a copy with an unusable key does (the
     * docs do not say whether EC2 refuses at once or fails the copy; the
     * failed copy is the harder one for a caller, which must remove it).
     * `kmsChecks` off allows it.
     */
    private crossAccountKeyProblem(req: ImageRequest, source: Image): string | undefined {
        if (source.ownerId === req.account || !this.switches().kmsChecks) return undefined;
        const encrypted = source.mappings.find((m) => m.ebs?.encrypted);
        if (!encrypted) return undefined;
        const key = encrypted.ebs!.kmsKeyId ?? "the AWS managed key alias/aws/ebs";
        return `The KMS key ${key} that encrypts the snapshots of ${source.imageId} (account ${source.ownerId}) is not shared with account ${req.account}.`;
    }

    /** A KMS key as EC2 records it (its ARN), or why it cannot be used. */
    private async resolveKey(req: ImageRequest, keyId: string): Promise<{ arn?: string; problem?: string }> {
        if (!this.switches().kmsChecks) return { arn: keyId };
        const described = await req.json("kms", "TrentService.DescribeKey", { KeyId: keyId });
        const meta = (described.body as { KeyMetadata?: { Arn?: string; KeyState?: string; Enabled?: boolean } }).KeyMetadata;
        if (described.status !== 200 || !meta?.Arn) return { problem: `The KMS key ${keyId} does not exist or is not accessible.` };
        if (meta.Enabled === false || (meta.KeyState && meta.KeyState !== "Enabled")) {
            return { arn: meta.Arn, problem: `The KMS key ${meta.Arn} is ${meta.KeyState ?? "disabled"}.` };
        }
        return { arn: meta.Arn };
    }

    // ---- reading -------------------------------------------------------------------

    /**
     * DescribeImages: ImageIds, Owners (`self`, `amazon`, account ids),
     * ExecutableBy (`self`, `all`, account ids), Filters, IncludeDeprecated,
     * IncludeDisabled, MaxResults (5 to 1000; "You cannot specify this
     * parameter and the ImageIds parameter in the same request") and
     * NextToken. "Recently deregistered images appear in the returned results
     * for a short interval and then return empty results." "If you specify
     * ImageIds ... an error is returned" for one that does not exist
     * (InvalidAMIID.NotFound). Deprecated images: "By default, DescribeImages
     * returns deprecated AMIs only if you own them or specify their IDs; set
     * IncludeDeprecated". Disabled images: only with IncludeDisabled (and only
     * the owner's).
     */
    private describeImages(req: ImageRequest): Reply {
        const { params } = req;
        const s = this.settings();
        const sw = this.switches();
        const ids = listParam(params, "ImageId");
        const owners = listParam(params, "Owner");
        const executableBy = listParam(params, "ExecutableBy");
        const filters = filtersOf(params);
        const maxResults = num(params.get("MaxResults"));
        if (maxResults !== undefined) {
            if (ids.length)
                throw new Refused("InvalidParameterCombination", "The parameter ImageIds cannot be used with the parameter MaxResults");
            if (!Number.isInteger(maxResults) || maxResults < 5 || maxResults > 1000) {
                throw new Refused(
                    "InvalidParameterValue",
                    `Value ( ${params.get("MaxResults")} ) for parameter maxResults is invalid. Expecting a value between 5 and 1000.`,
                );
            }
        }
        for (const id of ids) if (!IMAGE_ID.test(id)) throw new Refused("InvalidAMIID.Malformed", `Invalid id: "${id}"`);
        const includeDeprecated = bool(params.get("IncludeDeprecated")) ?? false;
        const includeDisabled = bool(params.get("IncludeDisabled")) ?? false;
        const matchers = filters.map((f) => this.filterMatcher(f.name, f.values, req));

        const now = this.now();
        const all = [...this.table(req.region).values()].filter((i) => this.visibleTo(i, req.account));
        if (ids.length) {
            const missing = ids.filter((id) => !all.some((i) => i.imageId === id));
            if (missing.length) throw new Refused("InvalidAMIID.NotFound", `The image id '[${missing.join(", ")}]' does not exist`);
        }
        const chosen = all.filter((image) => {
            if (ids.length && !ids.includes(image.imageId)) return false;
            if (owners.length && !owners.some((o) => this.ownedBy(image, o, req.account))) return false;
            if (executableBy.length && !executableBy.some((e) => this.executableBy(image, e, req.account))) return false;
            if (image.state === "disabled" && !(includeDisabled && image.ownerId === req.account)) return false;
            const deprecated = image.deprecationTime !== undefined && Date.parse(image.deprecationTime) <= now;
            if (deprecated && !includeDeprecated && !ids.length && image.ownerId !== req.account) return false;
            return matchers.every((m) => m(image));
        });
        chosen.sort((a, b) => (a.imageId < b.imageId ? -1 : a.imageId > b.imageId ? 1 : 0));

        let page = chosen;
        let nextToken: string | undefined;
        const limit = ids.length ? Infinity : Math.min(maxResults ?? sw.defaultPageSize, s.pageSize ?? Infinity);
        if (Number.isFinite(limit)) {
            const query = JSON.stringify([...params.entries()].filter(([k]) => k !== "NextToken" && k !== "MaxResults").sort());
            let rest = chosen;
            const token = params.get("NextToken");
            if (token) {
                const after = decodeToken(token, query);
                if (after === undefined)
                    throw new Refused(
                        "InvalidPaginationToken",
                        `The pagination token '${token.slice(0, 40)}' is not valid for this request.`,
                    );
                rest = chosen.filter((i) => i.imageId > after);
            }
            page = rest.slice(0, limit);
            if (rest.length > limit) nextToken = encodeToken(page[page.length - 1].imageId, query);
        }
        const items = page.map((image) => this.answerFor(image));
        return ec2Success(
            "DescribeImages",
            `<imagesSet>${items.join("")}</imagesSet>${nextToken ? `<nextToken>${nextToken}</nextToken>` : ""}`,
        );
    }

    /** The image's item in one answer, using up a pending or deregistered answer. */
    private answerFor(image: Image): string {
        if (image.state === "pending") {
            if (image.pendingLeft > 0) image.pendingLeft--;
            const item = imageXml(image);
            if (image.pendingLeft <= 0) this.settle(image);
            return item;
        }
        if (image.state === "deregistered") {
            const item = imageXml(image);
            image.visibleReadsLeft = (image.visibleReadsLeft ?? 1) - 1;
            if (image.visibleReadsLeft <= 0) this.table(image.region).delete(image.imageId);
            return item;
        }
        return imageXml(image);
    }

    private ownedBy(image: Image, owner: string, account: string): boolean {
        if (owner === "self") return image.ownerId === account;
        if (owner === "amazon" || owner === "aws-marketplace") return image.ownerAlias === owner;
        return image.ownerId === owner;
    }

    private executableBy(image: Image, who: string, account: string): boolean {
        if (who === "all") return isPublic(image);
        const id = who === "self" ? account : who;
        return image.ownerId === id || isPublic(image) || image.launchPermissions.userIds.has(id);
    }

    /**
     * The DescribeImages filters golden-ami, the AWS CLI examples and common
     * tools use (the page lists more); an unknown filter name is refused
     * ("InvalidParameterValue: The filter 'x' is invalid"), the hardest reading.
     */
    private filterMatcher(name: string, values: string[], req: ImageRequest): (image: Image) => boolean {
        const res = values.map(wildcard);
        const any = (v: string | undefined) => v !== undefined && res.some((r) => r.test(v));
        const anyOf = (vs: (string | undefined)[]) => vs.some(any);
        const tagMatch = /^tag:(.+)$/.exec(name);
        if (tagMatch) return (i) => any(i.tags.get(tagMatch[1]));
        const fields: Record<string, (i: Image) => boolean> = {
            "image-id": (i) => any(i.imageId),
            name: (i) => any(i.name),
            description: (i) => any(i.description),
            state: (i) => any(i.state),
            "owner-id": (i) => any(i.ownerId),
            "owner-alias": (i) => any(i.ownerAlias),
            architecture: (i) => any(i.architecture),
            "is-public": (i) => any(String(isPublic(i))),
            "image-type": () => any("machine"),
            platform: (i) => any(i.platform),
            "platform-details": (i) => any(i.platformDetails),
            "root-device-type": (i) => any(i.rootDeviceType),
            "root-device-name": (i) => any(i.rootDeviceName),
            "virtualization-type": (i) => any(i.virtualizationType),
            hypervisor: (i) => any(i.hypervisor),
            "creation-date": (i) => any(i.creationDate),
            "deprecation-time": (i) => any(i.deprecationTime),
            "source-image-id": (i) => any(i.sourceImageId),
            "source-image-region": (i) => any(i.sourceImageRegion),
            "source-instance-id": (i) => any(i.sourceInstanceId),
            "ena-support": (i) => any(String(i.enaSupport ?? false)),
            "boot-mode": (i) => any(i.bootMode),
            "tag-key": (i) => anyOf([...i.tags.keys()]),
            "block-device-mapping.snapshot-id": (i) => anyOf(i.mappings.map((m) => m.ebs?.snapshotId)),
            "block-device-mapping.device-name": (i) => anyOf(i.mappings.map((m) => m.deviceName)),
            "block-device-mapping.volume-type": (i) => anyOf(i.mappings.map((m) => m.ebs?.volumeType)),
            "block-device-mapping.volume-size": (i) =>
                anyOf(i.mappings.map((m) => (m.ebs?.volumeSize === undefined ? undefined : String(m.ebs.volumeSize)))),
            "block-device-mapping.encrypted": (i) => anyOf(i.mappings.map((m) => (m.ebs ? String(m.ebs.encrypted ?? false) : undefined))),
        };
        const f = fields[name];
        if (!f) throw new Refused("InvalidParameterValue", `The filter '${name}' is invalid`);
        void req;
        return f;
    }

    /**
     * DescribeImageAttribute: each attribute of ImageAttributeName
     * (`description`, `kernel`, `ramdisk`, `launchPermission`, `productCodes`,
     * `blockDeviceMapping`, `sriovNetSupport`, `bootMode`, `tpmSupport`,
     * `uefiData`, `lastLaunchedTime`, `imdsSupport`, `deregistrationProtection`);
     * an unknown image is InvalidAMIID.NotFound. Only the owner may read
     * launch permissions (the page: "you must be the owner").
     */
    private describeImageAttribute(req: ImageRequest): Reply {
        const attribute = req.params.get("Attribute") ?? "";
        const image = this.mustFind(req, req.params.get("ImageId"));
        const value = (tag: string, v: string | undefined) => (v === undefined ? "" : `<${tag}><value>${xmlEscape(v)}</value></${tag}>`);
        let inner: string;
        switch (attribute) {
            case "description":
                inner = image.description === undefined ? "<description/>" : value("description", image.description);
                break;
            case "kernel":
                inner = value("kernel", image.kernelId);
                break;
            case "ramdisk":
                inner = value("ramdisk", image.ramdiskId);
                break;
            case "launchPermission":
                if (image.ownerId !== req.account) throw new Refused("AuthFailure", `Not authorized for image:${image.imageId}`);
                inner = launchPermissionXml(image.launchPermissions);
                break;
            case "productCodes":
                inner = "<productCodes/>";
                break;
            case "blockDeviceMapping":
                inner = `<blockDeviceMapping>${image.mappings.map(mappingXml).join("")}</blockDeviceMapping>`;
                break;
            case "sriovNetSupport":
                inner = value("sriovNetSupport", image.sriovNetSupport);
                break;
            case "bootMode":
                inner = value("bootMode", image.bootMode);
                break;
            case "tpmSupport":
                inner = value("tpmSupport", image.tpmSupport);
                break;
            case "uefiData":
                inner = value("uefiData", image.uefiData);
                break;
            case "lastLaunchedTime":
                inner = value("lastLaunchedTime", image.lastLaunchedTime);
                break;
            case "imdsSupport":
                inner = value("imdsSupport", image.imdsSupport);
                break;
            case "deregistrationProtection":
                inner = value("deregistrationProtection", this.protectionText(image) ?? "disabled");
                break;
            default:
                throw new Refused("InvalidParameterValue", `Value (${attribute}) for parameter attribute is invalid. Unknown attribute.`);
        }
        return ec2Success("DescribeImageAttribute", `<imageId>${image.imageId}</imageId>${inner}`);
    }

    // ---- changing ------------------------------------------------------------------

    /**
     * ModifyImageAttribute: Description (Description.Value, or Attribute
     * `description` with Value); launch permissions (LaunchPermission.Add/Remove,
     * or Attribute `launchPermission` with OperationType and UserId.N /
     * UserGroup.N / OrganizationArn.N / OrganizationalUnitArn.N); ImdsSupport
     * (`v2.0`, which "cannot be undone"). Organization ARNs of the wrong shape
     * are refused (InvalidParameterValue; the page gives the shape in its
     * examples, not the code, so the generic one). Images encrypted with the
     * AWS managed key cannot be shared ("You can't share an AMI that has
     * encrypted volumes that are encrypted with an AWS managed key",
     * sharingamis-explicit.html); the page gives no code: InvalidParameter.
     */
    private modifyImageAttribute(req: ImageRequest): Reply {
        const { params } = req;
        const image = this.mustFind(req, params.get("ImageId"), { own: true });
        const attribute = params.get("Attribute");
        const description = params.get("Description.Value") ?? (attribute === "description" ? params.get("Value") : null);
        if (description !== null) {
            if (this.switches().validation && description.length > MAX_DESCRIPTION) {
                throw new Refused("InvalidParameterValue", `The description must be at most ${MAX_DESCRIPTION} characters long`);
            }
            image.description = description;
        }
        const imds = params.get("ImdsSupport.Value");
        if (imds !== null) {
            if (imds !== "v2.0")
                throw new Refused("InvalidParameterValue", `Value (${imds}) for parameter ImdsSupport is invalid; the only value is v2.0`);
            image.imdsSupport = imds;
        }
        const changes: { op: "add" | "remove"; fields: Map<string, string> }[] = [
            ...structList(params, "LaunchPermission.Add").map((fields) => ({ op: "add" as const, fields })),
            ...structList(params, "LaunchPermission.Remove").map((fields) => ({ op: "remove" as const, fields })),
        ];
        const op = params.get("OperationType");
        if (op === "add" || op === "remove") {
            for (const u of listParam(params, "UserId")) changes.push({ op, fields: new Map([["UserId", u]]) });
            for (const g of listParam(params, "UserGroup")) changes.push({ op, fields: new Map([["Group", g]]) });
            for (const a of listParam(params, "OrganizationArn")) changes.push({ op, fields: new Map([["OrganizationArn", a]]) });
            for (const a of listParam(params, "OrganizationalUnitArn"))
                changes.push({ op, fields: new Map([["OrganizationalUnitArn", a]]) });
        }
        const validate = this.switches().validation;
        const perms = image.launchPermissions;
        for (const { op: kind, fields } of changes) {
            const user = fields.get("UserId");
            const group = fields.get("Group");
            const org = fields.get("OrganizationArn");
            const ou = fields.get("OrganizationalUnitArn");
            if (validate && kind === "add") {
                if (user !== undefined && !/^\d{12}$/.test(user))
                    throw new Refused("InvalidAMIAttributeItemValue", `User ID '${user}' is invalid`);
                if (group !== undefined && group !== "all")
                    throw new Refused("InvalidParameterValue", `Value (${group}) for parameter group is invalid. Only 'all' is supported.`);
                if (org !== undefined && !ORGANIZATION_ARN.test(org))
                    throw new Refused("InvalidAMIAttributeItemValue", `The organization ARN '${org}' is not valid.`);
                if (ou !== undefined && !OU_ARN.test(ou))
                    throw new Refused("InvalidAMIAttributeItemValue", `The organizational unit ARN '${ou}' is not valid.`);
                const managedKey = image.mappings.some(
                    (m) => m.ebs?.encrypted && (!m.ebs.kmsKeyId || /alias\/aws\/ebs$/.test(m.ebs.kmsKeyId)),
                );
                if (managedKey && (user !== undefined || group !== undefined || org !== undefined || ou !== undefined)) {
                    throw new Refused(
                        "InvalidParameter",
                        `Image ${image.imageId} has snapshots encrypted with the AWS managed key (aws/ebs), which cannot be shared; copy it with a customer managed key first.`,
                    );
                }
            }
            const apply = <T>(set: Set<T>, v: T | undefined) => {
                if (v === undefined) return;
                if (kind === "add") set.add(v);
                else set.delete(v);
            };
            apply(perms.userIds, user);
            apply(perms.groups, group);
            apply(perms.organizationArns, org);
            apply(perms.organizationalUnitArns, ou);
        }
        return ec2Success("ModifyImageAttribute", "<return>true</return>");
    }

    /** ResetImageAttribute: "launchPermission" is the only attribute it takes (the page); it makes the image private. */
    private resetImageAttribute(req: ImageRequest): Reply {
        const image = this.mustFind(req, req.params.get("ImageId"), { own: true });
        const attribute = req.params.get("Attribute");
        if (attribute !== "launchPermission") {
            throw new Refused(
                "InvalidParameterValue",
                `Value (${attribute}) for parameter attribute is invalid. Only launchPermission can be reset.`,
            );
        }
        image.launchPermissions = emptyPermissions();
        return ec2Success("ResetImageAttribute", "<return>true</return>");
    }

    /**
     * DisableImage: "Sets the AMI state to disabled and removes all launch
     * permissions from the AMI. A disabled AMI can't be used for instance
     * launches"; "A disabled AMI does not appear in DescribeImages API calls
     * by default" (IncludeDisabled). EnableImage: "Re-enables a disabled AMI
     * ... it is returned to the available state"; launch permissions are not
     * restored ("the AMI ... is private").
     */
    private enableImage(req: ImageRequest, enable: boolean): Reply {
        const id = req.params.get("ImageId");
        const image = this.mustFind(req, id, { own: true });
        if (enable) {
            if (image.state !== "disabled") throw new Refused("IncorrectState", `Image ${image.imageId} is ${image.state}, not disabled.`);
            image.state = "available";
        } else {
            if (image.state !== "available")
                throw new Refused("IncorrectState", `Image ${image.imageId} is ${image.state}; only available images can be disabled.`);
            image.state = "disabled";
            image.launchPermissions = emptyPermissions();
        }
        return ec2Success(enable ? "EnableImage" : "DisableImage", "<return>true</return>");
    }

    /**
     * EnableImageDeprecation: "You can't specify a date in the past. The upper
     * limit for DeprecateAt is 10 years from now, except for public AMIs,
     * where the upper limit is 2 years from the creation date"; EC2 rounds to
     * the nearest minute (DeprecationTime is reported to the minute).
     */
    private deprecation(req: ImageRequest, action: string): Reply {
        const image = this.mustFind(req, req.params.get("ImageId"), { own: true });
        if (action === "DisableImageDeprecation") {
            delete image.deprecationTime;
        } else {
            const raw = req.params.get("DeprecateAt") ?? "";
            const at = Date.parse(raw);
            if (Number.isNaN(at)) throw new Refused("InvalidParameterValue", `Invalid value for DeprecateAt: ${raw}`);
            if (this.switches().validation) {
                const now = this.now();
                if (at < now - 60_000)
                    throw new Refused("InvalidParameterValue", `DeprecateAt ${raw} is in the past; specify a future date.`);
                const limit = new Date(now);
                limit.setUTCFullYear(limit.getUTCFullYear() + DEPRECATION_MAX_YEARS);
                if (at > limit.getTime()) {
                    throw new Refused("InvalidParameterValue", `DeprecateAt ${raw} is more than ${DEPRECATION_MAX_YEARS} years from now.`);
                }
            }
            image.deprecationTime = new Date(Math.round(at / 60_000) * 60_000).toISOString();
        }
        return ec2Success(action, "<return>true</return>");
    }

    /**
     * Enable/DisableImageDeregistrationProtection; WithCooldown: "enforces
     * deregistration protection for 24 hours after deregistration protection
     * is disabled" (with protectionCooldown). DescribeImages reports
     * `enabled-with-cooldown`, `enabled-without-cooldown`, `disabled`, and in
     * a cooldown `disabled-after <time>` (the user guide does not give that
     * text; the API model types it as a free string: a text that does not
     * start with "enabled" while DeregisterImage is still refused is the
     * hardest on a client).
     */
    private protection(req: ImageRequest, action: string): Reply {
        const image = this.mustFind(req, req.params.get("ImageId"), { own: true });
        if (action === "EnableImageDeregistrationProtection") {
            image.protection = req.params.get("WithCooldown") === "true" ? "enabled-with-cooldown" : "enabled-without-cooldown";
            delete image.cooldownUntil;
        } else {
            if (this.settings().protectionCooldown && image.protection === "enabled-with-cooldown") {
                image.cooldownUntil = this.now() + PROTECTION_COOLDOWN_MS;
            }
            image.protection = "disabled";
        }
        return ec2Success(action, `<return>${xmlEscape(this.protectionText(image) ?? "disabled")}</return>`);
    }

    private protectionText(image: Image): string | undefined {
        if (image.protection === "disabled" && image.cooldownUntil !== undefined && this.now() < image.cooldownUntil) {
            return `disabled-after ${new Date(image.cooldownUntil).toISOString()}`;
        }
        return image.protection;
    }

    // ---- deleting ------------------------------------------------------------------

    /**
     * DeregisterImage: a protected image is refused (the page and the user
     * guide give no code; InvalidParameterValue, which a client cannot tell
     * from a bad request, is the hardest). "DeleteAssociatedSnapshots: ...
     * if a snapshot is associated with multiple AMIs, it won't be deleted";
     * the answer lists each snapshot with its return code. Without it, the
     * snapshots stay, and DeleteSnapshot of one answers InvalidSnapshot.InUse
     * for a few calls right after (snapshotInUseCalls).
     */
    private async deregisterImage(req: ImageRequest): Promise<Reply> {
        const s = this.settings();
        const image = this.mustFind(req, req.params.get("ImageId"), { own: true });
        if (s.deregistrationProtection && image.protection?.startsWith("enabled")) {
            throw new Refused(
                "InvalidParameterValue",
                `Image ${image.imageId} has deregistration protection enabled; disable deregistration protection before deregistering it.`,
            );
        }
        if (s.deregistrationProtection && image.cooldownUntil !== undefined && this.now() < image.cooldownUntil) {
            throw new Refused(
                "InvalidParameterValue",
                `Image ${image.imageId} is in its deregistration protection cooldown until ${new Date(image.cooldownUntil).toISOString()}; it can be deregistered after that.`,
            );
        }
        image.state = "deregistered";
        delete image.stateReason;
        image.visibleReadsLeft = 1 + Math.floor(this.random() * Math.max(1, this.switches().deregisteredReads));
        if (this.switches().deregisteredReads <= 0) this.table(req.region).delete(image.imageId);
        const snapshots = snapshotIdsOfImage(image);
        if (!(s.deleteAssociatedSnapshots && req.params.get("DeleteAssociatedSnapshots") === "true")) {
            for (const snap of snapshots)
                if (s.snapshotInUseCalls > 0) this.snapshotsInUse.set(snap, { imageId: image.imageId, left: s.snapshotInUseCalls });
            return ec2Success("DeregisterImage", "<return>true</return>");
        }
        const results: string[] = [];
        for (const snapshotId of snapshots) {
            let code = "skipped";
            if (!this.imageUsingSnapshot(req.region, snapshotId)) {
                const deleted = await req.moto("DeleteSnapshot", { SnapshotId: snapshotId });
                code = deleted.status === 200 ? "success" : deleted.status >= 500 ? "internal-error" : "client-error";
            }
            results.push(`<item><snapshotId>${xmlEscape(snapshotId)}</snapshotId><returnCode>${code}</returnCode></item>`);
        }
        return ec2Success("DeregisterImage", `<return>true</return><deleteSnapshotResultSet>${results.join("")}</deleteSnapshotResultSet>`);
    }

    /**
     * DeleteSnapshot: "You cannot delete a snapshot of the root device of an
     * EBS volume used by a registered AMI. You must first deregister the AMI"
     * (DeleteSnapshot): InvalidSnapshot.InUse naming the image, for every
     * snapshot a registered image maps (EC2 answers it for data volumes too).
     */
    private async deleteSnapshot(req: ImageRequest): Promise<Reply | undefined> {
        const snapshotId = req.params.get("SnapshotId") ?? "";
        const user = this.imageUsingSnapshot(req.region, snapshotId);
        if (user) throw new Refused("InvalidSnapshot.InUse", `The snapshot ${snapshotId} is currently in use by ${user.imageId}`);
        const justFreed = this.snapshotsInUse.get(snapshotId);
        if (justFreed) {
            if (--justFreed.left <= 0) this.snapshotsInUse.delete(snapshotId);
            throw new Refused("InvalidSnapshot.InUse", `The snapshot ${snapshotId} is currently in use by ${justFreed.imageId}`);
        }
        return undefined; // moto deletes it
    }

    /**
     * CreateTags / DeleteTags: image ids are tagged here, every other id at
     * moto. "InvalidAMIID.NotFound" for an unknown image; tag rules as
     * checkTags. DeleteTags with a key and no value removes the key; with a
     * value, only when it matches.
     */
    private async tags(req: ImageRequest, action: string): Promise<Reply | undefined> {
        const { params } = req;
        const ids = listParam(params, "ResourceId");
        const images = ids.filter((id) => id.startsWith("ami-"));
        if (images.length === 0) {
            if (action === "CreateTags") this.checkTags(this.tagPairs(params));
            return undefined;
        }
        const pairs = this.tagPairs(params);
        if (action === "CreateTags") this.checkTags(pairs);
        const found = images.map((id) => this.mustFind(req, id, { own: true }));
        const rest = ids.filter((id) => !id.startsWith("ami-"));
        if (rest.length) {
            const q: Record<string, string> = {};
            rest.forEach((id, i) => (q[`ResourceId.${i + 1}`] = id));
            for (const [k, v] of params) if (k.startsWith("Tag.")) q[k] = v;
            const reply = await req.moto(action, q);
            if (reply.status !== 200) return reply;
        }
        const keysOnly = structList(params, "Tag").map((f) => ({ key: f.get("Key") ?? "", value: f.get("Value") }));
        for (const image of found) {
            if (action === "CreateTags") for (const [k, v] of pairs) image.tags.set(k, v);
            else if (keysOnly.length === 0) image.tags.clear();
            else for (const { key, value } of keysOnly) if (value === undefined || image.tags.get(key) === value) image.tags.delete(key);
        }
        return ec2Success(action, "<return>true</return>");
    }

    private tagPairs(params: URLSearchParams): Map<string, string> {
        return new Map(structList(params, "Tag").map((f) => [f.get("Key") ?? "", f.get("Value") ?? ""]));
    }

    // ---- launching -----------------------------------------------------------------

    /**
     * RunInstances from an image of this table: "InvalidAMIID.Malformed",
     * "InvalidAMIID.NotFound" (unknown or deregistered), and for a disabled
     * image "A disabled AMI can't be used for instance launches"
     * (DisableImage); a pending image is not yet launchable (the docs are
     * silent on the code: InvalidAMIID.Unavailable, "The specified AMI has
     * been deregistered or is in an invalid state", Error codes). moto then
     * launches the instance with the image's block devices (those the request
     * does not name), so that the instance has the image's volumes; an image
     * snapshot moto does not hold (a public image's) becomes a new volume of
     * its size.
     */
    private async runInstances(req: ImageRequest): Promise<Reply | undefined> {
        if (!this.switches().launchChecks) return undefined;
        const { params } = req;
        const id = params.get("ImageId");
        if (!id) return undefined; // a launch template names it: moto's answer
        const image = this.mustFind(req, id);
        if (image.state === "disabled")
            throw new Refused("InvalidAMIID.Unavailable", `The image ${id} is disabled and can't be used for instance launches.`);
        if (image.state !== "available")
            throw new Refused("InvalidAMIID.Unavailable", `The image ${id} is ${image.state} and can't be launched yet.`);
        const named = new Set(structList(params, "BlockDeviceMapping").map((f) => f.get("DeviceName")));
        let n = structList(params, "BlockDeviceMapping").length;
        const body = new URLSearchParams(params);
        for (const m of image.mappings) {
            if (named.has(m.deviceName) || !m.ebs) continue;
            n++;
            body.set(`BlockDeviceMapping.${n}.DeviceName`, m.deviceName);
            body.set(`BlockDeviceMapping.${n}.Ebs.VolumeSize`, String(m.ebs.volumeSize ?? 8));
            if (m.ebs.volumeType) body.set(`BlockDeviceMapping.${n}.Ebs.VolumeType`, m.ebs.volumeType);
            body.set(`BlockDeviceMapping.${n}.Ebs.DeleteOnTermination`, String(m.ebs.deleteOnTermination));
            if (m.ebs.encrypted) body.set(`BlockDeviceMapping.${n}.Ebs.Encrypted`, "true");
        }
        body.delete("Action");
        body.delete("Version");
        const reply = await req.moto("RunInstances", Object.fromEntries(body));
        if (reply.status === 200) {
            image.lastLaunchedTime = new Date(this.now()).toISOString();
            for (const m of reply.body.matchAll(/<instanceId>([^<]+)<\/instanceId>/g)) this.launchedFrom.set(m[1], image);
        }
        return reply;
    }

    // ---- public images -------------------------------------------------------------

    /**
     * The Amazon Linux images behind the public parameters under
     * `/aws/service/ami-amazon-linux-latest/` ("Query for the latest Amazon
     * Linux AMI IDs using AWS Systems Manager Parameter Store"): public,
     * owned by `amazon`, `available`, EBS-backed (instance-store for the
     * `-s3` ones), `hvm` (`paravirtual` for `-pv-`), with one root snapshot
     * of Amazon's (not in this account's snapshot store). The parameters are
     * moto's own, so each value names an image that exists.
     */
    private seedPublicImages(req: ImageRequest): Promise<void> {
        let seeding = this.seededRegions.get(req.region);
        if (!seeding) {
            seeding = this.loadPublicImages(req).catch(() => {
                this.seededRegions.delete(req.region);
            });
            this.seededRegions.set(req.region, seeding);
        }
        return seeding;
    }

    private async loadPublicImages(req: ImageRequest): Promise<void> {
        const byId = new Map<string, string>();
        let token: string | undefined;
        for (let page = 0; page < 50; page++) {
            const reply = await req.json(
                "ssm",
                "AmazonSSM.GetParametersByPath",
                { Path: AMAZON_LINUX_PATH, Recursive: true, ...(token ? { NextToken: token } : {}) },
                req.region,
            );
            const body = reply.body as { Parameters?: { Name: string; Value: string }[]; NextToken?: string };
            if (reply.status !== 200) return;
            for (const p of body.Parameters ?? []) {
                const leaf = p.Name.slice(AMAZON_LINUX_PATH.length + 1);
                if (IMAGE_ID.test(p.Value) && (!byId.has(p.Value) || leaf.length < byId.get(p.Value)!.length)) byId.set(p.Value, leaf);
            }
            token = body.NextToken;
            if (!token) break;
        }
        // moto's own copy of these images (its `latest_amis` data, when loaded) has their real names and dates.
        const known = new Map<string, string>();
        if (byId.size) {
            const q: Record<string, string> = { "Filter.1.Name": "image-id" };
            [...byId.keys()].forEach((id, i) => (q[`Filter.1.Value.${i + 1}`] = id));
            const reply = await req.moto("DescribeImages", q);
            if (reply.status === 200) for (const item of setItems(reply.body, "imagesSet")) known.set(tagText(item, "imageId") ?? "", item);
        }
        const table = this.table(req.region);
        for (const [imageId, leaf] of byId) {
            if (table.has(imageId)) continue;
            const instanceStore = leaf.endsWith("-s3");
            const moto = known.get(imageId);
            table.set(imageId, {
                imageId,
                region: req.region,
                ownerId: AMAZON_ACCOUNT,
                ownerAlias: "amazon",
                name: (moto && tagText(moto, "name")) || leaf,
                description: (moto && tagText(moto, "description")) || `Amazon Linux (${leaf})`,
                state: "available",
                creationDate: (moto && tagText(moto, "creationDate")) || "2026-11-01T00:00:00.000Z",
                architecture: leaf.includes("arm64") ? "arm64" : "x86_64",
                rootDeviceName: "/dev/xvda",
                rootDeviceType: instanceStore ? "instance-store" : "ebs",
                virtualizationType: leaf.includes("-pv-") ? "paravirtual" : "hvm",
                hypervisor: "xen",
                enaSupport: true,
                bootMode: leaf.startsWith("al2023") ? "uefi-preferred" : undefined,
                imdsSupport: leaf.startsWith("al2023") ? "v2.0" : undefined,
                platformDetails: "Linux/UNIX",
                usageOperation: "RunInstances",
                imageLocation: `amazon/${leaf}`,
                mappings: instanceStore
                    ? [{ deviceName: "/dev/xvda", virtualName: "ephemeral0" }]
                    : [
                          {
                              deviceName: "/dev/xvda",
                              ebs: {
                                  snapshotId: `snap-${imageId.slice(4).padEnd(17, "0").slice(0, 17)}`,
                                  volumeSize: 8,
                                  volumeType: leaf.includes("gp2") ? "gp2" : "gp3",
                                  deleteOnTermination: true,
                                  encrypted: false,
                              },
                          },
                      ],
                tags: new Map(),
                launchPermissions: { ...emptyPermissions(), groups: new Set(["all"]) },
                pendingLeft: 0,
            });
        }
    }
}
