/* eslint-disable @typescript-eslint/no-explicit-any */
import type { RuleTable } from "./rules/runner";

/**
 * Everything golden-ami knows about one kind of image resource, written once
 * and read by the resource class (automatic names, which inputs are sent),
 * `check` (defaults, rules), `diff` (what replaces), create (time limits) and
 * destroy (whether snapshots go with the image). No AWS SDK here: preview
 * reads it for every resource.
 */
export interface ImageKind<I = Record<string, unknown>> {
    /** The Pulumi type, e.g. `AmiCopy`. */
    readonly type: string;
    /**
     * The module name of the kind (`ami-copy`): `sdk/<module>.ts` holds this
     * descriptor and the class, `sdk/providers/<module>.ts` the provider
     * object, `dynamic-providers/<module>-hooks.ts` its create and hooks.
     */
    readonly module: string;
    /**
     * The inputs that identify the image, in this order: changing any of them
     * replaces it. Without `name`, with the kind's `defaults` (else the
     * entry's `default`, for an input `check` leaves unset) for an unset value,
     * they are what an automatic name hashes (and AmiCopy's idempotency
     * token, with the name in front): never reorder or rename an entry, or
     * names and tokens of existing images change.
     */
    readonly identity: readonly { readonly key: keyof I & string; readonly default?: unknown }[];
    /** `input`: the name is an input (given, else automatic); `image`: the image's own name (an adopted image). */
    readonly name: "input" | "image";
    /** What `check` fills in for unset inputs of this kind (the shared ones have their own defaults). */
    readonly defaults: Readonly<Partial<Record<keyof I & string, unknown>>>;
    /** The kind's own check rules, run before the shared image rules. */
    readonly rules: RuleTable<Partial<Record<keyof I & string, unknown>>>;
    /** How long create (and an update finishing a create) waits for the image, unless `createTimeoutMinutes` says otherwise. */
    readonly createTimeoutMinutes: number;
    /**
     * Whether the image's snapshots are the resource's own, deleted with it on
     * destroy by default (`deleteSnapshotsOnDestroy`). A kind whose snapshots
     * belong to someone else (a user's source snapshot) must say false.
     */
    readonly ownsSnapshots: boolean;
    /**
     * The inputs of a small valid program of this kind (region and name
     * included): what the tests run every kind's check, diff and preview
     * promises on, so a new kind is tested without listing it anywhere else.
     */
    readonly example: Readonly<Partial<I>>;
    /** Inputs the class also declares as outputs: always sent to the engine, even when unset. */
    readonly outputInputs: readonly (keyof I & string)[];
    /**
     * True when `check` must ask EC2 (AmiCopy: a copy into its source's region
     * under the source's name; AmiFromInstance: a new or changed source
     * instance block devices or reboot choice, the preflight of a replacement); `check` then
     * loads the kind's implementation module and calls its `checkWithEc2`.
     * `olds` are the previous inputs (empty on a create). Pure: preview of
     * every other resource never loads the AWS SDK.
     */
    readonly needsEc2Check?: (news: Partial<I>, olds?: Partial<I>) => boolean;
    /**
     * The kind's own inputs that change without a new image (updated in
     * place, or only stored): `diff` reports a change of any of them as an
     * update. GoldenImage's bake: the base image's spelling, the build time
     * limit, the publish parameter.
     */
    readonly inPlace?: readonly (keyof I & string)[];
    /**
     * Inputs made from the others once `check` has passed (after the
     * defaults and what `checkWithEc2` resolved): GoldenImage's bake derives
     * its build hash, its name and the pipeline tags. `given` are the inputs
     * as the program gave them (before defaults). Pure; a part not known yet
     * leaves what is made from it unknown.
     */
    readonly derive?: (inputs: Partial<I>, given: Partial<I>) => Partial<I>;
    /**
     * How the user wrote an input, when the class nests it (`instanceType`
     * is `build.instanceType`): `check` failures name it so.
     */
    readonly shownAs?: Readonly<Partial<Record<string, string>>>;
    /**
     * True when state records a change made outside Pulumi that `update` puts
     * back (GoldenImage's bake: the published parameter repointed by hand),
     * so `diff` reports a change with unchanged inputs.
     */
    readonly changedOutside?: (state: Partial<I> & Record<string, unknown>) => boolean;
}

/** The inputs whose change replaces the image. */
export function replaceKeys(kind: ImageKind<any>): string[] {
    return kind.identity.map((i) => i.key as string);
}

/** The identity values without the name, defaults filled in: what an automatic name (and a copy token) hashes. */
export function identityValues<T>(kind: ImageKind<any>, inputs: Record<string, T>): (T | unknown)[] {
    const defaults = kind.defaults as Record<string, unknown>;
    return kind.identity.filter((i) => i.key !== "name").map((i) => inputs[i.key] ?? (i.key in defaults ? defaults[i.key] : i.default));
}

/**
 * Whether the image's snapshots are the resource's own to retag and delete:
 * always when the kind made them (`ownsSnapshots`), else only when the user
 * says `deleteSnapshotsOnDestroy: true` (AmiFromSnapshot's, ManagedAmi's).
 * Every path obeys it: the snapshot tags `check` fills in, create, update and
 * delete.
 */
export function snapshotsOwned(kind: Pick<ImageKind<any>, "ownsSnapshots">, inputs: { deleteSnapshotsOnDestroy?: unknown }): boolean {
    return kind.ownsSnapshots || inputs.deleteSnapshotsOnDestroy === true;
}

/** Whether destroy deletes the image's snapshots: `deleteSnapshotsOnDestroy`, else whether the kind made them. */
export function deletesSnapshots(kind: Pick<ImageKind<any>, "ownsSnapshots">, inputs: { deleteSnapshotsOnDestroy?: unknown }): boolean {
    return typeof inputs.deleteSnapshotsOnDestroy === "boolean" ? inputs.deleteSnapshotsOnDestroy : kind.ownsSnapshots;
}

/** The module of a kind's create, read, update and delete, in `dynamic-providers/`: `<module>-hooks`. */
export function hooksModule(module: string): string {
    return `${module}-hooks`;
}
