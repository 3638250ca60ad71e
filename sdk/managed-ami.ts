import * as pulumi from "@pulumi/pulumi";
import { CREATE_IMAGE_TIMEOUT_MINUTES } from "../dynamic-providers/ec2/limits";
import { imageResourceProps, ImageResourceArgs } from "./image-args";
import type { ImageKind } from "./image-kind";
import provider from "./providers/managed-ami";
import { ImageResource } from "./image-resource";
import { imageIdRule } from "./rules/primitives";
import type { ImageInputs } from "./types";

/** Args of {@link ManagedAmi}: those of every image resource but `name` (the image keeps its own). */
export interface ManagedAmiArgs extends Omit<ImageResourceArgs, "name" | "createTimeoutMinutes"> {
    /** The existing AMI to manage, owned by this account. Changing it manages another image instead (a replacement). */
    readonly imageId: pulumi.Input<string>;
}

/** ManagedAmi's inputs once `check` has filled in defaults. */
export interface ManagedAmiInputs extends Omit<ImageInputs, "name"> {
    imageId: string;
}

/**
 * What golden-ami knows about ManagedAmi (see ImageKind): another image, or
 * another region, is another resource; the name is the image's own.
 */
export const descriptor: ImageKind<ManagedAmiInputs> = {
    type: "ManagedAmi",
    module: "managed-ami",
    identity: [{ key: "imageId" }, { key: "region" }],
    name: "image",
    defaults: {},
    rules: [
        { property: "imageId", rule: imageIdRule, required: "is required: the id of the existing AMI to manage" },
        {
            property: "name",
            relation: ({ news }) =>
                (news as { name?: unknown }).name !== undefined
                    ? "cannot be set: an adopted image keeps its name (see the name output)"
                    : undefined,
        },
    ],
    createTimeoutMinutes: CREATE_IMAGE_TIMEOUT_MINUTES,
    // Today's behaviour: destroy deletes an adopted image's snapshots unless deleteSnapshotsOnDestroy is false.
    ownsSnapshots: true,
    outputInputs: ["imageId"],
};

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
        super(provider, name, imageResourceProps(descriptor, name, args, { imageId: args.imageId }), opts, "golden-ami", descriptor.type);
    }
}
