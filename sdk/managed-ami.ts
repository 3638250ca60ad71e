import * as pulumi from "@pulumi/pulumi";
import { commonImageInputs, givenInputs, IMAGE_OUTPUTS, ImageResourceArgs } from "./image-args";
import provider from "./providers/managed-ami";
import { ImageResource } from "./image-resource";
import { defaultRegion } from "./region";

/** Args of {@link ManagedAmi}: those of every image resource but `name` (the image keeps its own). */
export interface ManagedAmiArgs extends Omit<ImageResourceArgs, "name" | "createTimeoutMinutes"> {
    /** The existing AMI to manage, owned by this account. Changing it manages another image instead (a replacement). */
    readonly imageId: pulumi.Input<string>;
}

/**
 * Brings an existing AMI (made by hand, by Packer, by an old script) under
 * management without making a new one: `pulumi up` checks that this account
 * owns it and sets its tags, description, deprecation, protection and launch
 * permissions to the args; from then on it updates like any golden-ami image,
 * and `pulumi destroy` deregisters it and deletes its snapshots (unless
 * `deleteSnapshotsOnDestroy: false`; `retainOnDelete: true` as a resource
 * option releases it untouched).
 *
 * Pulumi's `import` option and `pulumi import` do not work with dynamic
 * providers (the engine gives them no properties to read with); this resource
 * is golden-ami's way to adopt an image.
 *
 * @example
 * ```ts
 * const legacy = new ManagedAmi("legacy-web", { imageId: "ami-0123456789abcdef0", tags: { App: "web" } });
 * ```
 */
export class ManagedAmi extends ImageResource {
    constructor(name: string, args: ManagedAmiArgs, opts?: pulumi.CustomResourceOptions) {
        const inputs = { ...commonImageInputs(args, args.region ?? defaultRegion()), imageId: args.imageId };
        const props = givenInputs(inputs, ["region", "tags", "imageId"]);
        super(provider, name, { ...props, ...IMAGE_OUTPUTS, imageId: args.imageId, name: undefined }, opts, "golden-ami", "ManagedAmi");
    }
}
