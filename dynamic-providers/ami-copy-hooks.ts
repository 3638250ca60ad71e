import type * as dynamic from "@pulumi/pulumi/dynamic";
import { AmiCopyInputs, descriptor } from "../sdk/ami-copy";
import { replaceKeys } from "../sdk/image-kind";
import { roleAccount } from "../sdk/rules/assume-role";
import type { CheckFailure } from "../sdk/rules/primitives";
import { ec2Client } from "./ec2/client";
import { tagsToRecord } from "./ec2/converters";
import { copyImage } from "./ec2/create-copy-register-image";
import { IDEMPOTENT_PARAMETER_MISMATCH, IMAGE_NAME_DUPLICATE } from "./ec2/error-codes";
import { hasCode, isNotFound, isNotFoundCode, OperationError } from "./ec2/errors";
import { COPY_TOKEN_MISMATCH_LIMIT } from "./ec2/limits";
import { findSource, ImageNotVisibleError, printProgress, waitForImageVisible } from "./ec2/waiters";
import { findImageById, findOwnImagesByName } from "./ec2/finders";
import { setDescription } from "./ec2/image-lifecycle";
import type { Image } from "./ec2/sdk-types";
import { finishCreate, imageHooks } from "./image-hooks";
import { identityToken, markedTags } from "./image-planning";

import { isFinishedCreate, keptImageError } from "./kept-image";

export { AmiCopyInputs };

/** Changing any of these makes a new copy. */
export const REPLACE_KEYS = replaceKeys(descriptor);

/**
 * The idempotency token of a copy: the same resource with the same inputs
 * always asks for the same token, so a retried, lost or re-run CopyImage never
 * makes a second copy. It is made of the copy's identity only, exactly as
 * every earlier release made it (a changed token would copy again after an
 * upgrade); CopyImage's other parameters (description, tags) can change in
 * place, so EC2 may answer a token with IdempotentParameterMismatch, which
 * create handles. `salt` moves along the token chain: after the token's copy
 * was destroyed it is that copy's id, so the next token changes exactly when a
 * new copy is legitimately wanted.
 */
export function copyClientToken(inputs: AmiCopyInputs, salt = ""): string {
    return identityToken(descriptor, inputs as unknown as Record<string, unknown>, salt);
}

/**
 * Errors EC2 would give only at `up`, moved to preview (the descriptor's
 * needsEc2Check says when): a source AMI that does not exist in its region
 * (a new source is read; one the same program made moments ago is asked for
 * again while it may not be visible yet), and a copy into the source's own
 * region under the source's own name. Any other failed lookup is left for
 * `up` to report.
 */
export async function checkWithEc2(news: Partial<AmiCopyInputs>): Promise<CheckFailure | undefined> {
    const { region, sourceAmiRegion, sourceAmiId, name } = news;
    const client = ec2Client(sourceAmiRegion!);
    let source: Image;
    try {
        source = await findSource(client, () => findImageById(client, sourceAmiId!));
    } catch (e) {
        if (!isNotFound(e)) return undefined; // unreachable: CopyImage will say so, with the AWS error code
        // Another account's image is visible only once shared with this one (launch permission): the same answer.
        const account = roleAccount(news.assumeRole);
        return {
            property: "sourceAmiId",
            reason:
                `sourceAmiId: AMI ${sourceAmiId} does not exist in ${sourceAmiRegion} (or is deregistered, or is another ` +
                `account's and not shared with ${account ? `account ${account}` : "the caller's account"}); ` +
                `set sourceAmiId to an available AMI of that region, or sourceAmiRegion to the region the AMI lives in, ` +
                `or have its owner add a launch permission for this account`,
        };
    }
    if (region === sourceAmiRegion && source.Name === name) {
        return {
            property: "name",
            reason: `name: "${name}" is the name of the source AMI ${sourceAmiId} in ${region}, where names are unique; choose another name or leave it unset`,
        };
    }
    return undefined;
}

/**
 * AmiCopy's own create: CopyImage with the idempotency token, then the shared
 * finish. EC2 remembers a token after its copy is deregistered and hands that
 * copy back, so the create walks a chain of tokens: a copy answered as
 * `deregistered`, or still unknown past the eventual-consistency window, was
 * destroyed earlier, and the next token is salted with its id. Each step is
 * deterministic, so an interrupted create resumes on the same copy and a
 * destroyed one is never asked for twice; a copy is made exactly once.
 */
async function create(inputs: AmiCopyInputs): Promise<dynamic.CreateResult> {
    const client = ec2Client(inputs.region);
    const op = `copying AMI ${inputs.sourceAmiId} (${inputs.sourceAmiRegion}) to ${inputs.region} as (${inputs.name})`;
    const timeoutMinutes = inputs.createTimeoutMinutes ?? descriptor.createTimeoutMinutes;
    const deadline = Date.now() + timeoutMinutes * 60_000;
    let copiedTags: Record<string, string> | undefined;
    if (inputs.copyImageTags) {
        try {
            copiedTags = tagsToRecord((await findImageById(ec2Client(inputs.sourceAmiRegion), inputs.sourceAmiId)).Tags);
        } catch (e) {
            throw new OperationError(op, "reading the source's tags", e);
        }
    }
    let salt = "";
    /** The copy the last token handed back and that was taken for destroyed. */
    let gone: string | undefined;
    let mismatches = 0;
    for (;;) {
        const clientToken = copyClientToken(inputs, salt);
        let imageId: string;
        try {
            imageId = await copyImage(client, {
                sourceImageId: inputs.sourceAmiId,
                sourceRegion: inputs.sourceAmiRegion,
                name: inputs.name,
                description: inputs.description,
                encrypted: inputs.encrypted,
                kmsKeyId: inputs.kmsKeyId,
                copyImageTags: inputs.copyImageTags,
                clientToken,
                tags: markedTags(inputs.tags ?? {}, inputs.owner),
            });
        } catch (e) {
            if (salt === gone && hasCode(e, IMAGE_NAME_DUPLICATE)) {
                // The copy taken for destroyed has the name after all: it was only
                // slow to become visible. Finish that one; never leave it out of state.
                let late: Image | undefined;
                try {
                    late = (await findOwnImagesByName(client, inputs.name)).find((i) => i.ImageId === gone);
                } catch (lookup) {
                    throw new OperationError(op, `CopyImage refused the name; looking up whether ${gone} has it`, lookup);
                }
                if (late && isFinishedCreate(late)) throw keptImageError(op, late);
                if (late) return finishCreate(client, gone, { ...inputs, copiedTags }, op, Math.max(1, (deadline - Date.now()) / 60_000));
            }
            if (!hasCode(e, IDEMPOTENT_PARAMETER_MISMATCH)) throw new OperationError(op, "CopyImage", e);
            // The token (the copy's identity) was used with other parameters: this
            // copy asked for before with another description or other tags. If that
            // copy is alive (a create interrupted, then the inputs changed), it is
            // ours under our name: finish it, never make a second. If not, it was
            // destroyed: move on to the next token, deterministically.
            let earlier: Image | undefined;
            try {
                earlier = (await findOwnImagesByName(client, inputs.name)).find(
                    // real EC2 names a copy's source; an endpoint that does not (moto) is taken at its name
                    (i) => i.SourceImageId === undefined || i.SourceImageId === inputs.sourceAmiId,
                );
            } catch (lookup) {
                throw new OperationError(op, "CopyImage answered IdempotentParameterMismatch; looking up the copy made earlier", lookup);
            }
            if (earlier?.ImageId) {
                if (isFinishedCreate(earlier)) throw keptImageError(op, earlier);
                printProgress(`${op}: adopting ${earlier.ImageId}, the copy an earlier run asked for under this token`);
                if ((earlier.Description ?? "") !== (inputs.description ?? "")) {
                    try {
                        await setDescription(client, earlier.ImageId, inputs.description ?? "");
                    } catch (d) {
                        throw new OperationError(op, `setting the description of ${earlier.ImageId}`, d);
                    }
                }
                return finishCreate(client, earlier.ImageId, { ...inputs, copiedTags }, op, Math.max(1, (deadline - Date.now()) / 60_000));
            }
            if (++mismatches > COPY_TOKEN_MISMATCH_LIMIT) {
                throw new OperationError(
                    op,
                    `CopyImage: ${mismatches} client tokens in a row were used before with other parameters ` +
                        `(change the copy's description or name to start a fresh token chain)`,
                    e,
                );
            }
            salt = `${IDEMPOTENT_PARAMETER_MISMATCH}:${clientToken}`;
            continue;
        }
        const minutesLeft = Math.max(1, (deadline - Date.now()) / 60_000);
        let seen: Image;
        try {
            seen = await waitForImageVisible(client, imageId, { timeoutMinutes: minutesLeft, label: op });
        } catch (e) {
            if (!isNotFound(e) && !(e instanceof ImageNotVisibleError)) {
                // failed, timed out, unreachable: the shared finish waits again and keeps the id or removes a failed copy
                return finishCreate(client, imageId, { ...inputs, copiedTags }, op, minutesLeft);
            }
            if (Date.now() >= deadline) throw new OperationError(op, "CopyImage: every copy the tokens handed back was gone", e);
            printProgress(`${op}: the copy ${imageId} its client token handed back was destroyed earlier; copying again under a new token`);
            salt = gone = imageId;
            continue;
        }
        // EC2 hands a token's copy back for as long as it lives: one kept by retainOnDelete too.
        if (isFinishedCreate(seen)) throw keptImageError(op, seen);
        try {
            return await finishCreate(client, imageId, { ...inputs, copiedTags }, op, Math.max(1, (deadline - Date.now()) / 60_000), seen);
        } catch (e) {
            // A copy the token handed back that a describe still showed `available` (an eventually consistent
            // read from before its deregistration: "Eventual consistency in the Amazon EC2 API") has no
            // snapshots left to tag. Once a read says it is gone, copy again under a new token, as above.
            if (!isNotFoundCode((e as Error).cause, "snapshot") || !(await copyIsGone(client, imageId))) throw e;
            printProgress(`${op}: the copy ${imageId} its client token handed back was destroyed earlier; copying again under a new token`);
            salt = gone = imageId;
        }
    }
}

/** Whether `imageId` reads as deregistered or unknown, within a few reads (a stale read may still show it). */
async function copyIsGone(client: ReturnType<typeof ec2Client>, imageId: string): Promise<boolean> {
    for (let attempt = 0; attempt < 4; attempt++) {
        try {
            await findImageById(client, imageId);
        } catch (e) {
            if (isNotFound(e)) return true;
            throw e;
        }
        await new Promise((r) => setTimeout(r, 250 * (attempt + 1)));
    }
    return false;
}

const hooks = imageHooks(descriptor, create, checkWithEc2);
export const { check, diff, read, update } = hooks;
export { create };
const remove = hooks.delete;
export { remove as delete };
