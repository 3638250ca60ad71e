/* eslint-disable @typescript-eslint/no-explicit-any */
import * as pulumi from "@pulumi/pulumi";
import { autoImageName } from "./auto-name";
import { identityValues, ImageKind } from "./image-kind";
import { ownerMarkValue } from "./ownership";
import { defaultRegion } from "./region";
import type { PublishArgs, PublishInputs } from "./publish-args";
import { optionInputs, secretCopyInput } from "./resource-options";
import type { AssumeRoleArgs, ImageOutputs, LaunchPermissions } from "./types";

/** Args every image resource (AmiFromInstance, AmiCopy) shares. */
export interface ImageResourceArgs {
    /**
     * The AMI name (3–128 letters, digits, spaces and `( ) [ ] . / - ' @ _`),
     * unique per region in the account. Changing it replaces the image.
     * @default the resource name and a short hash, e.g. `web-1a2b3c4d`
     */
    readonly name?: pulumi.Input<string>;
    /** The image's description (at most 255 characters). Updated in place. */
    readonly description?: pulumi.Input<string>;
    /** Tags on the image. Updated in place; a tag changed by hand is put back by the next `pulumi up`. */
    readonly tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /**
     * Tags on the image's EBS snapshots. Updated in place.
     * @default the same as `tags` (secret where `tags` are; none for AmiFromSnapshot: its snapshots are the user's)
     */
    readonly snapshotTags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /**
     * When EC2 marks the image deprecated (RFC 3339, e.g. `2027-01-31T00:00:00Z`,
     * kept to the minute). Must be in the future when set or changed. Updated in
     * place; unset to undo the deprecation.
     * @default never deprecated
     */
    readonly deprecationTime?: pulumi.Input<string>;
    /**
     * Refuse deregistration of the image while on. Updated in place. A
     * protected image cannot be destroyed: set this back to false and run
     * `pulumi up` first.
     * @default false
     */
    readonly deregistrationProtection?: pulumi.Input<boolean>;
    /**
     * Accounts, organizations and OUs that may launch the image; `public: true`
     * makes it public, the only way golden-ami ever does. Updated in place:
     * permissions not listed are revoked.
     * @default only the owner may launch it
     */
    readonly launchPermissions?: pulumi.Input<LaunchPermissions>;
    /**
     * On destroy, delete the image's EBS snapshots after deregistering it (a
     * snapshot another image still uses is always kept). For AmiFromSnapshot,
     * whose snapshots are the user's, true also lets `snapshotTags` tag them.
     * @default true, except for AmiFromSnapshot (false: the snapshots were given, not made)
     */
    readonly deleteSnapshotsOnDestroy?: pulumi.Input<boolean>;
    /**
     * The region of the image. Changing it replaces the image.
     * @default the stack's `aws:region`, else `AWS_REGION`, else `AWS_DEFAULT_REGION`
     */
    readonly region?: pulumi.Input<string>;
    /**
     * How long to wait for the image to become available. Past it the create
     * fails but the image stays in state, and the next `pulumi up` waits again.
     * The resource option `customTimeouts: { create: "90m" }` sets it too.
     * @default 40 for AmiFromInstance and AmiFromSnapshot, 240 for AmiCopy
     */
    readonly createTimeoutMinutes?: pulumi.Input<number>;
    /**
     * How long deregistering and deleting snapshots may take (snapshots are
     * retried while EC2 still reports them in use). The resource option
     * `customTimeouts: { delete: "30m" }` sets it too.
     * @default 20
     */
    readonly deleteTimeoutMinutes?: pulumi.Input<number>;
    /**
     * Publish the image id as an SSM parameter of data type `aws:ec2:image`
     * in the image's region, for launch templates to read with
     * `resolve:ssm:<name>` (see PublishArgs). Written once the image is
     * available and its settings applied; a replacement image writes it
     * first, then the old image goes; `pulumi destroy` deletes it (only while
     * it still holds this image). Updated in place; shown in preview.
     * @default not published
     */
    readonly publish?: pulumi.Input<PublishArgs>;
    /**
     * Make every EC2, SSM and Auto Scaling call of this resource in another
     * account, with a role assumed there (see AssumeRoleArgs). Changing the
     * role's account replaces the image (preview names both accounts).
     * @default the caller's credentials (the default credential chain)
     */
    readonly assumeRole?: pulumi.Input<AssumeRoleArgs>;
}

/**
 * The `assumeRole` input as the providers take it: secret as a whole when it
 * has an `externalId`, so that state never holds the id in plaintext.
 */
export function assumeRoleInput(role: pulumi.Input<AssumeRoleArgs> | undefined): pulumi.Input<AssumeRoleArgs> | undefined {
    if (role === undefined) return undefined;
    return pulumi
        .output(role)
        .apply((r) => (r.externalId !== undefined ? pulumi.secret(r) : pulumi.output(r))) as pulumi.Output<AssumeRoleArgs>;
}

/** The `publish` arg as the dynamic providers take it: the publisher of the parameter added (see publisherMark). */
export function publishInput(
    publish: pulumi.Input<PublishArgs> | undefined,
    type: string,
    resourceName: string,
): pulumi.Output<PublishInputs> | undefined {
    if (publish === undefined) return undefined;
    const owner = `${pulumi.getProject()}/${pulumi.getStack()}/${type}/${resourceName}`;
    return pulumi.output(publish).apply((p) => ({ ...p, owner }) as PublishInputs);
}

/**
 * The `publishedParameter` input (see secretCopyInput): the parameter's name
 * as a secret when the program's `publish` (or its `ssmParameter`) is one,
 * so the output made from it is secret in state too; unset otherwise.
 */
export function publishedParameterInput(publish: pulumi.Input<PublishArgs> | undefined): pulumi.Output<string | undefined> | undefined {
    if (publish === undefined) return undefined;
    return secretCopyInput(
        [publish],
        pulumi.output(publish).apply((p) => p?.ssmParameter),
    );
}

/**
 * The `golden-ami:owner` mark of a resource (see sdk/ownership.ts): which
 * stack and resource made an image. An input of every image resource, so
 * that the provider tags what it makes and tells a replacement from a
 * destroy.
 */
export function ownerMark(type: string, resourceName: string): string {
    return ownerMarkValue(pulumi.getProject(), pulumi.getStack(), type, resourceName);
}

/** The inputs of ImageResourceArgs, as the dynamic providers take them. */
export function commonImageInputs(args: ImageResourceArgs, region: pulumi.Input<string> | undefined) {
    return {
        description: args.description,
        tags: args.tags,
        snapshotTags: args.snapshotTags,
        deprecationTime: args.deprecationTime,
        deregistrationProtection: args.deregistrationProtection,
        launchPermissions: args.launchPermissions,
        deleteSnapshotsOnDestroy: args.deleteSnapshotsOnDestroy,
        region,
        createTimeoutMinutes: args.createTimeoutMinutes,
        deleteTimeoutMinutes: args.deleteTimeoutMinutes,
        assumeRole: assumeRoleInput(args.assumeRole),
    };
}

/**
 * Drops the optional inputs that were not given: the engine then has fewer
 * properties to carry for every resource, which keeps preview fast. Keys that
 * are also declared outputs of the class must stay, even when undefined.
 */
export function givenInputs<T extends Record<string, unknown>>(inputs: T, outputs: readonly string[]): Partial<T> {
    return Object.fromEntries(Object.entries(inputs).filter(([k, v]) => v !== undefined || outputs.includes(k))) as Partial<T>;
}

/**
 * The outputs every image resource has that are not also inputs (`name`,
 * `region` and `tags` are both): declared once, unknown until the engine
 * fills them. Their shape is ImageOutputs.
 */
export const IMAGE_OUTPUT_KEYS = [
    "imageId",
    "arn",
    "ownerId",
    "state",
    "creationDate",
    "rootSnapshotId",
    "snapshotIds",
    "publishedParameter",
] as const satisfies readonly (keyof ImageOutputs)[];

/** IMAGE_OUTPUT_KEYS as the properties a resource declares. */
export const IMAGE_OUTPUTS = Object.fromEntries(IMAGE_OUTPUT_KEYS.map((k) => [k, undefined])) as Record<
    (typeof IMAGE_OUTPUT_KEYS)[number],
    undefined
>;

/**
 * The properties an image class sends to the engine, from its descriptor:
 * the kind's own inputs and the shared ones (only those given, plus the
 * declared outputs), the region defaulted, and the name given or automatic
 * (a hash of the kind's identity) unless the image keeps its own.
 */
export function imageResourceProps(
    kind: ImageKind<any>,
    resourceName: string,
    args: ImageResourceArgs,
    own: Record<string, unknown>,
    opts?: pulumi.CustomResourceOptions,
): Record<string, unknown> {
    const region = args.region ?? defaultRegion();
    const fromOptions = optionInputs(
        kind.type,
        resourceName,
        opts,
        `adopt an existing image with new ManagedAmi("${resourceName}", { imageId: "ami-…" })`,
    );
    const inputs: Record<string, unknown> = {
        ...own,
        ...commonImageInputs(args, region),
        createTimeoutMinutes: args.createTimeoutMinutes ?? fromOptions.createTimeoutMinutes,
        deleteTimeoutMinutes: args.deleteTimeoutMinutes ?? fromOptions.deleteTimeoutMinutes,
        replaceOnChanges: fromOptions.replaceOnChanges,
        publish: publishInput(args.publish, kind.type, resourceName),
        // The parameter's name is a copy of publish.ssmParameter: secret in state where that is.
        publishedParameter: publishedParameterInput(args.publish),
        owner: ownerMark(kind.type, resourceName),
    };
    // A copy of secret tags is secret: given as an input, the engine keeps its secret bit in state.
    if (kind.name === "input" && args.snapshotTags === undefined) {
        // Where the snapshots are the resource's (snapshotsOwned): a user's snapshots get no tags unasked.
        inputs.snapshotTags = kind.ownsSnapshots
            ? args.tags
            : pulumi.all([args.tags, args.deleteSnapshotsOnDestroy]).apply(([tags, owned]) => (owned === true ? tags : undefined));
    }
    if (kind.name === "input" && args.name === undefined) {
        // Decided once: `check` keeps the name in state across resource and stack renames (keepDecided in dynamic-providers/image-planning.ts).
        inputs.name = autoImageName(resourceName, identityValues(kind, inputs) as pulumi.Input<unknown>[]);
        inputs.autoNamed = true;
    } else if (kind.name === "input") inputs.name = args.name;
    const props = givenInputs(inputs, [...(kind.name === "input" ? ["name"] : []), "region", "tags", ...kind.outputInputs]);
    return { ...IMAGE_OUTPUTS, ...props, ...(kind.name === "image" ? { name: undefined } : {}) };
}
