/**
 * The `check` rules of every resource, as the SDK exports them: pure
 * functions of the inputs, so `pulumi preview` refuses bad input before
 * anything is created. The rules live in tables (rules/), one per resource
 * (image kinds keep theirs in their descriptor), run by one runner.
 */
import { descriptor as amiCopy, AmiCopyInputs } from "./ami-copy";
import { descriptor as amiFromInstance, AmiFromInstanceInputs } from "./ami-from-instance";
import { descriptor as goldenImageBake, GoldenImageBakeInputs } from "./golden-image-bake";
import { descriptor as managedAmi, ManagedAmiInputs } from "./managed-ami";
import { checkImageKindInputs, COMMON_IMAGE_RULES, CommonImageInputs } from "./rules/image";
import { CheckFailure } from "./rules/primitives";
import { runRules } from "./rules/runner";

export * from "./rules/primitives";
export { COMMON_IMAGE_RULES, CommonImageInputs } from "./rules/image";
export { baseImageProblem, GOLDEN_IMAGE_BAKE_RULES } from "./rules/golden-image-bake-rules";
export { checkRetentionPolicyInputs, RetentionPolicyCheckInputs, RETENTION_POLICY_RULES } from "./rules/retention-policy-rules";
export { RuleContext, RuleEntry, RuleTable, runRules } from "./rules/runner";

/** What a kind's check takes: the common inputs, plus the kind's own as not yet validated. */
export type CheckInputs<I> = CommonImageInputs & { [K in Exclude<keyof I, keyof CommonImageInputs>]?: unknown };

export type AmiFromInstanceCheckInputs = CheckInputs<AmiFromInstanceInputs>;
export type AmiCopyCheckInputs = CheckInputs<AmiCopyInputs>;
export type ManagedAmiCheckInputs = CheckInputs<ManagedAmiInputs>;
export type GoldenImageBakeCheckInputs = CheckInputs<GoldenImageBakeInputs>;

export function checkCommonImageInputs(
    news: CommonImageInputs,
    olds: CommonImageInputs | undefined,
    now: Date = new Date(),
): CheckFailure[] {
    return runRules(COMMON_IMAGE_RULES, { news, olds, now });
}

/** Every `check` rule of AmiFromInstance. */
export function checkAmiFromInstanceInputs(
    news: AmiFromInstanceCheckInputs,
    olds?: AmiFromInstanceCheckInputs,
    now: Date = new Date(),
): CheckFailure[] {
    return checkImageKindInputs(amiFromInstance, news, olds, now);
}

/** Every `check` rule of AmiCopy that needs no EC2 call. */
export function checkAmiCopyInputs(news: AmiCopyCheckInputs, olds?: AmiCopyCheckInputs, now: Date = new Date()): CheckFailure[] {
    return checkImageKindInputs(amiCopy, news, olds, now);
}

/** Every `check` rule of ManagedAmi. */
export function checkManagedAmiInputs(news: ManagedAmiCheckInputs, olds?: ManagedAmiCheckInputs, now: Date = new Date()): CheckFailure[] {
    return checkImageKindInputs(managedAmi, news, olds, now);
}

/**
 * Every `check` rule of GoldenImage's bake that needs no EC2 call, each
 * failure naming the property as the user wrote it (`build.instanceType`).
 */
export function checkGoldenImageBakeInputs(
    news: GoldenImageBakeCheckInputs,
    olds?: GoldenImageBakeCheckInputs,
    now: Date = new Date(),
): CheckFailure[] {
    return checkImageKindInputs(goldenImageBake, news, olds, now);
}
