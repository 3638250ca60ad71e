import {
    CreateTagsCommand,
    DeleteTagsCommand,
    DisableImageCommand,
    DisableImageDeprecationCommand,
    DisableImageDeregistrationProtectionCommand,
    EC2Client,
    EnableImageDeprecationCommand,
    EnableImageDeregistrationProtectionCommand,
    ModifyImageAttributeCommand,
} from "@aws-sdk/client-ec2";
import type { LaunchPermissions } from "../../sdk/types";
import { launchPermissionsMinus, launchPermissionsToEc2, normalizeLaunchPermissions, tagsToRecord } from "./converters";
import { findSnapshots } from "./finders";
import { refuseSharingAwsManagedKey } from "./image-encryption";

/**
 * What an image resource can change in place, written once for every image
 * resource: tags, description, deprecation, deregistration protection and
 * launch permissions. Each function takes what is wanted and what EC2 has now,
 * and makes only the calls the difference needs. Retention's deprecate and
 * disable are here too: one way to do each.
 */

/** Makes the tags of `resourceIds` equal `wanted`, given that they are `current` now. */
export async function reconcileTags(
    client: EC2Client,
    resourceIds: string[],
    wanted: Record<string, string>,
    current: Record<string, string>,
): Promise<void> {
    if (resourceIds.length === 0) return;
    const toSet = Object.entries(wanted).filter(([k, v]) => current[k] !== v);
    const toRemove = Object.keys(current).filter((k) => !(k in wanted) && !k.startsWith("aws:"));
    if (toRemove.length > 0) {
        await client.send(new DeleteTagsCommand({ Resources: resourceIds, Tags: toRemove.map((Key) => ({ Key })) }));
    }
    if (toSet.length > 0) {
        await client.send(new CreateTagsCommand({ Resources: resourceIds, Tags: toSet.map(([Key, Value]) => ({ Key, Value })) }));
    }
}

/** Sets these tags on each of `resourceIds`, leaving their other tags alone. */
export async function addTags(client: EC2Client, resourceIds: string[], tags: Record<string, string>): Promise<void> {
    if (resourceIds.length === 0 || Object.keys(tags).length === 0) return;
    await client.send(
        new CreateTagsCommand({ Resources: resourceIds, Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) }),
    );
}

export async function setDescription(client: EC2Client, imageId: string, description: string): Promise<void> {
    await client.send(new ModifyImageAttributeCommand({ ImageId: imageId, Description: { Value: description } }));
}

export async function setDeprecation(client: EC2Client, imageId: string, time: string | undefined): Promise<void> {
    if (time) {
        await client.send(new EnableImageDeprecationCommand({ ImageId: imageId, DeprecateAt: new Date(time) }));
    } else {
        await client.send(new DisableImageDeprecationCommand({ ImageId: imageId }));
    }
}

export async function setDeregistrationProtection(client: EC2Client, imageId: string, enabled: boolean): Promise<void> {
    if (enabled) {
        await client.send(new EnableImageDeregistrationProtectionCommand({ ImageId: imageId }));
    } else {
        await client.send(new DisableImageDeregistrationProtectionCommand({ ImageId: imageId }));
    }
}

/**
 * Grants and revokes launch permissions so that exactly `wanted` may launch
 * the image. The image becomes public only when `wanted.public` is true.
 */
export async function reconcileLaunchPermissions(
    client: EC2Client,
    imageId: string,
    wanted: LaunchPermissions,
    current: LaunchPermissions,
): Promise<void> {
    const grant = launchPermissionsMinus(normalizeLaunchPermissions(wanted), normalizeLaunchPermissions(current));
    const revoke = launchPermissionsMinus(normalizeLaunchPermissions(current), normalizeLaunchPermissions(wanted));
    await changeLaunchPermissions(client, imageId, grant, revoke);
}

/** Grants `grant` and revokes `revoke` in one call (none when both are empty). */
export async function changeLaunchPermissions(
    client: EC2Client,
    imageId: string,
    grant: LaunchPermissions,
    revoke: LaunchPermissions,
): Promise<void> {
    const add = launchPermissionsToEc2(grant);
    const remove = launchPermissionsToEc2(revoke);
    if (add.length === 0 && remove.length === 0) return;
    // Every share passes here: an image encrypted with an AWS managed key is refused before any is made.
    await refuseSharingAwsManagedKey(client, imageId, grant);
    await client.send(
        new ModifyImageAttributeCommand({
            ImageId: imageId,
            LaunchPermission: {
                ...(add.length ? { Add: add } : {}),
                ...(remove.length ? { Remove: remove } : {}),
            },
        }),
    );
}

/** Makes the tags of each of these snapshots equal `wanted`, reading what they have first. */
export async function reconcileSnapshotTags(client: EC2Client, snapshotIds: string[], wanted: Record<string, string>): Promise<void> {
    for (const s of await findSnapshots(client, snapshotIds)) {
        if (s.SnapshotId) await reconcileTags(client, [s.SnapshotId], wanted, tagsToRecord(s.Tags));
    }
}

/** Disables the image: it can no longer be launched or shared, and can be enabled again. */
export async function disableImage(client: EC2Client, imageId: string): Promise<void> {
    await client.send(new DisableImageCommand({ ImageId: imageId }));
}
