import { CopyImageCommand, EC2Client } from "@aws-sdk/client-ec2";
import type * as dynamic from "@pulumi/pulumi/dynamic";
import { createHash } from "node:crypto";
import { ec2Client } from "./ec2/client";
import { isNotFound, OperationError } from "./ec2/errors";
import { findImageById } from "./ec2/finders";
import { recordToTags, tagsToRecord } from "./ec2/image-lifecycle";
import { COPY_IMAGE_TIMEOUT_MINUTES } from "./ec2/limits";
import { deleteImage, finishCreate, ImageState, readImage, updateImage } from "./image-resource";
import { AmiCopyInputs } from "./ami-copy-checks";

export { AmiCopyInputs, check, diff, REPLACE_KEYS } from "./ami-copy-checks";

/**
 * The idempotency token of a copy: the same resource with the same inputs
 * always asks for the same token, so a retried or re-run create never makes a
 * second copy. `salt` tells apart a copy made again after the first was
 * destroyed (EC2 would otherwise hand back the deregistered one).
 */
export function copyClientToken(inputs: AmiCopyInputs, salt = ""): string {
    const identity = [
        inputs.name,
        inputs.sourceAmiId,
        inputs.sourceAmiRegion,
        inputs.region,
        !!inputs.encrypted,
        inputs.kmsKeyId ?? "",
        salt,
    ];
    return `golden-ami-${createHash("sha256").update(JSON.stringify(identity)).digest("hex").slice(0, 52)}`;
}

async function copy(client: EC2Client, inputs: AmiCopyInputs, clientToken: string): Promise<string> {
    const out = await client.send(
        new CopyImageCommand({
            SourceImageId: inputs.sourceAmiId,
            SourceRegion: inputs.sourceAmiRegion,
            Name: inputs.name,
            Description: inputs.description,
            Encrypted: inputs.encrypted || undefined,
            KmsKeyId: inputs.kmsKeyId,
            CopyImageTags: inputs.copyImageTags || undefined,
            ClientToken: clientToken,
            TagSpecifications: Object.keys(inputs.tags ?? {}).length
                ? [{ ResourceType: "image", Tags: recordToTags(inputs.tags) }]
                : undefined,
        }),
    );
    return out.ImageId!;
}

export async function create(inputs: AmiCopyInputs): Promise<dynamic.CreateResult> {
    const client = ec2Client(inputs.region);
    const op = `copying AMI ${inputs.sourceAmiId} (${inputs.sourceAmiRegion}) to ${inputs.region} as (${inputs.name})`;
    const copyOrFail = async (token: string) => {
        try {
            return await copy(client, inputs, token);
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
        finishCreate(client, imageId, { ...inputs, copiedTags }, op, inputs.createTimeoutMinutes ?? COPY_IMAGE_TIMEOUT_MINUTES);
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

export async function read(id: string, props: ImageState<AmiCopyInputs>): Promise<dynamic.ReadResult> {
    return readImage(id, props);
}

export async function update(id: string, olds: ImageState<AmiCopyInputs>, news: AmiCopyInputs): Promise<dynamic.UpdateResult> {
    return updateImage(id, olds, news, COPY_IMAGE_TIMEOUT_MINUTES);
}

export { deleteImage as delete };
