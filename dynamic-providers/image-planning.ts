/* eslint-disable @typescript-eslint/no-explicit-any */
import type * as dynamic from "@pulumi/pulumi/dynamic";
import { createHash } from "node:crypto";
import { isDeepStrictEqual } from "node:util";
import { hooksModule, identityValues, ImageKind, replaceKeys, snapshotsOwned } from "../sdk/image-kind";
import { roleAccount } from "../sdk/rules/assume-role";
import { checkImageKindInputs } from "../sdk/rules/image";
import { type CheckFailure, containsUnknown } from "../sdk/rules/primitives";
import type { ImageInputs, ImageOutputs, LaunchPermissions } from "../sdk/types";
import { isReservedTagKey, OWNER_TAG } from "../sdk/ownership";
import { samePublish, PublishInputs } from "../sdk/publish-args";
import { normalizeLaunchPermissions, sameDeprecationTime } from "./ec2/converters";
import { compact } from "./state-values";

export { compact };
export type { ImageInputs };

/**
 * `check` and `diff` of every image kind, made from its descriptor, and
 * nothing that loads the AWS SDK: preview runs these for every image
 * resource, so they stay light (converters.ts imports only types).
 */

/**
 * The defaults `check` fills in: the kind's own, then the shared ones (snapshot
 * tags follow the image tags when the snapshots are the resource's own, no
 * deregistration protection, snapshots deleted on destroy when the kind owns
 * them). The result carries no undefined values (the engine refuses them).
 */
export function withImageDefaults<T extends Partial<ImageInputs>>(news: T, kind: ImageKind<any>): T {
    const values = news as Record<string, unknown>;
    const own = Object.fromEntries(Object.entries(kind.defaults).map(([k, v]) => [k, values[k] ?? v]));
    return compact({
        ...news,
        ...own,
        snapshotTags: news.snapshotTags ?? (snapshotsOwned(kind, news) ? news.tags : undefined),
        deregistrationProtection: news.deregistrationProtection ?? false,
        deleteSnapshotsOnDestroy: news.deleteSnapshotsOnDestroy ?? kind.ownsSnapshots,
    });
}

/**
 * The tags the image should have: what it was given at create time (without
 * another resource's golden-ami marks a copied source carried), then `tags`
 * on top. The resource's `tags` output; {@link markedTags} adds the mark.
 */
export function wantedImageTags(inputs: ImageInputs, copiedTags = inputs.copiedTags): Record<string, string> {
    const copied = Object.fromEntries(Object.entries(copiedTags ?? {}).filter(([k]) => !isReservedTagKey(k)));
    return { ...copied, ...(inputs.tags ?? {}) };
}

/**
 * Tags as EC2 should have them on what the resource made: `tags` with the
 * `golden-ami:owner` mark (sdk/ownership.ts) when the resource has one. The
 * mark is not part of the `tags` output (a program never sets it), and a
 * refresh does not report it as drift.
 */
export function markedTags(tags: Record<string, string>, owner: string | undefined): Record<string, string> {
    return owner ? { ...tags, [OWNER_TAG]: owner } : tags;
}

/** What an image resource keeps in Pulumi's state: its inputs and the image's outputs (not EC2's image `State`). */
export type ImageResourceState<I extends ImageInputs = ImageInputs> = I & ImageOutputs;

/** Changing these never touches EC2; they are only stored. */
// assumeRole: another role in the same account (another account replaces, see planningHooks).
const STORED_ONLY = ["deleteSnapshotsOnDestroy", "createTimeoutMinutes", "deleteTimeoutMinutes", "assumeRole"] as const;
const STORED = new Set<string>(STORED_ONLY);

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
        publish: (a, b) => samePublish(a as PublishInputs | undefined, b as PublishInputs | undefined),
    };
    // A value not known yet (preview, made by another resource) is a change: `up` compares the real one.
    return keys.filter((k) => containsUnknown(news[k]) || !(same[k] ?? isDeepStrictEqual)(olds[k], news[k]));
}

/** Properties every image resource updates in place. */
export const IN_PLACE = [
    "tags",
    "snapshotTags",
    "description",
    "deprecationTime",
    "deregistrationProtection",
    "launchPermissions",
    // The SSM parameter the image id is published to (publish-step.ts): rewritten in place.
    "publish",
] as const;

/**
 * The `state` a refresh records for an image deregistered outside Pulumi
 * whose snapshots are still there (see readImage): `up` makes the image
 * again, `destroy` deletes the snapshots.
 */
export const DEREGISTERED = "deregistered";

/**
 * The diff table: `replaceKeys` replace the image, the shared in-place keys
 * update it. When a replacement would keep the same name in the same region,
 * the old image goes first (EC2 names are unique per region); `check` has
 * then already run the kind's preflight (AmiFromInstance: the source
 * instance and block devices), so the old image is deleted only when the new
 * one can be made. An image deregistered outside Pulumi (`state:
 * "deregistered"` after a refresh) is replaced, new image first: its name is
 * free, and the old snapshots stay tracked until the new image exists.
 */
export function diffImage(
    olds: ImageInputs,
    news: ImageInputs,
    replaceKeys: readonly string[],
    /** The kind's own inputs that update in place (see ImageKind.inPlace). */
    ownInPlace: readonly string[] = [],
    /** Replace keys made from the others (a name made by the class, a build hash): never named as a cause beside one. */
    derived: readonly string[] = [],
): dynamic.DiffResult {
    if ((olds as Partial<ImageOutputs>).state === DEREGISTERED) {
        return { changes: true, replaces: ["state"], deleteBeforeReplace: false };
    }
    // State has the image's tags as EC2 has them, copied ones included.
    const wanted = { ...news, tags: wantedImageTags(news, olds.copiedTags) };
    const changed = changedProperties(olds, wanted, [...replaceKeys, ...IN_PLACE, ...ownInPlace, ...STORED_ONLY]);
    // The replaceOnChanges resource option: those in-place inputs replace too.
    const asked = news.replaceOnChanges ?? [];
    const replacing = changed.filter((k) => replaceKeys.includes(k) || asked.includes(k) || (asked.includes("*") && !STORED.has(k)));
    const causes = replacing.filter((k) => !derived.includes(k));
    const replaces = causes.length > 0 ? causes : replacing;
    const sameName = olds.name === news.name && olds.region === news.region;
    return {
        changes: changed.length > 0,
        replaces,
        deleteBeforeReplace: replaces.length > 0 && sameName,
    };
}

/**
 * A check that asks EC2, made by the kind's implementation module (loaded only
 * when the descriptor says it is needed): a failure, or inputs it resolved
 * with EC2 (GoldenImage's base image id) for `check` to add, so that preview
 * shows them.
 */
export type Ec2Check<I> = (news: Partial<I>, olds?: Partial<I>) => Promise<CheckFailure | { resolved: Partial<I> } | undefined>;

export interface PlanningHooks<I extends Partial<ImageInputs>> {
    check(olds: Partial<I>, news: Partial<I>): Promise<dynamic.CheckResult>;
    diff(id: string, olds: ImageResourceState<any>, news: I): Promise<dynamic.DiffResult>;
}

/** The kind's check (its rules, then the shared ones; defaults filled in) and diff (its identity replaces). */
export function planningHooks<I extends Partial<ImageInputs>>(kind: ImageKind<I>, ec2Check?: () => Ec2Check<I>): PlanningHooks<I> {
    const replaces = replaceKeys(kind);
    // Made from the other inputs: the name when the class made it (or `derive` does), the bake's build hash.
    const derivedKeys = (news: ImageInputs) => [...(news.autoNamed || kind.derive ? ["name"] : []), ...(kind.derive ? ["buildHash"] : [])];
    const diffOf = (olds: ImageResourceState<any>, news: ImageInputs): dynamic.DiffResult => {
        // Another account (assumeRole's) is another image: replaced, new one first (names are unique per account).
        const [before, after] = [roleAccount(olds.assumeRole), roleAccount(news.assumeRole)];
        if (before !== after && !containsUnknown(news.assumeRole)) {
            console.log(
                `${kind.type} ${olds.imageId ?? ""} (${olds.name ?? "?"}) moves from account ${before ?? "of the caller"} to ${after ?? "of the caller"} (assumeRole)`,
            );
            return { changes: true, replaces: ["assumeRole"], deleteBeforeReplace: false };
        }
        if (kind.name === "input") return diffImage(olds, news, replaces, kind.inPlace, derivedKeys(news));
        // The name is the image's own, never an input: compare as if it were unchanged.
        const result = diffImage(olds, { ...news, name: olds.name }, replaces, kind.inPlace);
        // Replacing means adopting another image: the old one is released first.
        return { ...result, deleteBeforeReplace: false };
    };
    return {
        async check(olds, news) {
            const failures = checkImageKindInputs(kind, news, olds);
            let resolved: Partial<I> = {};
            if (failures.length === 0 && ec2Check && kind.needsEc2Check?.(news, olds)) {
                const found = await ec2Check()(news, olds);
                if (found && "resolved" in found) resolved = found.resolved;
                else if (found) failures.push(found);
            }
            const inputs = withImageDefaults({ ...news, ...resolved }, kind);
            const made = kind.derive && failures.length === 0 ? compact(kind.derive(inputs, news)) : inputs;
            return { inputs: keepDecided(kind, olds, made), failures };
        },
        async diff(_id, olds, news) {
            const result = diffOf(olds, news as unknown as ImageInputs);
            if (result.replaces?.length) console.log(replaceReason(kind, olds, result.replaces));
            // A replacement of an image state has: say now whether the old one is in use (loads the EC2 layer only then).
            if (kind.name === "input" && result.replaces?.length && olds.imageId && olds.region && olds.state !== DEREGISTERED) {
                // eslint-disable-next-line @typescript-eslint/no-require-imports
                const { previewReplacement } = require("./image-in-use") as typeof import("./image-in-use");
                await previewReplacement({ ...olds, deleteBeforeReplace: !!result.deleteBeforeReplace });
            }
            // State recorded a change made outside Pulumi that update puts back.
            return kind.changedOutside?.(olds) ? { ...result, changes: true } : result;
        },
    };
}

/**
 * What is decided once and kept in state: a name the class made (no `name`
 * given) stays the one the image was created with until the image is
 * replaced, so renaming the resource (`aliases`) or the stack, which changes
 * the name the class makes, changes nothing in EC2; and the publisher mark of
 * a parameter that stays the same. Without a previous name (a create, also
 * the re-run of an interrupted one) the class's name is used: deterministic,
 * so the re-run finds the image the interrupted run made.
 */
export function keepDecided<T extends Partial<ImageInputs>>(kind: ImageKind<any>, olds: Partial<ImageInputs>, news: T): T {
    const out = { ...news } as Record<string, any>;
    if (kind.name === "input" && news.autoNamed && olds.autoNamed && typeof olds.name === "string" && news.region === olds.region) {
        const now = identityValues(kind, news as Record<string, unknown>);
        if (!containsUnknown(now) && isDeepStrictEqual(now, identityValues(kind, olds as Record<string, unknown>))) out.name = olds.name;
    }
    // The golden-ami:owner mark too: the resource is the same one under its new name.
    if (typeof news.owner === "string" && typeof olds.owner === "string") out.owner = olds.owner;
    if (news.publish && olds.publish?.owner && olds.publish.ssmParameter === news.publish.ssmParameter && !containsUnknown(news.publish)) {
        out.publish = { ...news.publish, owner: olds.publish.owner };
    }
    return out as T;
}

/**
 * The line `diff` prints for a replacement, read in the plain `pulumi
 * preview --diff` (a dynamic provider cannot send a detailed diff): which
 * inputs, or which EC2 state, force it. Names only, never values (a value
 * may be a secret).
 */
export function replaceReason(kind: ImageKind<any>, olds: Partial<ImageInputs & ImageOutputs>, replaces: readonly string[]): string {
    const what = `${kind.type} ${olds.imageId ?? ""} (${olds.name ?? "?"})`;
    if (replaces.includes("state")) {
        return `${what} is replaced: the image was deregistered outside Pulumi (a refresh found it gone); \`pulumi up\` makes it again`;
    }
    const named = replaces.map((k) => (kind.shownAs?.[k] ?? k) + (kind.identity.some((i) => i.key === k) ? "" : " (replaceOnChanges)"));
    return `${what} is replaced because ${named.join(", ")} changed`;
}

/**
 * The idempotency token of a create: the same resource with the same inputs
 * always asks for the same token, so a retried or re-run create never makes a
 * second image. `salt` tells apart an image made again after the first was
 * destroyed. The name, then the kind's identity (never reorder it).
 */
export function identityToken(kind: ImageKind<any>, inputs: Record<string, unknown>, salt = ""): string {
    const identity = [inputs.name, ...identityValues(kind, inputs), salt];
    return `golden-ami-${createHash("sha256").update(JSON.stringify(identity)).digest("hex").slice(0, 52)}`;
}

const planners = new Map<string, PlanningHooks<any>>();

/**
 * The planning hooks of a kind by module name, as the provider objects
 * (`sdk/providers/*`) ask for them: the descriptor comes from the kind's class
 * module; its implementation module (the AWS SDK) only for `checkWithEc2`.
 */
export function planningHooksFor(module: string): PlanningHooks<any> {
    let hooks = planners.get(module);
    if (!hooks) {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const kind = (require(`../sdk/${module}`) as { descriptor: ImageKind<any> }).descriptor;
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        hooks = planningHooks(kind, () => (require(`./${hooksModule(module)}`) as { checkWithEc2: Ec2Check<any> }).checkWithEc2);
        planners.set(module, hooks);
    }
    return hooks;
}

export async function check(module: string, olds: any, news: any): Promise<dynamic.CheckResult> {
    return planningHooksFor(module).check(olds, news);
}

export async function diff(module: string, id: string, olds: any, news: any): Promise<dynamic.DiffResult> {
    return planningHooksFor(module).diff(id, olds, news);
}
