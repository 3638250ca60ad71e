import type { ImageInputs, LaunchPermissions } from "../sdk/types";
import { launchPermissionsMinus, normalizeLaunchPermissions, sameDeprecationTime } from "./ec2/converters";

/**
 * What adopting (or updating) a ManagedAmi changes, as a pure function of
 * what EC2 has and what the inputs give: the one plan that preview prints
 * and `pulumi up` carries out. A property the inputs do not give is left as
 * it is in EC2; `tags` and `snapshotTags` set the listed keys only (a tag
 * not listed is never removed); `launchPermissions`, when given, is the whole
 * list of who may launch the image.
 */

/** The settings of an image that a ManagedAmi can manage, as EC2 has them now. */
export interface AdoptedImageState {
    description: string;
    tags: Record<string, string>;
    deprecationTime?: string;
    deregistrationProtection: boolean;
    launchPermissions: LaunchPermissions;
    /** Each snapshot's tags; only read when `snapshotTags` is given. */
    snapshotTags?: Record<string, Record<string, string>>;
}

/** The inputs that can change an adopted image; undefined means "leave it as it is". */
export type AdoptionWanted = Pick<
    ImageInputs,
    "description" | "tags" | "snapshotTags" | "deprecationTime" | "deregistrationProtection" | "launchPermissions"
>;

export type AdoptionChange =
    | { property: "description"; from: string; to: string }
    | { property: "tags"; key: string; from?: string; to: string }
    | { property: "snapshotTags"; snapshotId: string; key: string; from?: string; to: string }
    | { property: "deprecationTime"; from?: string; to: string }
    | { property: "deregistrationProtection"; from: boolean; to: boolean }
    | { property: "launchPermissions"; grant: LaunchPermissions; revoke: LaunchPermissions };

const isEmpty = (p: LaunchPermissions) => Object.keys(normalizeLaunchPermissions(p)).length === 0;

/** Every change that brings `current` to `wanted`, touching only what `wanted` gives. */
export function planAdoption(current: AdoptedImageState, wanted: AdoptionWanted): AdoptionChange[] {
    const changes: AdoptionChange[] = [];
    if (wanted.description !== undefined && wanted.description !== current.description) {
        changes.push({ property: "description", from: current.description, to: wanted.description });
    }
    for (const [key, to] of Object.entries(wanted.tags ?? {})) {
        if (current.tags[key] !== to) changes.push({ property: "tags", key, from: current.tags[key], to });
    }
    if (wanted.snapshotTags !== undefined) {
        for (const [snapshotId, tags] of Object.entries(current.snapshotTags ?? {})) {
            for (const [key, to] of Object.entries(wanted.snapshotTags)) {
                if (tags[key] !== to) changes.push({ property: "snapshotTags", snapshotId, key, from: tags[key], to });
            }
        }
    }
    if (wanted.deprecationTime !== undefined && !sameDeprecationTime(wanted.deprecationTime, current.deprecationTime)) {
        changes.push({ property: "deprecationTime", from: current.deprecationTime, to: wanted.deprecationTime });
    }
    if (wanted.deregistrationProtection !== undefined && wanted.deregistrationProtection !== current.deregistrationProtection) {
        changes.push({ property: "deregistrationProtection", from: current.deregistrationProtection, to: wanted.deregistrationProtection });
    }
    if (wanted.launchPermissions !== undefined) {
        const want = normalizeLaunchPermissions(wanted.launchPermissions);
        const have = normalizeLaunchPermissions(current.launchPermissions);
        const grant = normalizeLaunchPermissions(launchPermissionsMinus(want, have));
        const revoke = normalizeLaunchPermissions(launchPermissionsMinus(have, want));
        if (!isEmpty(grant) || !isEmpty(revoke)) changes.push({ property: "launchPermissions", grant, revoke });
    }
    return changes;
}

const q = (v: string | undefined) => (v === undefined ? "(unset)" : JSON.stringify(v));
const who = (p: LaunchPermissions) =>
    [
        ...(p.userIds ?? []),
        ...(p.organizationArns ?? []),
        ...(p.organizationalUnitArns ?? []),
        ...(p.public ? ["everyone (public)"] : []),
    ].join(", ");

/** One line per change, as preview prints it; the values of `secret` properties (secrets in the program) are never shown. */
export function describeAdoptionChange(c: AdoptionChange, secret: ReadonlySet<string> = new Set()): string {
    const shown = (v: string | undefined) => (secret.has(c.property) && v !== undefined ? "[secret]" : q(v));
    switch (c.property) {
        case "description":
            return `description ${shown(c.from)} -> ${shown(c.to)}`;
        case "tags":
            return `tag ${c.key}: ${shown(c.from)} -> ${shown(c.to)}`;
        case "snapshotTags":
            return `snapshot ${c.snapshotId} tag ${c.key}: ${shown(c.from)} -> ${shown(c.to)}`;
        case "deprecationTime":
            return `deprecation time ${q(c.from)} -> ${q(c.to)}`;
        case "deregistrationProtection":
            return `deregistration protection ${c.from ? "on" : "off"} -> ${c.to ? "on" : "off"}`;
        case "launchPermissions": {
            if (secret.has("launchPermissions")) return "launch permissions: [secret]";
            const parts = [];
            if (!isEmpty(c.grant)) parts.push(`grant ${who(c.grant)}`);
            if (!isEmpty(c.revoke)) parts.push(`revoke ${who(c.revoke)}`);
            return `launch permissions: ${parts.join("; ")}`;
        }
    }
}

/** What a ManagedAmi leaves alone because the inputs do not give it: named in the adoption summary. */
export function untouchedSettings(current: AdoptedImageState, wanted: AdoptionWanted): string[] {
    const left: string[] = [];
    const otherTags = Object.keys(current.tags).filter((k) => !(k in (wanted.tags ?? {})) && !k.startsWith("aws:"));
    if (otherTags.length) left.push(`${otherTags.length} other tag(s) (${otherTags.join(", ")})`);
    if (wanted.description === undefined) left.push("description");
    if (wanted.deprecationTime === undefined)
        left.push(current.deprecationTime ? `deprecation (${current.deprecationTime})` : "deprecation");
    if (wanted.deregistrationProtection === undefined)
        left.push(`deregistration protection (${current.deregistrationProtection ? "on" : "off"})`);
    if (wanted.launchPermissions === undefined) {
        left.push(isEmpty(current.launchPermissions) ? "launch permissions" : `launch permissions (${who(current.launchPermissions)})`);
    }
    if (wanted.snapshotTags === undefined) left.push("snapshot tags");
    return left;
}
