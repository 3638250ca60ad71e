/* eslint-disable @typescript-eslint/no-explicit-any */
import type * as dynamic from "@pulumi/pulumi/dynamic";
import { descriptor, ManagedAmiInputs } from "../sdk/managed-ami";
import { containsUnknown } from "../sdk/rules/primitives";
import { ImageResourceState, planningHooks } from "./image-planning";

/**
 * ManagedAmi's check and diff: the shared ones from its descriptor, with the
 * one rule of adoption on top: a property not given is left as it is in EC2.
 * So check fills in no default for protection or snapshot tags, and diff
 * compares only what the inputs give (after `pulumi refresh`, state holds
 * EC2's values of everything). No AWS SDK here, except when check reads the
 * image to print what adoption will change (dynamic-providers/managed-ami-hooks.ts).
 */

const shared = planningHooks<any>(descriptor);

/** Settings that are managed only when given. */
export const ADOPTABLE = ["description", "deprecationTime", "deregistrationProtection", "launchPermissions", "snapshotTags"] as const;

/** What an adopted image's check makes of the inputs: the shared defaults, minus those adoption must not invent. */
export function adoptionInputs(news: Partial<ManagedAmiInputs>, checked: Record<string, unknown>): Record<string, unknown> {
    const out = { ...checked };
    for (const k of ["deregistrationProtection", "snapshotTags"] as const) {
        if (news[k] === undefined) delete out[k];
    }
    return out;
}

export async function check(olds: Partial<ManagedAmiInputs>, news: Partial<ManagedAmiInputs>): Promise<dynamic.CheckResult> {
    const result = await shared.check(olds, news);
    const inputs = adoptionInputs(news, result.inputs) as Partial<ManagedAmiInputs>;
    const failures = [...(result.failures ?? [])];
    if (failures.length === 0 && inputs.imageId && inputs.region && !containsUnknown(inputs)) {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const impl = require("./managed-ami-hooks") as typeof import("./managed-ami-hooks");
        const failure = await impl.previewAdoption(inputs as ManagedAmiInputs, { adopting: olds.imageId !== inputs.imageId });
        if (failure) failures.push(failure);
    }
    return { inputs, failures };
}

/** State as the inputs see it: only what they manage (the tags they list, the settings they give). */
export function managedView(olds: ImageResourceState<any>, news: Partial<ManagedAmiInputs>): ImageResourceState<any> {
    const view: Record<string, unknown> = { ...olds };
    for (const k of ADOPTABLE) if (news[k] === undefined) delete view[k];
    const listed = news.tags ?? {};
    view.tags = Object.fromEntries(Object.entries((olds.tags as Record<string, string> | undefined) ?? {}).filter(([k]) => k in listed));
    return view as ImageResourceState<any>;
}

export async function diff(id: string, olds: ImageResourceState<any>, news: ManagedAmiInputs): Promise<dynamic.DiffResult> {
    const result = await shared.diff(id, managedView(olds, news), news);
    // Stored only, but destroy reads it from state: a change must reach state.
    const releaseChanged = (olds.deleteOnRelease ?? false) !== (news.deleteOnRelease ?? false);
    return releaseChanged ? { ...result, changes: true } : result;
}
