import { PARAMETER_TIERS } from "../publish-args";
import { parameterNameProblem } from "../ssm-parameter-name";
import { containsUnknown, fail, CheckFailure, show } from "./primitives";
import type { RuleContext } from "./runner";

/** SSM allows at most 15 levels in a parameter hierarchy (SSM user guide, "Working with parameter hierarchies"). */
export const MAX_PARAMETER_LEVELS = 15;

/** The `publish` arg of an image resource: one failure per bad field, named `publish.<field>`. */
export function publishFailures({ news }: RuleContext<Record<string, unknown>>): CheckFailure[] {
    const p = news.publish;
    if (p === undefined || containsUnknown(p)) return [];
    if (typeof p !== "object" || p === null || Array.isArray(p)) {
        return [fail("publish", `must be an object { ssmParameter, tier?, overwrite? }, got ${show(p)}`)];
    }
    const { ssmParameter, tier, overwrite, owner: _owner, ...rest } = p as Record<string, unknown>;
    const failures: CheckFailure[] = [];
    for (const k of Object.keys(rest)) failures.push(fail(`publish.${k}`, `is not a publish option; use ssmParameter, tier or overwrite`));
    if (ssmParameter === undefined || ssmParameter === "") {
        failures.push(fail("publish.ssmParameter", `is required: the SSM parameter to write the image id to, e.g. "/golden/web/latest"`));
    } else if (!containsUnknown(ssmParameter)) {
        const levels = typeof ssmParameter === "string" ? ssmParameter.replace(/^\//, "").split("/").length : 0;
        const problem =
            parameterNameProblem(ssmParameter, { forWriting: true }) ??
            (levels > MAX_PARAMETER_LEVELS ? `has ${levels} levels; SSM allows at most ${MAX_PARAMETER_LEVELS}` : undefined);
        if (problem) failures.push(fail("publish.ssmParameter", problem));
    }
    if (tier !== undefined && !containsUnknown(tier) && !(PARAMETER_TIERS as readonly unknown[]).includes(tier)) {
        failures.push(fail("publish.tier", `must be one of ${PARAMETER_TIERS.join(", ")}, got ${show(tier)}`));
    }
    if (overwrite !== undefined && !containsUnknown(overwrite) && typeof overwrite !== "boolean") {
        failures.push(fail("publish.overwrite", `must be true or false, got ${show(overwrite)}`));
    }
    return failures;
}
