import type { RetentionPendingSummary, RetentionRunReport } from "../sdk/retention-policy";
import type {
    LaunchTemplateVersionRule,
    RetentionAction,
    RetentionExclusions,
    RetentionSelector,
    RetireShared,
} from "../sdk/retention-plan";
import type { AssumeRole } from "./ec2/client";
import type { SharingRecord } from "./retention-sharing-records";

/** AmiRetentionPolicy's inputs once `check` has filled in defaults and the plan. */
export interface RetentionPolicyInputs {
    regions: string[];
    selector: RetentionSelector;
    groupBy?: string[];
    keepLatest: number;
    maxAgeDays?: number;
    action: RetentionAction;
    deleteSnapshots: boolean;
    exclude: RetentionExclusions;
    dryRun: boolean;
    retireShared?: RetireShared;
    copyOnlyAccounts?: string[];
    launchTemplateVersions?: LaunchTemplateVersionRule;
    /** The role whose account the policy works in (see withRole); the caller's when unset. */
    assumeRole?: AssumeRole;
    /** The resource's name, for the line preview prints and the plan file. */
    policyName?: string;
    /**
     * Whether the program runs for a preview (`pulumi.runtime.isDryRun()`),
     * set by the SDK; `check` reads it and drops it, so it never reaches
     * state. At `up` the checked `pending` keeps its counts and digest but not
     * its lines (the preview before it printed them): the state then holds no
     * list, and the next `preview --diff` prints its own list once, not the
     * last `up`'s beside it.
     */
    previewing?: boolean;
    /** What the next run retires, summarised: computed by `check`, so preview shows it as a change. */
    pending: RetentionPendingSummary;
    /** Launch permissions `check` read or carried, kept in state so that the next check need not read them again (see `SharingRecord`). */
    sharingRead?: SharingRecord[];
}

export interface RetentionPolicyState extends RetentionPolicyInputs {
    lastRun?: RetentionRunReport;
}

/** The policy's settings: a change to any of them is an update (a policy has nothing to replace). */
export const SETTINGS = [
    "regions",
    "selector",
    "groupBy",
    "keepLatest",
    "maxAgeDays",
    "action",
    "deleteSnapshots",
    "exclude",
    "dryRun",
    "retireShared",
    "copyOnlyAccounts",
    "launchTemplateVersions",
    "assumeRole",
] as const;

/** The settings the plan depends on (all but those only acting reads): while any is unknown (preview), nothing is planned. */
export const PLAN_INPUTS = SETTINGS.filter((k) => k !== "deleteSnapshots" && k !== "dryRun" && k !== "assumeRole");
