import { CopyImageCommand, EC2Client } from "@aws-sdk/client-ec2";
import type * as dynamic from "@pulumi/pulumi/dynamic";
import { createHash } from "node:crypto";
import { checkAmiCopyInputs, CheckFailure, containsUnknown } from "../sdk/validation";
import { ec2Client } from "./ec2/client";
import { isNotFound, OperationError } from "./ec2/errors";
import { findImageById } from "./ec2/finders";
import { recordToTags, tagsToRecord } from "./ec2/image-lifecycle";
import { COPY_IMAGE_TIMEOUT_MINUTES } from "./ec2/limits";
import { CommonImageInputs, deleteImage, diffImage, finishCreate, ImageState, readImage, updateImage, compact } from "./image-resource";

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
    const inputs = {
        ...news,
        encrypted: news.encrypted ?? false,
        copyImageTags: news.copyImageTags ?? false,
        snapshotTags: news.snapshotTags ?? news.tags,
        deregistrationProtection: news.deregistrationProtection ?? false,
        deleteSnapshotsOnDestroy: news.deleteSnapshotsOnDestroy ?? true,
    };
    return { inputs: compact(inputs), failures };
}

export async function diff(_id: string, olds: ImageState<AmiCopyInputs>, news: AmiCopyInputs): Promise<dynamic.DiffResult> {
    return diffImage(olds, news, REPLACE_KEYS);
}

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

async function exists(client: EC2Client, imageId: string): Promise<boolean> {
    try {
        await findImageById(client, imageId);
        return true;
    } catch (e) {
        if (isNotFound(e)) return false;
        throw e;
    }
}

export async function create(inputs: AmiCopyInputs): Promise<dynamic.CreateResult> {
    const client = ec2Client(inputs.region);
    const op = `copying AMI ${inputs.sourceAmiId} (${inputs.sourceAmiRegion}) to ${inputs.region} as (${inputs.name})`;
    let imageId: string;
    let copiedTags: Record<string, string> | undefined;
    try {
        if (inputs.copyImageTags) {
            copiedTags = tagsToRecord((await findImageById(ec2Client(inputs.sourceAmiRegion), inputs.sourceAmiId)).Tags);
        }
        imageId = await copy(client, inputs, copyClientToken(inputs));
        if (!(await exists(client, imageId))) {
            // The token's earlier copy was destroyed; ask for a new one, still idempotently.
            imageId = await copy(client, inputs, copyClientToken(inputs, imageId));
        }
    } catch (e) {
        throw new OperationError(op, "CopyImage", e);
    }
    return finishCreate(client, imageId, { ...inputs, copiedTags }, op, inputs.createTimeoutMinutes ?? COPY_IMAGE_TIMEOUT_MINUTES);
}

export async function read(id: string, props: ImageState<AmiCopyInputs>): Promise<dynamic.ReadResult> {
    return readImage(id, props);
}

export async function update(id: string, olds: ImageState<AmiCopyInputs>, news: AmiCopyInputs): Promise<dynamic.UpdateResult> {
    return updateImage(id, olds, news, COPY_IMAGE_TIMEOUT_MINUTES);
}

export { deleteImage as delete };
