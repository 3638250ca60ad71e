import { describeReferences, type ImageReference } from "../sdk/retention-plan";
import type { LaunchPermissions } from "../sdk/types";
import { ec2Client } from "./ec2/client";
import { KEPT_IN_USE_TAG, OWNER_TAG } from "../sdk/ownership";
import { ImageInUseError, imageUsers } from "./ec2/delete-image";
import { describeImages } from "./ec2/finders";
import { addTags } from "./ec2/image-lifecycle";
import type { EC2Client } from "./ec2/sdk-types";
import { printProgress } from "./ec2/waiters";

/**
 * What an image resource's delete does when the guard (ec2/delete-image.ts)
 * finds its image in use. Pulumi calls the same delete hook for a destroy
 * and for the old image of a replacement, so the resource's mark
 * (`golden-ami:owner`, sdk/ownership.ts) tells them apart: a replacement
 * has made (this run, or an earlier one cut short) a new image under the
 * same mark in the same region.
 *
 * - Replace: the old image is kept (never deregistered), tagged
 *   `golden-ami:kept-in-use` beside its mark (and a GoldenImage's pipeline
 *   tag), `up` succeeds and warns naming each user; retention selecting
 *   the mark or the pipeline retires it once nothing uses it.
 * - Destroy: the delete fails naming each user and the two ways out; the
 *   resource stays in state.
 */

/** Marks whose resource made an image in this process (a create, then the replaced image's delete, in one `up`). */
const createdHere = new Map<string, Set<string>>();

/** Called by every create: this mark now has `imageId` as its current image. */
export function noteCreated(owner: string | undefined, imageId: string): void {
    if (!owner) return;
    const ids = createdHere.get(owner) ?? new Set<string>();
    ids.add(imageId);
    createdHere.set(owner, ids);
}

/**
 * True when the resource has a newer image: made by a create of this
 * process, or found under the same mark in the region, made after this one
 * and not itself a kept leftover (a replacement whose delete runs in a later
 * `up`). Images an earlier replacement kept never count: they are older, and
 * tagged so. Without a mark (state from before marks) it cannot be told:
 * false, so the delete fails closed.
 */
export async function isReplacement(
    client: EC2Client,
    owner: string | undefined,
    image: { imageId: string; creationDate?: string },
): Promise<boolean> {
    if (!owner) return false;
    if ([...(createdHere.get(owner) ?? [])].some((id) => id !== image.imageId)) return true;
    const since = Date.parse(image.creationDate ?? "");
    const siblings = await describeImages(client, [{ Name: `tag:${OWNER_TAG}`, Values: [owner] }]);
    return siblings.some(
        (i) =>
            i.ImageId !== image.imageId &&
            (i.State === "available" || i.State === "pending") &&
            !(i.Tags ?? []).some((t) => t.Key === KEPT_IN_USE_TAG) &&
            (Number.isNaN(since) || Date.parse(i.CreationDate ?? "") >= since),
    );
}

/** Tags the kept image so that retention can find it (never an adopted image: `owner` unset). */
export async function markKept(client: EC2Client, imageId: string, owner: string | undefined, at = new Date()): Promise<void> {
    await addTags(client, [imageId], { [KEPT_IN_USE_TAG]: at.toISOString(), ...(owner ? { [OWNER_TAG]: owner } : {}) });
}

/** The warning `up` prints for a kept image. */
export function keptWarning(op: string, e: ImageInUseError, owner: string | undefined, retireHint: string): string {
    const tagged = owner ? `, tagged ${OWNER_TAG}=${owner} and ${KEPT_IN_USE_TAG}` : "";
    return (
        `warning: ${op}: the old image is kept, not deregistered: it is still in use: ${describeReferences(e.users)}. ` +
        `It leaves the stack${tagged}; ${retireHint}`
    );
}

/** The error a destroy fails with: who uses the image, and the two ways out. */
export function inUseOnDestroy(e: ImageInUseError): string {
    return (
        `the image is still in use: ${describeReferences(e.users)}; nothing was deleted and the resource stays in state. ` +
        `Either end the use (move the instances, templates, groups or parameters to another image, or revoke the sharing) ` +
        `and run the command again, or keep the image: set the \`retainOnDelete: true\` resource option, run \`pulumi up\`, then destroy. ` +
        `(A replacement that keeps the image's name must delete the old image first: give the new image another name, or leave name unset.)`
    );
}

/**
 * Preview's word on a replacement (called by `diff` only when it replaces
 * an image state has): whether the old image is in use now, so that the
 * reviewer reads before `up` that it will be kept, or, when the new image
 * needs the old one's name, that the replacement will stop. Never fails the
 * diff: what cannot be read is said, and `up` asks again before deleting.
 */
export async function previewReplacement(olds: {
    imageId: string;
    region: string;
    name?: string;
    owner?: string;
    launchPermissions?: LaunchPermissions;
    publish?: { ssmParameter?: string };
    deleteBeforeReplace: boolean;
}): Promise<void> {
    const label = `AMI (${olds.name ?? "?"}) ${olds.imageId}`;
    let users: ImageReference[];
    try {
        const client = ec2Client(olds.region);
        const granted = new Set(ownShares(olds.launchPermissions));
        users = await imageUsers(client, olds.region, olds.imageId, {
            deleteSnapshots: false,
            timeoutMinutes: 1,
            own: (r) =>
                (r.kind === "launch-permission" && granted.has(r.id)) ||
                ((r.kind === "ssm-parameter" || r.kind === "ssm:Parameter") &&
                    !!olds.publish?.ssmParameter &&
                    r.id.replace(/^\//, "") === olds.publish.ssmParameter.replace(/^\//, "")),
        });
    } catch (e) {
        printProgress(
            `${label}: replacing it; could not tell whether the old image is in use (${(e as Error).message}); up checks again before deleting it`,
        );
        return;
    }
    if (users.length === 0) return;
    printProgress(
        olds.deleteBeforeReplace
            ? `${label}: the replacement must delete the old image first (same name), but it is in use: ${describeReferences(users)}; up will stop and keep it (leave name unset for new-before-old)`
            : `${label}: replacing it keeps the old image, not deregistered: it is in use: ${describeReferences(users)}; it leaves the stack tagged ${OWNER_TAG}${olds.owner ? `=${olds.owner}` : ""} for retention`,
    );
}

/** The shares a resource's own `launchPermissions` grant, as the guard names them ("account 1234…"). */
export function ownShares(perms: LaunchPermissions | undefined): string[] {
    return [
        ...(perms?.userIds ?? []).map((id) => `account ${id}`),
        ...(perms?.organizationArns ?? []).map((arn) => `organization ${arn}`),
        ...(perms?.organizationalUnitArns ?? []).map((arn) => `organizational unit ${arn}`),
        ...(perms?.public ? ["the public"] : []),
    ];
}
