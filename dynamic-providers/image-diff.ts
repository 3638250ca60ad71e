import type * as dynamic from "@pulumi/pulumi/dynamic";
import { isDeepStrictEqual } from "node:util";
import type { ImageOutputs, LaunchPermissions } from "../sdk/types";

/**
 * What every image resource's `check` and `diff` need, and nothing that loads
 * the AWS SDK: preview runs these for every image resource, so they stay light.
 */

/** EC2 keeps deprecation times to the minute. */
export function sameDeprecationTime(a: string | undefined, b: string | undefined): boolean {
    if (!a || !b) return !a && !b;
    return Math.round(Date.parse(a) / 60000) === Math.round(Date.parse(b) / 60000);
}

/** One spelling for "no permissions": empty lists and `public: false` are left out. */
export function normalizeLaunchPermissions(p: LaunchPermissions | undefined): LaunchPermissions {
    const out: LaunchPermissions = {};
    const sorted = (xs: string[] | undefined) => [...new Set(xs ?? [])].sort();
    if (p?.userIds?.length) out.userIds = sorted(p.userIds);
    if (p?.organizationArns?.length) out.organizationArns = sorted(p.organizationArns);
    if (p?.organizationalUnitArns?.length) out.organizationalUnitArns = sorted(p.organizationalUnitArns);
    if (p?.public) out.public = true;
    return out;
}

/** Inputs every image resource has, after `check` filled in defaults. */
export interface CommonImageInputs {
    name: string;
    region: string;
    description?: string;
    tags?: Record<string, string>;
    snapshotTags?: Record<string, string>;
    deprecationTime?: string;
    deregistrationProtection?: boolean;
    launchPermissions?: LaunchPermissions;
    deleteSnapshotsOnDestroy?: boolean;
    createTimeoutMinutes?: number;
    deleteTimeoutMinutes?: number;
    /**
     * Tags the image got from elsewhere at create time (AmiCopy's
     * `copyImageTags`): kept in state, wanted on the image under `tags`.
     */
    copiedTags?: Record<string, string>;
}

/**
 * The defaults every image resource's `check` fills in: snapshot tags follow
 * the image tags, no deregistration protection, snapshots deleted on destroy.
 * The result carries no undefined values (the engine refuses them).
 */
export function withImageDefaults<T extends Partial<CommonImageInputs>>(news: T, own: Record<string, unknown> = {}): T {
    return compact({
        ...news,
        ...own,
        snapshotTags: news.snapshotTags ?? news.tags,
        deregistrationProtection: news.deregistrationProtection ?? false,
        deleteSnapshotsOnDestroy: news.deleteSnapshotsOnDestroy ?? true,
    });
}

/** The tags the image should have: what it was given at create time, then `tags` on top. */
export function wantedImageTags(inputs: CommonImageInputs, copiedTags = inputs.copiedTags): Record<string, string> {
    return { ...(copiedTags ?? {}), ...(inputs.tags ?? {}) };
}

/** What an image resource keeps in state: its inputs and the image's outputs. */
export type ImageState<I extends CommonImageInputs = CommonImageInputs> = I & ImageOutputs;

/** Changing these never touches EC2; they are only stored. */
const STORED_ONLY = ["deleteSnapshotsOnDestroy", "createTimeoutMinutes", "deleteTimeoutMinutes"] as const;

/** Which properties differ between state and new inputs, each compared the way EC2 keeps it. */
export function changedProperties(oldProps: object, newProps: object, keys: readonly string[]): string[] {
    const olds = oldProps as Record<string, unknown>;
    const news = newProps as Record<string, unknown>;
    const same: Record<string, (a: unknown, b: unknown) => boolean> = {
        tags: (a, b) => isDeepStrictEqual(a ?? {}, b ?? {}),
        snapshotTags: (a, b) => isDeepStrictEqual(a ?? {}, b ?? {}),
        description: (a, b) => (a ?? "") === (b ?? ""),
        deprecationTime: (a, b) => sameDeprecationTime(a as string | undefined, b as string | undefined),
        deregistrationProtection: (a, b) => !!a === !!b,
        launchPermissions: (a, b) =>
            isDeepStrictEqual(normalizeLaunchPermissions(a as LaunchPermissions), normalizeLaunchPermissions(b as LaunchPermissions)),
        deleteSnapshotsOnDestroy: (a, b) => (a ?? true) === (b ?? true),
        blockDeviceMappings: (a, b) => isDeepStrictEqual(a ?? [], b ?? []),
    };
    return keys.filter((k) => !(same[k] ?? isDeepStrictEqual)(olds[k], news[k]));
}

/** Properties every image resource updates in place. */
export const IN_PLACE = [
    "tags",
    "snapshotTags",
    "description",
    "deprecationTime",
    "deregistrationProtection",
    "launchPermissions",
] as const;

/**
 * The diff table: `replaceKeys` replace the image, the shared in-place keys
 * update it. When a replacement would keep the same name in the same region,
 * the old image goes first (EC2 names are unique per region).
 */
export function diffImage(olds: CommonImageInputs, news: CommonImageInputs, replaceKeys: readonly string[]): dynamic.DiffResult {
    // State has the image's tags as EC2 has them, copied ones included.
    const wanted = { ...news, tags: wantedImageTags(news, olds.copiedTags) };
    const changed = changedProperties(olds, wanted, [...replaceKeys, ...IN_PLACE, ...STORED_ONLY]);
    const replaces = changed.filter((k) => replaceKeys.includes(k));
    const sameName = olds.name === news.name && olds.region === news.region;
    return {
        changes: changed.length > 0,
        replaces,
        deleteBeforeReplace: replaces.length > 0 && sameName,
    };
}

/**
 * Drops undefined values: the dynamic provider sends properties as protobuf
 * Structs, which refuse `undefined` ("Unexpected struct type").
 */
export function compact<T extends object>(props: T): T {
    return JSON.parse(JSON.stringify(props)) as T;
}
