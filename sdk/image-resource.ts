import * as pulumi from "@pulumi/pulumi";

/**
 * The outputs every golden-ami image resource has (AmiFromInstance, AmiCopy,
 * ManagedAmi); each resource adds its own.
 */
export abstract class ImageResource extends pulumi.dynamic.Resource {
    /** The AMI id, e.g. `ami-0123456789abcdef0` (also the resource id). */
    declare readonly imageId: pulumi.Output<string>;

    constructor(
        provider: pulumi.dynamic.ResourceProvider,
        name: string,
        props: pulumi.Inputs,
        opts?: pulumi.CustomResourceOptions,
        module?: string,
        type?: string,
    ) {
        super(provider, name, props, opts, module, type);
        // The image id is the resource id. Taken from the id, it is known at
        // preview when the image is only updated in place (the engine keeps
        // the id, but a dynamic provider's preview of an update has only the
        // inputs as outputs): a copy of an image that gets a new tag then
        // previews as the update `up` makes, not as a replacement of the copy.
        // Unknown at preview exactly when the image is created or replaced.
        // An image given as an input (ManagedAmi adopts one) keeps that input.
        if (props.imageId === undefined) (this as { imageId: pulumi.Output<string> }).imageId = this.id;
    }
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
    /** The SSM parameter holding the image id (see `publish`); unset when not published. */
    declare readonly publishedParameter: pulumi.Output<string | undefined>;
    /** The image's tags as EC2 has them. */
    declare readonly tags: pulumi.Output<Record<string, string>>;
}
