import { assumeRoleRule } from "./assume-role";
import { ACCOUNT_ID, apply, booleanRule, CheckFailure, containsUnknown, fail, imageIdRule, regionRule, show, tagsRule } from "./primitives";
import { runRules, RuleTable } from "./runner";

export interface RetentionPolicyCheckInputs {
    regions?: unknown;
    selector?: unknown;
    groupBy?: unknown;
    keepLatest?: unknown;
    maxAgeDays?: unknown;
    action?: unknown;
    deleteSnapshots?: unknown;
    exclude?: unknown;
    dryRun?: unknown;
    retireShared?: unknown;
    copyOnlyAccounts?: unknown;
    launchTemplateVersions?: unknown;
    assumeRole?: unknown;
}

/** How many entries of each list AmiRetentionPolicy's `lastRun` and `pending` keep. */
export const RETENTION_REPORT_LIMITS = {
    /** Per list of a run report (retired, snapshots, skipped). */
    sample: 20,
    /** Failures kept in a run report (each error cut to `errorChars`). */
    failed: 50,
    errorChars: 300,
    /** Groups listed in a pending summary; the rest are counted in `moreGroups`. */
    groups: 10,
    /** Entries listed per group. */
    perGroup: 3,
    /** Held-back images listed. */
    heldBack: 5,
    /** Reasons counted for held-back images. */
    heldBackReasons: 10,
    /** A listed entry's reason is cut to this many characters. */
    reasonChars: 200,
    /**
     * Bytes `pulumi preview --diff` may print for the pending list: while
     * every planned image fits, every one is listed; beyond, the bounded
     * summary (the limits above).
     */
    previewBytes: 60_000,
} as const;

const ACTIONS = ["deregister", "deprecate", "disable"];

const known = (v: unknown) => v !== undefined && v !== null && !containsUnknown(v);

/** AmiRetentionPolicy's rule table: one entry per setting, run in order. */
export const RETENTION_POLICY_RULES: RuleTable<RetentionPolicyCheckInputs> = [
    {
        name: "regions",
        failures: ({ news }) => {
            const failures: CheckFailure[] = [];
            if (!Array.isArray(news.regions) || news.regions.length === 0) {
                if (!containsUnknown(news.regions)) {
                    failures.push(
                        fail(
                            "regions",
                            "no region is set; give regions, or set the stack's aws:region (`pulumi config set aws:region <region>`)",
                        ),
                    );
                }
            } else {
                const bad = news.regions.find((r) => !containsUnknown(r) && regionRule(r, "regions") !== undefined);
                if (bad !== undefined) failures.push(fail("regions", regionRule(bad, "regions")!));
            }
            return failures;
        },
    },
    {
        name: "selector",
        failures: ({ news }) => {
            const failures: CheckFailure[] = [];
            const selector = news.selector as { owners?: unknown; namePattern?: unknown; tags?: unknown } | undefined;
            if (!selector || typeof selector !== "object") {
                if (!containsUnknown(selector)) {
                    failures.push(
                        fail(
                            "selector",
                            'is required: { namePattern?, tags?, owners? }, with namePattern or tags (namePattern: "*" selects every image)',
                        ),
                    );
                }
            } else {
                if (selector.namePattern === undefined && selector.tags === undefined) {
                    failures.push(
                        fail(
                            "selector",
                            'needs namePattern or tags, so no policy selects every AMI by accident; give namePattern: "*" to mean every image',
                        ),
                    );
                }
                if (known(selector.namePattern) && (typeof selector.namePattern !== "string" || selector.namePattern === "")) {
                    failures.push(
                        fail(
                            "selector.namePattern",
                            `must be a non-empty name pattern with * and ? wildcards, got ${show(selector.namePattern)}`,
                        ),
                    );
                }
                if (known(selector.tags)) {
                    const r = tagsRule(selector.tags, "selector.tags");
                    if (r) failures.push(fail("selector.tags", r));
                    else if (Object.keys(selector.tags as object).length === 0)
                        failures.push(fail("selector.tags", 'is empty; give at least one tag, or use namePattern: "*"'));
                }
                if (known(selector.owners)) {
                    const owners = selector.owners;
                    if (!Array.isArray(owners) || owners.some((o) => o !== "self")) {
                        failures.push(
                            fail(
                                "selector.owners",
                                `must be ["self"]: a retention policy retires only this account's images, got ${show(owners)}`,
                            ),
                        );
                    }
                }
            }
            return failures;
        },
    },
    {
        name: "groupBy",
        failures: ({ news }) => {
            const failures: CheckFailure[] = [];
            if (known(news.groupBy) && (!Array.isArray(news.groupBy) || news.groupBy.some((k) => typeof k !== "string" || k === ""))) {
                failures.push(fail("groupBy", `must be a list of tag keys, got ${show(news.groupBy)}`));
            }
            return failures;
        },
    },
    {
        name: "keepLatest",
        failures: ({ news }) => {
            const failures: CheckFailure[] = [];
            if (news.keepLatest === undefined) {
                failures.push(fail("keepLatest", "is required: how many of the newest images of each group to keep (at least 1)"));
            } else if (known(news.keepLatest) && !(Number.isInteger(news.keepLatest) && (news.keepLatest as number) >= 1)) {
                failures.push(
                    fail(
                        "keepLatest",
                        `must be a whole number of at least 1, got ${show(news.keepLatest)}; a policy always keeps the newest image of each group`,
                    ),
                );
            }
            return failures;
        },
    },
    {
        name: "maxAgeDays",
        failures: ({ news }) => {
            const failures: CheckFailure[] = [];
            if (known(news.maxAgeDays) && !(typeof news.maxAgeDays === "number" && news.maxAgeDays > 0)) {
                failures.push(fail("maxAgeDays", `must be a number of days greater than 0, got ${show(news.maxAgeDays)}`));
            }
            return failures;
        },
    },
    {
        name: "action",
        failures: ({ news }) => {
            const failures: CheckFailure[] = [];
            if (known(news.action) && !ACTIONS.includes(news.action as string)) {
                failures.push(fail("action", `${show(news.action)} is not one of ${ACTIONS.map((a) => `"${a}"`).join(", ")}`));
            }
            return failures;
        },
    },
    {
        name: "deleteSnapshots",
        failures: ({ news }) => {
            const failures: CheckFailure[] = [];
            apply(failures, "deleteSnapshots", news.deleteSnapshots, booleanRule);
            if (news.deleteSnapshots === true && known(news.action) && news.action !== "deregister") {
                failures.push(
                    fail(
                        "deleteSnapshots",
                        `applies only to action "deregister" (snapshots of a ${news.action}d image are still needed); drop it or use action "deregister"`,
                    ),
                );
            }
            return failures;
        },
    },
    {
        name: "dryRun",
        failures: ({ news }) => {
            const failures: CheckFailure[] = [];
            apply(failures, "dryRun", news.dryRun, booleanRule);
            return failures;
        },
    },
    {
        property: "launchTemplateVersions",
        rule: (v) =>
            v === "in-use" || v === "all"
                ? undefined
                : `${show(v)} is not a launch-template version rule; use "in-use" ($Default, $Latest and versions groups and fleets name) or "all" (every version)`,
    },
    {
        property: "retireShared",
        rule: (v) =>
            typeof v === "boolean" || v === "when-unused"
                ? undefined
                : `${show(v)} is not a shared-image rule; use false (keep shared images), "when-unused" (retire one only when its usage report shows no other account using it) or true (retire shared images like the others)`,
    },
    {
        property: "copyOnlyAccounts",
        rule: (v) => {
            if (!Array.isArray(v)) return `must be a list of 12-digit AWS account ids, got ${show(v)}`;
            const bad = v.find((a) => !containsUnknown(a) && !(typeof a === "string" && ACCOUNT_ID.test(a)));
            if (bad !== undefined)
                return `${show(bad)} is not an AWS account id; give the 12 digits of each account that only copies the images (e.g. "111122223333")`;
            const repeated = v.find((a, i) => !containsUnknown(a) && v.indexOf(a) !== i);
            return repeated !== undefined ? `repeats ${show(repeated)}; give each account once` : undefined;
        },
    },
    {
        name: "exclude",
        failures: ({ news }) => {
            const failures: CheckFailure[] = [];
            const exclude = news.exclude as
                { imageIds?: unknown; tags?: unknown; inUse?: unknown; launchedWithinDays?: unknown } | undefined;
            if (known(exclude)) {
                if (typeof exclude !== "object" || Array.isArray(exclude)) {
                    failures.push(fail("exclude", "must be an object { imageIds?, tags?, inUse?, launchedWithinDays? }"));
                } else {
                    if (known(exclude.imageIds)) {
                        if (!Array.isArray(exclude.imageIds)) failures.push(fail("exclude.imageIds", "must be a list of AMI ids"));
                        else {
                            const bad = exclude.imageIds.find((id) => !containsUnknown(id) && imageIdRule(id, "") !== undefined);
                            if (bad !== undefined) failures.push(fail("exclude.imageIds", imageIdRule(bad, "")!));
                        }
                    }
                    if (known(exclude.tags)) {
                        const r = tagsRule(exclude.tags, "exclude.tags");
                        if (r) failures.push(fail("exclude.tags", r));
                    }
                    apply(failures, "exclude.inUse", exclude.inUse, booleanRule);
                    if (
                        known(exclude.launchedWithinDays) &&
                        !(typeof exclude.launchedWithinDays === "number" && exclude.launchedWithinDays >= 0)
                    ) {
                        failures.push(
                            fail(
                                "exclude.launchedWithinDays",
                                `must be a number of days (0 or more), got ${show(exclude.launchedWithinDays)}`,
                            ),
                        );
                    }
                }
            }
            return failures;
        },
    },
    { property: "assumeRole", rule: assumeRoleRule },
];

/** Every `check` rule of AmiRetentionPolicy. */
export function checkRetentionPolicyInputs(news: RetentionPolicyCheckInputs): CheckFailure[] {
    return runRules(RETENTION_POLICY_RULES, { news, olds: undefined, now: new Date() });
}
