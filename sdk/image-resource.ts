import * as pulumi from "@pulumi/pulumi";

/**
 * The outputs every golden-ami image resource has (AmiFromInstance, AmiCopy,
 * ManagedAmi); each resource adds its own.
 */
export abstract class ImageResource extends pulumi.dynamic.Resource {
    /** The AMI id, e.g. `ami-0123456789abcdef0` (also the resource id). */
    declare readonly imageId: pulumi.Output<string>;
    /** `arn:<partition>:ec2:<region>::image/<imageId>` (`aws`, `aws-cn`, `aws-us-gov`, … by region). */
    declare readonly arn: pulumi.Output<string>;
    /** The image's name. */
    declare readonly name: pulumi.Output<string>;
    /** The region the image lives in. */
    declare readonly region: pulumi.Output<string>;
    /** The account that owns the image. */
    declare readonly ownerId: pulumi.Output<string>;
    /** EC2's state of the image (`available` once created). */
    declare readonly state: pulumi.Output<string>;
    /** When EC2 created the image (ISO 8601). */
    declare readonly creationDate: pulumi.Output<string>;
    /** The snapshot behind the root device. */
    declare readonly rootSnapshotId: pulumi.Output<string | undefined>;
    /** Every EBS snapshot of the image; deleted with it on destroy unless `deleteSnapshotsOnDestroy` is false. */
    declare readonly snapshotIds: pulumi.Output<string[]>;
    /** The image's tags as EC2 has them. */
    declare readonly tags: pulumi.Output<Record<string, string>>;
}
