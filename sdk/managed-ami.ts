import * as pulumi from "@pulumi/pulumi";
import { CREATE_IMAGE_TIMEOUT_MINUTES } from "./time-limits";
import { imageResourceProps, ImageResourceArgs } from "./image-args";
import type { ImageKind } from "./image-kind";
import provider from "./providers/managed-ami";
import { ImageResource } from "./image-resource";
import { secretInputs } from "./resource-options";
import { booleanRule, imageIdRule } from "./rules/primitives";
import type { ImageInputs } from "./types";

/**
 * Args of {@link ManagedAmi}: those of every image resource but `name` (the
 * image keeps its own), with one difference in meaning: **a property that is
 * not given is left as it is in EC2**, never reset to a default.
 * `description`, `deprecationTime`, `deregistrationProtection`,
 * `launchPermissions` and `snapshotTags` are managed only when given (and
 * dropping one later stops managing it, leaving EC2's value); `tags` sets the
 * listed keys only and never removes a tag.
 */
export interface ManagedAmiArgs extends Omit<ImageResourceArgs, "name" | "createTimeoutMinutes" | "deleteSnapshotsOnDestroy"> {
    /**
     * The existing AMI to manage, owned by this account. Changing it manages
     * another image instead (a replacement): the new one is adopted, then the
     * old one is released untouched (unless `deleteOnRelease: true`).
     * Required, unless the `import` resource option names the image.
     */
    readonly imageId?: pulumi.Input<string>;
    /**
     * When the resource lets go of the image (`pulumi destroy`, the resource
     * removed from the program, or `imageId` changed), deregister it. Without
     * it the image is released as it is: the stack did not create it.
     * @default false
     */
    readonly deleteOnRelease?: pulumi.Input<boolean>;
    /**
     * With `deleteOnRelease: true`, also delete the image's EBS snapshots
     * (a snapshot another image still uses is always kept). Ignored when the
     * image is released untouched.
     * @default false (an adopted image's snapshots were not made by this stack)
     */
    readonly deleteSnapshotsOnDestroy?: pulumi.Input<boolean>;
}

/** ManagedAmi's inputs once `check` has filled in defaults. */
export interface ManagedAmiInputs extends Omit<ImageInputs, "name"> {
    imageId: string;
    deleteOnRelease?: boolean;
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
        { property: "deleteOnRelease", rule: booleanRule },
        {
            property: "name",
            relation: ({ news }) =>
                (news as { name?: unknown }).name !== undefined
                    ? "cannot be set: an adopted image keeps its name (see the name output)"
                    : undefined,
        },
    ],
    createTimeoutMinutes: CREATE_IMAGE_TIMEOUT_MINUTES,
    // An adopted image's snapshots were made by someone else: kept unless deleteSnapshotsOnDestroy is true.
    ownsSnapshots: false,
    example: { region: "us-east-1", imageId: "ami-0123456789abcdef0" },
    outputInputs: ["imageId"],
};

/**
 * Brings an existing AMI (made by hand, by Packer, by an old script) under
 * management without making a new one. It manages only what it is given:
 * `pulumi up` checks that this account owns the image and sets the listed
 * tags and whichever of description, deprecation, protection, snapshot tags
 * and launch permissions the args give; everything else (shares, other tags,
 * protection, deprecation) stays as it is. Preview prints one line per
 * change adoption will make, and names what it leaves alone.
 *
 * Its `tags` output is every tag of the image, as EC2 has it; only the
 * listed keys are compared and set.
 *
 * `pulumi destroy` (or a new `imageId`) releases the image untouched; with
 * `deleteOnRelease: true` it deregisters it instead (and deletes its
 * snapshots only with `deleteSnapshotsOnDestroy: true`).
 *
 * `pulumi import` does not work with dynamic providers (the engine gives
 * them no properties to read with); this resource is golden-ami's way to
 * adopt an image, and its `import: "ami-…"` resource option is taken as
 * `imageId`.
 *
 * @example
 * ```ts
 * const legacy = new ManagedAmi("legacy-web", {
 *     imageId: "ami-0123456789abcdef0",
 *     tags: { App: "web" }, // sets App; the image's other tags stay
 *     publish: { ssmParameter: "/golden/web/latest" },
 * });
 * ```
 */
export class ManagedAmi extends ImageResource {
    constructor(name: string, args: ManagedAmiArgs, opts?: pulumi.CustomResourceOptions) {
        // `import: "ami-…"` adopts that image, as imageId does (the engine's import cannot reach a dynamic provider).
        const imported = opts?.import;
        if (imported !== undefined && args.imageId !== undefined && typeof args.imageId === "string" && args.imageId !== imported) {
            throw new Error(
                `ManagedAmi ${name}: the import option (${imported}) and imageId (${args.imageId}) name different images; drop the import option`,
            );
        }
        const own = {
            imageId: args.imageId ?? imported,
            deleteOnRelease: args.deleteOnRelease,
            secretInputs: secretInputs({
                description: args.description,
                tags: args.tags,
                snapshotTags: args.snapshotTags,
                launchPermissions: args.launchPermissions,
            }),
        };
        const options = imported === undefined ? opts : { ...opts, import: undefined };
        super(provider, name, imageResourceProps(descriptor, name, args, own, options), options, "golden-ami", descriptor.type);
    }
}
