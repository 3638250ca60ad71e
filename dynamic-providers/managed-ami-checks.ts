import type * as dynamic from "@pulumi/pulumi/dynamic";
import { checkManagedAmiInputs } from "../sdk/validation";
import { CommonImageInputs, diffImage, ImageState, withImageDefaults } from "./image-diff";

// ManagedAmi's check and diff: what preview runs, without loading the AWS SDK.

/** ManagedAmi's inputs once `check` has filled in defaults. */
export interface ManagedAmiInputs extends Omit<CommonImageInputs, "name"> {
    imageId: string;
}

/** Another image, or another region, is another resource. */
export const REPLACE_KEYS = ["imageId", "region"] as const;

export async function check(olds: Partial<ManagedAmiInputs>, news: Partial<ManagedAmiInputs>): Promise<dynamic.CheckResult> {
    const failures = checkManagedAmiInputs(news, olds);
    const inputs = withImageDefaults(news);
    return { inputs, failures };
}

export async function diff(_id: string, olds: ImageState, news: ManagedAmiInputs): Promise<dynamic.DiffResult> {
    // The name is the image's own, never an input: compare as if it were unchanged.
    const result = diffImage(olds, { ...news, name: olds.name }, REPLACE_KEYS);
    // Replacing means adopting another image: the old one is released first.
    return { ...result, deleteBeforeReplace: false };
}
