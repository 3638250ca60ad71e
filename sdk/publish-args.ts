import type * as pulumi from "@pulumi/pulumi";

/**
 * Publishing an image's id as an SSM parameter, the way AWS recommends
 * handing golden AMIs to their consumers: a launch template (or Auto Scaling,
 * CloudFormation, another stack) reads `resolve:ssm:<name>` and always gets
 * the current image. Pure: the shapes, the marker and the comparison that
 * preview needs; the SSM calls are in dynamic-providers/publish-step.ts.
 */

/** The SSM parameter tiers (SSM API reference, PutParameter `Tier`). */
export const PARAMETER_TIERS = ["Standard", "Advanced", "Intelligent-Tiering"] as const;
export type ParameterTier = (typeof PARAMETER_TIERS)[number];

/** Where an image resource publishes its id. */
export interface PublishArgs {
    /**
     * The parameter's name, e.g. `/golden/web/latest`: letters, digits and
     * `_ . -`, in `/`-separated levels (at most 15), at most 1011 characters;
     * not under `aws` or `ssm`. Written in the image's region as a `String`
     * of data type `aws:ec2:image`. Changing it moves the publication: the new
     * parameter is written, then the old one deleted (if it still holds this
     * image).
     */
    readonly ssmParameter: pulumi.Input<string>;
    /**
     * `Standard`, `Advanced` or `Intelligent-Tiering`. SSM cannot move an
     * Advanced parameter back to Standard.
     * @default SSM's default tier of the account and region (Standard unless changed)
     */
    readonly tier?: pulumi.Input<ParameterTier>;
    /**
     * Take over a parameter that already exists and was not published by
     * this resource (its description is golden-ami's mark of this resource).
     * Without it such a parameter is refused and the image stays in state
     * unpublished. A parameter taken over is this resource's from then on:
     * `pulumi destroy` deletes it (if it still holds this image).
     * @default false
     */
    readonly overwrite?: pulumi.Input<boolean>;
}

/** `publish` once resolved, with the resource it belongs to (filled in by the class). */
export interface PublishInputs {
    ssmParameter: string;
    tier?: ParameterTier;
    overwrite?: boolean;
    /** `<project>/<stack>/<type>/<resource name>`: what the parameter's description marks as its publisher. */
    owner?: string;
}

/** The description golden-ami writes on a parameter it publishes, and recognizes as its own. */
export function publisherMark(owner: string | undefined): string {
    return `AMI id published by golden-ami for ${owner ?? "an image resource"}`.slice(0, 1024);
}

/** Whether two `publish` values would write the same parameter the same way. */
export function samePublish(a: PublishInputs | undefined, b: PublishInputs | undefined): boolean {
    if (!a || !b) return !a && !b;
    return a.ssmParameter === b.ssmParameter && a.tier === b.tier && !!a.overwrite === !!b.overwrite && a.owner === b.owner;
}
