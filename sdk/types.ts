/**
 * Plain (resolved) shapes shared by the resource classes and the dynamic
 * providers. The resource Args wrap these in `pulumi.Input`.
 */
import type { PublishInputs } from "./publish-args";

/**
 * A role to assume for every EC2, SSM and Auto Scaling call of a resource:
 * the resource then lives in the role's account (STS AssumeRole with the
 * caller's default credentials, refreshed before they expire).
 */
export interface AssumeRoleArgs {
    /**
     * The role, e.g. `arn:aws:iam::111122223333:role/golden-ami`. Its account
     * is the resource's: changing the account replaces the resource (a
     * retention policy simply works in the new account); another role in the
     * same account is updated in place.
     */
    readonly roleArn: string;
    /**
     * The external id the role's trust policy asks for. Kept secret in state.
     * @default none
     */
    readonly externalId?: string;
    /**
     * The session name (CloudTrail shows it in the role's account).
     * @default "golden-ami"
     */
    readonly sessionName?: string;
}

/** Who may launch an image besides its owner. */
export interface LaunchPermissions {
    /** AWS account ids (12 digits). */
    userIds?: string[];
    /** AWS Organizations ARNs, e.g. `arn:aws:organizations::111122223333:organization/o-abc123`. */
    organizationArns?: string[];
    /** Organizational unit ARNs. */
    organizationalUnitArns?: string[];
    /**
     * Make the image public: anyone may launch it. The only way golden-ami
     * makes an image public.
     * @default false
     */
    public?: boolean;
}

/** EBS settings of one device of the image. */
export interface EbsBlockDevice {
    /** Size in GiB. @default the instance volume's size */
    volumeSize?: number;
    /** `gp2`, `gp3`, `io1`, `io2`, `st1`, `sc1` or `standard`. */
    volumeType?: string;
    /** IOPS for `gp3`, `io1` and `io2`. */
    iops?: number;
    /** Throughput in MiB/s for `gp3`. */
    throughput?: number;
    /** Delete the volume when an instance launched from the image terminates. @default true */
    deleteOnTermination?: boolean;
    /** Encrypt the volume. */
    encrypted?: boolean;
}

/**
 * One block device of the image. Give `noDevice: true` to leave a volume of
 * the instance (for example a data volume) out of the image.
 */
export interface BlockDeviceMapping {
    /** Device name as on the instance, e.g. `/dev/xvda` or `/dev/sdf`. */
    deviceName: string;
    /** Leave this device out of the image. */
    noDevice?: boolean;
    /** Instance store volume name, e.g. `ephemeral0`. */
    virtualName?: string;
    /** EBS settings for this device. */
    ebs?: EbsBlockDevice;
}

/** What every image resource reports once the image exists. */
export interface ImageOutputs {
    /** The AMI id, e.g. `ami-0123456789abcdef0` (also the resource id). */
    imageId: string;
    /** `arn:<partition>:ec2:<region>::image/<imageId>` (`aws`, `aws-cn`, `aws-us-gov`, … by region). */
    arn: string;
    /** The image's name. */
    name: string;
    /** The region the image lives in. */
    region: string;
    /** The account that owns the image. */
    ownerId: string;
    /** EC2's state of the image: `available` once the resource is created. */
    state: string;
    /** When EC2 created the image (ISO 8601). */
    creationDate: string;
    /** The snapshot behind the root device. */
    rootSnapshotId?: string;
    /** Every EBS snapshot of the image: deleted with it on destroy when `deleteSnapshotsOnDestroy` is true (by default, when golden-ami made them). */
    snapshotIds: string[];
    /** The SSM parameter the image id is published to (see `publish`), once written; secret when `publish.ssmParameter` is. */
    publishedParameter?: string;
    /** The image's tags as EC2 has them. */
    tags: Record<string, string>;
}

/** The inputs every image resource has, as its hooks get them once `check` has filled in defaults. */
export interface ImageInputs {
    name: string;
    region: string;
    /** The role whose account the image is in (see AssumeRoleArgs); the caller's when unset. */
    assumeRole?: AssumeRoleArgs;
    description?: string;
    tags?: Record<string, string>;
    snapshotTags?: Record<string, string>;
    deprecationTime?: string;
    deregistrationProtection?: boolean;
    launchPermissions?: LaunchPermissions;
    deleteSnapshotsOnDestroy?: boolean;
    createTimeoutMinutes?: number;
    deleteTimeoutMinutes?: number;
    /** Where the image id is published (see PublishArgs). */
    publish?: PublishInputs;
    /**
     * Tags the image got from elsewhere at create time (AmiCopy's
     * `copyImageTags`): kept in state, wanted on the image under `tags`.
     */
    copiedTags?: Record<string, string>;
    /**
     * The `golden-ami:owner` mark (`<project>/<stack>/<type>/<resource
     * name>`), set by the resource class: tagged on the images and snapshots
     * the resource makes (never on an adopted image), and how delete tells a
     * replacement from a destroy.
     */
    owner?: string;
    /** The name was made by the class (no `name` given): `check` keeps the one in state until the image is replaced. */
    autoNamed?: boolean;
    /** Inputs (or `*`) whose change replaces the image, from the `replaceOnChanges` resource option. */
    replaceOnChanges?: string[];
    /** Inputs that were secrets in the program: their values are never printed. */
    secretInputs?: string[];
}
