import * as pulumi from "@pulumi/pulumi";

/**
 * Resource options the dynamic-provider protocol drops, handled by the
 * resource classes: `customTimeouts` become the create and delete time
 * limits, `replaceOnChanges` reaches `diff` as an input, and the options
 * that cannot work (`import`, `customTimeouts.update`) are refused at
 * construction, naming what to use instead. Pure, but for `secretInputs`.
 */

/** What the options add to a resource's inputs. */
export interface OptionInputs {
    createTimeoutMinutes?: number;
    deleteTimeoutMinutes?: number;
    /** Top-level input names (or `*`) whose change replaces the image (from `replaceOnChanges`). */
    replaceOnChanges?: string[];
}

const UNITS: Record<string, number> = { ns: 1e-9, us: 1e-6, µs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };

/**
 * Minutes of a `customTimeouts` duration as Pulumi writes them (Go's
 * `time.ParseDuration`: `30s`, `10m`, `1h30m`, `1.5h`). Undefined for an
 * unset value; an error naming the option for a bad one.
 */
export function timeoutMinutes(value: string | undefined, option: string): number | undefined {
    if (value === undefined || value === "") return undefined;
    const parts = [...value.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)];
    if (parts.length === 0 || parts.map((p) => p[0]).join("") !== value) {
        throw new Error(`${option}: ${JSON.stringify(value)} is not a duration; write it as Pulumi does, e.g. "30m" or "1h30m"`);
    }
    const seconds = parts.reduce((sum, p) => sum + Number(p[1]) * UNITS[p[2]], 0);
    return Math.max(1, Math.ceil(seconds / 60));
}

/** The top-level input a `replaceOnChanges` path names (`tags.App` and `tags["App"]` are `tags`). */
export function topLevelKey(path: string): string {
    return path === "*" ? "*" : path.split(/[.[]/)[0];
}

/**
 * The inputs the options of an image resource (or a retention policy) add,
 * after refusing those that cannot be honoured. `adoptWith` names how to
 * adopt an existing resource instead of `import` (ManagedAmi handles its own).
 */
export function optionInputs(type: string, name: string, opts: pulumi.CustomResourceOptions | undefined, adoptWith: string): OptionInputs {
    const what = `${type} ${name}`;
    if (opts?.import !== undefined) {
        throw new Error(
            `${what}: the import resource option cannot work with golden-ami's dynamic providers (the engine gives them nothing to read the resource with); ${adoptWith}`,
        );
    }
    const t = opts?.customTimeouts;
    if (t?.update !== undefined) {
        throw new Error(
            `${what}: customTimeouts.update has no effect here (updates change settings in seconds); drop it, and use customTimeouts.create for how long the image may take to become available`,
        );
    }
    const out: OptionInputs = {
        createTimeoutMinutes: timeoutMinutes(t?.create, `${what}: customTimeouts.create`),
        deleteTimeoutMinutes: timeoutMinutes(t?.delete, `${what}: customTimeouts.delete`),
    };
    if (opts?.replaceOnChanges?.length) out.replaceOnChanges = [...new Set(opts.replaceOnChanges.map(topLevelKey))].sort();
    return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined)) as OptionInputs;
}

/**
 * The names among `inputs` whose values are secrets: the provider gets them
 * in plaintext (dynamic providers do not take secrets), so it hides their
 * values in what it prints. Unset when none is.
 */
export function secretInputs(inputs: Record<string, unknown>): pulumi.Output<string[] | undefined> {
    const names = Object.entries(inputs).filter(([, v]) => v !== undefined);
    return pulumi.output(Promise.all(names.map(([, v]) => pulumi.isSecret(pulumi.output(v))))).apply((flags) => {
        const secret = names.filter((_, i) => flags[i]).map(([k]) => k);
        return secret.length ? secret : undefined;
    });
}

/**
 * An input under the key of an output that golden-ami makes from `sources`
 * (the published parameter from `publish`, a bake's name from its prefix):
 * `value`, as a secret, when any source is a secret in the program; unset
 * otherwise. A copy of a secret is a secret, but dynamic providers take no
 * secrets: the engine marks an output secret only when the input of the same
 * key was, so an output made from other inputs needs this input to keep the
 * secret bit in state. The provider's `check` keeps the key; create and
 * update write the real value over it.
 */
export function secretCopyInput<T>(sources: readonly unknown[], value: pulumi.Input<T>): pulumi.Output<T | undefined> {
    const given = sources.filter((s) => s !== undefined);
    return pulumi
        .output(Promise.all(given.map((s) => pulumi.isSecret(pulumi.output(s)))))
        .apply((flags) => (flags.includes(true) ? pulumi.secret(value) : undefined)) as pulumi.Output<T | undefined>;
}
