import type * as dynamic from "@pulumi/pulumi/dynamic";
import { AmiCopyInputs, descriptor } from "../sdk/ami-copy";
import { replaceKeys } from "../sdk/image-kind";
import type { CheckFailure } from "../sdk/rules/primitives";
import { ec2Client } from "./ec2/client";
import { tagsToRecord } from "./ec2/converters";
import { copyImage } from "./ec2/create-image";
import { isNotFound, OperationError } from "./ec2/errors";
import { findImageById } from "./ec2/finders";
import { finishCreate, imageHooks } from "./image-hooks";
import { identityToken } from "./image-planning";

export { AmiCopyInputs };

/** Changing any of these makes a new copy. */
export const REPLACE_KEYS = replaceKeys(descriptor);

/**
 * The idempotency token of a copy: the same resource with the same inputs
 * always asks for the same token, so a retried or re-run create never makes a
 * second copy. `salt` tells apart a copy made again after the first was
 * destroyed (EC2 would otherwise hand back the deregistered one).
 */
export function copyClientToken(inputs: AmiCopyInputs, salt = ""): string {
    return identityToken(descriptor, inputs as unknown as Record<string, unknown>, salt);
}

/**
 * A copy into the source's own region under the source's own name is refused
 * by EC2 only after the call; asking for the source's name here moves the
 * error to preview (the descriptor's needsEc2Check says when). A failed
 * lookup is left for `up` to report.
 */
export async function checkWithEc2(news: Partial<AmiCopyInputs>): Promise<CheckFailure | undefined> {
    const { region, sourceAmiRegion, sourceAmiId, name } = news;
    try {
        const source = await findImageById(ec2Client(sourceAmiRegion!), sourceAmiId!);
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

/** AmiCopy's own create: CopyImage with the idempotency token, then the shared finish. */
async function create(inputs: AmiCopyInputs): Promise<dynamic.CreateResult> {
    const client = ec2Client(inputs.region);
    const op = `copying AMI ${inputs.sourceAmiId} (${inputs.sourceAmiRegion}) to ${inputs.region} as (${inputs.name})`;
    const copyOrFail = async (clientToken: string) => {
        try {
            return await copyImage(client, {
                sourceImageId: inputs.sourceAmiId,
                sourceRegion: inputs.sourceAmiRegion,
                name: inputs.name,
                description: inputs.description,
                encrypted: inputs.encrypted,
                kmsKeyId: inputs.kmsKeyId,
                copyImageTags: inputs.copyImageTags,
                clientToken,
                tags: inputs.tags,
            });
        } catch (e) {
            throw new OperationError(op, "CopyImage", e);
        }
    };
    let copiedTags: Record<string, string> | undefined;
    if (inputs.copyImageTags) {
        try {
            copiedTags = tagsToRecord((await findImageById(ec2Client(inputs.sourceAmiRegion), inputs.sourceAmiId)).Tags);
        } catch (e) {
            throw new OperationError(op, "reading the source's tags", e);
        }
    }
    const finish = (imageId: string) =>
        finishCreate(client, imageId, { ...inputs, copiedTags }, op, inputs.createTimeoutMinutes ?? descriptor.createTimeoutMinutes);
    const first = await copyOrFail(copyClientToken(inputs));
    try {
        return await finish(first);
    } catch (e) {
        // The first poll found the copy gone: the token's earlier copy was
        // destroyed and EC2 handed it back. Ask for a new one, still idempotently.
        if (!(e instanceof OperationError) || !isNotFound(e.cause)) throw e;
        return finish(await copyOrFail(copyClientToken(inputs, first)));
    }
}

const hooks = imageHooks(descriptor, create, checkWithEc2);
export const { check, diff, read, update } = hooks;
export { create };
const remove = hooks.delete;
export { remove as delete };
