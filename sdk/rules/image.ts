import {
    booleanRule,
    deprecationTimeRule,
    descriptionRule,
    imageNameRule,
    launchPermissionsRule,
    positiveMinutesRule,
    regionRule,
    imageTagsRule,
} from "./primitives";
import type { ImageKind } from "../image-kind";
import { assumeRoleRule } from "./assume-role";
import { CheckFailure } from "./primitives";
import { awsManagedKeyShareFailures } from "./encryption";
import { publishFailures } from "./publish-rules";
import { runRules, RuleTable } from "./runner";

/** Inputs every image resource shares (see ImageResourceArgs), as `check` gets them: anything. */
export interface CommonImageInputs {
    name?: unknown;
    description?: unknown;
    tags?: unknown;
    snapshotTags?: unknown;
    deprecationTime?: unknown;
    deregistrationProtection?: unknown;
    launchPermissions?: unknown;
    deleteSnapshotsOnDestroy?: unknown;
    region?: unknown;
    createTimeoutMinutes?: unknown;
    deleteTimeoutMinutes?: unknown;
    publish?: unknown;
    assumeRole?: unknown;
}

/** The rules every image kind shares, run after the kind's own. */
export const COMMON_IMAGE_RULES: RuleTable<CommonImageInputs> = [
    {
        property: "region",
        rule: regionRule,
        required: "no region is set; set the region arg, or run `pulumi config set aws:region <region>`, or set AWS_REGION",
    },
    { property: "name", rule: imageNameRule },
    { property: "description", rule: descriptionRule },
    { property: "tags", rule: imageTagsRule },
    { property: "snapshotTags", rule: imageTagsRule },
    { property: "deprecationTime", ruleFor: ({ olds, now }) => deprecationTimeRule(olds?.deprecationTime, now) },
    { property: "deregistrationProtection", rule: booleanRule },
    { property: "launchPermissions", rule: launchPermissionsRule },
    { property: "deleteSnapshotsOnDestroy", rule: booleanRule },
    { property: "createTimeoutMinutes", rule: positiveMinutesRule },
    { property: "deleteTimeoutMinutes", rule: positiveMinutesRule },
    { name: "publish", failures: (ctx) => publishFailures(ctx as never) },
    { name: "awsManagedKeyShare", failures: (ctx) => awsManagedKeyShareFailures(ctx as never) },
    { property: "assumeRole", rule: assumeRoleRule },
];

/** Every `check` rule of an image kind: its own table, then the shared one (without `name` when the image keeps its own). */
export function checkImageKindInputs<I>(
    kind: ImageKind<I>,
    news: Partial<I> | CommonImageInputs,
    olds: Partial<I> | CommonImageInputs | undefined,
    now: Date = new Date(),
): CheckFailure[] {
    const common =
        kind.name === "image" ? COMMON_IMAGE_RULES.filter((r) => !("property" in r) || r.property !== "name") : COMMON_IMAGE_RULES;
    const table = [...kind.rules, ...common] as RuleTable<Record<string, unknown>>;
    const failures = runRules(table, { news: news as Record<string, unknown>, olds: olds as Record<string, unknown> | undefined, now });
    return kind.shownAs ? failures.map((f) => shownAs(f, kind.shownAs?.[f.property])) : failures;
}

/** The failure naming the property as the user wrote it (`build.instanceType: ...`). */
function shownAs(f: CheckFailure, shown: string | undefined): CheckFailure {
    return shown && f.reason.startsWith(`${f.property}:`) ? { ...f, reason: `${shown}${f.reason.slice(f.property.length)}` } : f;
}
