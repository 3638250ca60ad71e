import type * as dynamic from "@pulumi/pulumi/dynamic";
import { checkAmiCopyInputs, CheckFailure, containsUnknown } from "../sdk/validation";
import { CommonImageInputs, diffImage, ImageState, withImageDefaults } from "./image-diff";

// AmiCopy's check and diff: what preview runs, loading the AWS SDK only for
// the one rule that needs EC2.

/** AmiCopy's inputs once `check` has filled in defaults. */
export interface AmiCopyInputs extends CommonImageInputs {
    sourceAmiId: string;
    sourceAmiRegion: string;
    encrypted?: boolean;
    kmsKeyId?: string;
    copyImageTags?: boolean;
}

/** Changing any of these makes a new copy. */
export const REPLACE_KEYS = ["sourceAmiId", "sourceAmiRegion", "region", "name", "encrypted", "kmsKeyId"] as const;

/**
 * A copy into the source's own region under the source's own name is refused
 * by EC2 only after the call; asking for the source's name here moves the
 * error to preview. Only then is an EC2 call worth making, and a failed lookup
 * is left for `up` to report.
 */
async function sameNameInSameRegion(news: Partial<AmiCopyInputs>): Promise<CheckFailure | undefined> {
    const { region, sourceAmiRegion, sourceAmiId, name } = news;
    if (!region || region !== sourceAmiRegion || !sourceAmiId || !name || containsUnknown([region, sourceAmiId, name])) return undefined;
    try {
        // Loaded only here: preview of every other copy never loads the AWS SDK.
        const { ec2Client } = await import("./ec2/client");
        const { findImageById } = await import("./ec2/finders");
        const source = await findImageById(ec2Client(sourceAmiRegion), sourceAmiId);
        if (source.Name === name) {
            return {
                property: "name",
                reason: `name: "${name}" is the name of the source AMI ${sourceAmiId} in ${region}, where names are unique; choose another name or leave it unset`,
            };
        }
    } catch {
        // unreachable or not found: CopyImage will say so, with the AWS error code
    }
    return undefined;
}

export async function check(olds: Partial<AmiCopyInputs>, news: Partial<AmiCopyInputs>): Promise<dynamic.CheckResult> {
    const failures = checkAmiCopyInputs(news, olds);
    const clash = failures.length === 0 ? await sameNameInSameRegion(news) : undefined;
    if (clash) failures.push(clash);
    const inputs = withImageDefaults(news, { encrypted: news.encrypted ?? false, copyImageTags: news.copyImageTags ?? false });
    return { inputs, failures };
}

export async function diff(_id: string, olds: ImageState<AmiCopyInputs>, news: AmiCopyInputs): Promise<dynamic.DiffResult> {
    return diffImage(olds, news, REPLACE_KEYS);
}
