import { show } from "./primitives";
import type { RuleTable } from "./runner";

/**
 * AmiReplicaSet's rules, checked when the program runs (so `pulumi preview`
 * refuses them before any copy is planned): each names the property and the
 * fix. Each copy's own inputs are then checked by AmiCopy's table.
 */

/** What the rules see of AmiReplicaSetArgs. */
export interface ReplicaSetCheckInputs {
    regions?: unknown;
    kmsKeyIds?: unknown;
}

export const REPLICA_SET_RULES: RuleTable<ReplicaSetCheckInputs> = [
    {
        property: "regions",
        required: "is required: give at least one destination region",
        rule: (v) => {
            if (!Array.isArray(v) || v.some((r) => typeof r !== "string")) {
                return (
                    "must be a list of region names known when the program runs (each region is a child resource), not an Output; " +
                    'read them from config (config.requireObject<string[]>("regions")), or make one AmiCopy per region'
                );
            }
            if (v.length === 0) return "is empty; give at least one destination region";
            const repeated = [...new Set(v.filter((r, i) => v.indexOf(r) !== i))];
            return repeated.length ? `repeats ${repeated.join(", ")}; give each region once (one copy per region)` : undefined;
        },
    },
    {
        property: "kmsKeyIds",
        unlessFailed: true,
        relation: ({ news }) => {
            const { regions, kmsKeyIds } = news;
            if (!Array.isArray(regions) || !kmsKeyIds || typeof kmsKeyIds !== "object") return undefined;
            const stray = Object.keys(kmsKeyIds).filter((r) => !regions.includes(r));
            return stray.length
                ? `has a key for ${stray.map(show).join(", ")}, not in regions (${regions.join(", ")}); ` +
                      `add ${stray.length > 1 ? "those regions" : "that region"} to regions, or remove ${stray.length > 1 ? "their keys" : "its key"} (keys are regional)`
                : undefined;
        },
    },
];
