import type * as dynamic from "@pulumi/pulumi/dynamic";
import type { BlockDeviceMapping } from "../sdk/types";
import { checkAmiFromInstanceInputs } from "../sdk/validation";
import { CommonImageInputs, diffImage, ImageState, withImageDefaults } from "./image-diff";

// AmiFromInstance's check and diff: what preview runs, without loading the AWS SDK.

/** AmiFromInstance's inputs once `check` has filled in defaults. */
export interface AmiFromInstanceInputs extends CommonImageInputs {
    sourceInstanceId: string;
    snapshotWithoutReboot?: boolean;
    blockDeviceMappings?: BlockDeviceMapping[];
}

/** Changing any of these makes a new image. */
export const REPLACE_KEYS = ["sourceInstanceId", "name", "snapshotWithoutReboot", "blockDeviceMappings", "region"] as const;

export async function check(olds: Partial<AmiFromInstanceInputs>, news: Partial<AmiFromInstanceInputs>): Promise<dynamic.CheckResult> {
    const failures = checkAmiFromInstanceInputs(news, olds);
    const inputs = withImageDefaults(news, { snapshotWithoutReboot: news.snapshotWithoutReboot ?? false });
    return { inputs, failures };
}

export async function diff(_id: string, olds: ImageState<AmiFromInstanceInputs>, news: AmiFromInstanceInputs): Promise<dynamic.DiffResult> {
    return diffImage(olds, news, REPLACE_KEYS);
}
