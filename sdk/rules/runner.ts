import { apply, CheckFailure, fail, Rule } from "./primitives";

/**
 * One runner for every rule table. A table is a list of entries, run in
 * order; each entry is one rule about one property, so adding a rule is one
 * line in one table (the way cdk-nag keeps one rule per unit).
 */

/** What a rule sees: the new inputs, the ones in state (on update), and the time. */
export interface RuleContext<I = Record<string, unknown>> {
    news: I;
    olds: I | undefined;
    now: Date;
}

export type RuleEntry<I = Record<string, unknown>> =
    /**
     * The value of `property` must pass `rule` (skipped while absent or not
     * known yet). With `required`, an absent or empty value fails with that
     * reason.
     */
    | { property: string; rule: Rule; required?: string }
    /** The same, with a rule made from the context (the previous value, the time). */
    | { property: string; ruleFor: (ctx: RuleContext<I>) => Rule; required?: string }
    /**
     * A rule about several properties, reported on `property`; with
     * `unlessFailed`, skipped when `property` already failed.
     */
    | { property: string; relation: (ctx: RuleContext<I>) => string | undefined; unlessFailed?: boolean }
    /** A rule that reports its own failures (for nested values such as a selector). */
    | { name: string; failures: (ctx: RuleContext<I>) => CheckFailure[] };

export type RuleTable<I = Record<string, unknown>> = readonly RuleEntry<I>[];

/** Runs the table's entries in order and returns every failure, one per bad property. */
export function runRules<I>(table: RuleTable<I>, ctx: RuleContext<I>): CheckFailure[] {
    const failures: CheckFailure[] = [];
    const news = ctx.news as Record<string, unknown>;
    for (const entry of table) {
        if ("failures" in entry) {
            failures.push(...entry.failures(ctx));
        } else if ("relation" in entry) {
            if (entry.unlessFailed && failures.some((f) => f.property === entry.property)) continue;
            const reason = entry.relation(ctx);
            if (reason) failures.push(fail(entry.property, reason));
        } else {
            const value = news[entry.property];
            if (entry.required !== undefined && (value === undefined || value === "")) {
                failures.push(fail(entry.property, entry.required));
                continue;
            }
            apply(failures, entry.property, value, "ruleFor" in entry ? entry.ruleFor(ctx) : entry.rule);
        }
    }
    return failures;
}
