import {
    CreateTagsCommand,
    DeleteTagsCommand,
    DisableImageDeprecationCommand,
    DisableImageDeregistrationProtectionCommand,
    EC2Client,
    EnableImageDeprecationCommand,
    EnableImageDeregistrationProtectionCommand,
    Image,
    LaunchPermission,
    ModifyImageAttributeCommand,
    Tag,
} from "@aws-sdk/client-ec2";
import type { LaunchPermissions } from "../../sdk/types";
import { normalizeLaunchPermissions, sameDeprecationTime } from "../image-diff";

export { normalizeLaunchPermissions, sameDeprecationTime };

/**
 * What an image resource can change in place, written once for every image
 * resource: tags, description, deprecation, deregistration protection and
 * launch permissions. Each function takes what is wanted and what EC2 has now,
 * and makes only the calls the difference needs.
 */

export function tagsToRecord(tags: Tag[] | undefined): Record<string, string> {
    const out: Record<string, string> = {};
    for (const t of tags ?? []) if (t.Key !== undefined) out[t.Key] = t.Value ?? "";
    return out;
}

export function recordToTags(tags: Record<string, string> | undefined): Tag[] {
    return Object.entries(tags ?? {}).map(([Key, Value]) => ({ Key, Value }));
}

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

/** EC2 reports `enabled`, `enabled-with-cooldown`, `disabled` or `disabled-until <time>`. */
export function isDeregistrationProtected(image: Image): boolean {
    return (image.DeregistrationProtection ?? "").startsWith("enabled");
}

export async function setDeregistrationProtection(client: EC2Client, imageId: string, enabled: boolean): Promise<void> {
    if (enabled) {
        await client.send(new EnableImageDeregistrationProtectionCommand({ ImageId: imageId }));
    } else {
        await client.send(new DisableImageDeregistrationProtectionCommand({ ImageId: imageId }));
    }
}

/** EC2's launch permission list, in the shape of the `launchPermissions` arg. */
export function launchPermissionsFromEc2(perms: LaunchPermission[]): LaunchPermissions {
    const sorted = (xs: (string | undefined)[]) => xs.filter((x): x is string => !!x).sort();
    return normalizeLaunchPermissions({
        userIds: sorted(perms.map((p) => p.UserId)),
        organizationArns: sorted(perms.map((p) => p.OrganizationArn)),
        organizationalUnitArns: sorted(perms.map((p) => p.OrganizationalUnitArn)),
        public: perms.some((p) => p.Group === "all"),
    });
}

function toEc2(p: LaunchPermissions): LaunchPermission[] {
    return [
        ...(p.userIds ?? []).map((UserId) => ({ UserId })),
        ...(p.organizationArns ?? []).map((OrganizationArn) => ({ OrganizationArn })),
        ...(p.organizationalUnitArns ?? []).map((OrganizationalUnitArn) => ({ OrganizationalUnitArn })),
        ...(p.public ? [{ Group: "all" as const }] : []),
    ];
}

function minus(a: LaunchPermissions, b: LaunchPermissions): LaunchPermissions {
    const keep = (xs: string[] | undefined, ys: string[] | undefined) => (xs ?? []).filter((x) => !(ys ?? []).includes(x));
    return {
        userIds: keep(a.userIds, b.userIds),
        organizationArns: keep(a.organizationArns, b.organizationArns),
        organizationalUnitArns: keep(a.organizationalUnitArns, b.organizationalUnitArns),
        public: !!a.public && !b.public,
    };
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
    const add = toEc2(minus(normalizeLaunchPermissions(wanted), normalizeLaunchPermissions(current)));
    const remove = toEc2(minus(normalizeLaunchPermissions(current), normalizeLaunchPermissions(wanted)));
    if (add.length === 0 && remove.length === 0) return;
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
