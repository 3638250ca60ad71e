import { DeleteSnapshotReturnCode, DeregisterImageCommand, EC2Client, Image } from "@aws-sdk/client-ec2";
import { imageSnapshotIds } from "./converters";
import { PARAMETER_REFUSED_CODES } from "./error-codes";
import { hasCode, isNotFound, isNotFoundCode } from "./errors";
import { findImageById, findOwnImagesUsingSnapshots } from "./finders";
import { DELETE_IMAGE_TIMEOUT_MINUTES } from "./limits";
import { deleteSnapshotWhenFree } from "./waiters";

/** A snapshot deleteImageWithSnapshots left alone, and why. */
export interface KeptSnapshot {
    snapshotId: string;
    reason: string;
    /** True when it was kept because another image still uses it (not because deleting was off). */
    inUse?: boolean;
    /** The image that uses it, when EC2 or a look-up named one. */
    usedBy?: string;
}

export interface DeleteImageResult {
    /** False when the image was already gone. */
    deregistered: boolean;
    /** Each snapshot deleted, once. */
    snapshotsDeleted: string[];
    /** Snapshots left alone on purpose, and why. */
    snapshotsKept: KeptSnapshot[];
    /**
     * Whether EC2 deleted the snapshots as part of DeregisterImage
     * (DeleteAssociatedSnapshots), so that no DeleteSnapshot call was needed
     * for those it reported.
     */
    deletedWithImage: boolean;
}

/** A snapshot that stayed in use past the delete limit. */
export class SnapshotStillInUseError extends Error {
    constructor(
        readonly snapshotIds: string[],
        minutes: number,
    ) {
        super(
            `snapshot(s) ${snapshotIds.join(", ")} still in use after ${minutes} minutes (a volume or an image uses them); ` +
                `run the command again once they are free`,
        );
        this.name = "SnapshotStillInUseError";
    }
}

/**
 * EC2's error codes for a request parameter it does not know or will not
 * take: an endpoint (an older region, a partition, an emulator) that refuses
 * DeleteAssociatedSnapshots. Matched by code, never by message.
 */

/** DeregisterImage; `undefined` results when EC2 did not say what it did with the snapshots. */
async function deregister(
    client: EC2Client,
    imageId: string,
    withSnapshots: boolean,
): Promise<{ deregistered: boolean; results?: DeleteSnapshotReturnCode[] }> {
    try {
        const out = await client.send(
            new DeregisterImageCommand(withSnapshots ? { ImageId: imageId, DeleteAssociatedSnapshots: true } : { ImageId: imageId }),
        );
        return { deregistered: true, results: withSnapshots ? out.DeleteSnapshotResults : undefined };
    } catch (e) {
        if (isNotFoundCode(e, "image")) return { deregistered: false };
        // Refused: deregister without it; the snapshots go one by one.
        if (withSnapshots && hasCode(e, ...PARAMETER_REFUSED_CODES)) return deregister(client, imageId, false);
        throw e;
    }
}

/**
 * Deregisters an image and deletes the EBS snapshots it was made of, the one
 * way every golden-ami resource and the retention policy delete images.
 *
 * - One call when EC2 can: DeregisterImage with DeleteAssociatedSnapshots,
 *   which deletes the image's snapshots and keeps (`skipped`) those another
 *   image uses, reporting each in DeleteSnapshotResults.
 * - Per-snapshot deletes for what that call left: snapshots it reports as not
 *   deleted for another reason (missing-permissions, internal-error,
 *   client-error; a DeleteSnapshot then fails with EC2's own error code, or
 *   succeeds), snapshots it does not report, and all of them when the
 *   endpoint ignores the parameter (no results: moto), refuses it
 *   (UnknownParameter/InvalidParameter: deregistered again without it), or the
 *   image was already gone.
 * - `snapshotIds` are the image's own snapshots (from state or inventory): an
 *   image's block devices never change, so no extra lookup is needed.
 * - On that per-snapshot path a snapshot another image of this account still
 *   uses is kept, never deleted (EC2 says InUse; the image is looked up only
 *   then), and `InvalidSnapshot.InUse` right after deregistration is retried
 *   with backoff until the limit; not-found counts as done, for image and
 *   snapshot.
 */
export async function deleteImageWithSnapshots(
    client: EC2Client,
    image: { imageId: string; snapshotIds: string[] },
    options: { deleteSnapshots: boolean; timeoutMinutes: number },
): Promise<DeleteImageResult> {
    const started = Date.now();
    const snapshotIds = [...new Set(image.snapshotIds)];
    const withSnapshots = options.deleteSnapshots && snapshotIds.length > 0;
    const { deregistered, results } = await deregister(client, image.imageId, withSnapshots);
    const result: DeleteImageResult = { deregistered, snapshotsDeleted: [], snapshotsKept: [], deletedWithImage: results !== undefined };
    if (!withSnapshots) {
        result.snapshotsKept = snapshotIds.map((snapshotId) => ({ snapshotId, reason: "deleteSnapshots is off" }));
        return result;
    }

    const left = new Set(snapshotIds);
    for (const r of results ?? []) {
        if (!r.SnapshotId) continue;
        if (r.ReturnCode === "success") {
            // Also one the state did not list: EC2 deleted it, so it is reported.
            if (!result.snapshotsDeleted.includes(r.SnapshotId)) result.snapshotsDeleted.push(r.SnapshotId);
            left.delete(r.SnapshotId);
        } else if (r.ReturnCode === "skipped" && left.has(r.SnapshotId)) {
            // "not deleted because it's associated with other AMIs" (DeleteSnapshotReturnCode).
            result.snapshotsKept.push({ snapshotId: r.SnapshotId, reason: "still used by another image", inUse: true });
            left.delete(r.SnapshotId);
        }
    }
    if (left.size === 0) return result;

    // EC2 refuses to delete a snapshot an image still uses (InUse); only then
    // is it worth asking which image, to keep the snapshot rather than retry.
    const otherImageUsing = async (snapshotId: string) => {
        const users = await findOwnImagesUsingSnapshots(client, [snapshotId]);
        return users.find((i) => i.ImageId !== image.imageId)?.ImageId;
    };
    const stuck: string[] = [];
    for (const snapshotId of left) {
        const secondsLeft = Math.max(1, options.timeoutMinutes * 60 - (Date.now() - started) / 1000);
        const outcome = await deleteSnapshotWhenFree(client, snapshotId, secondsLeft, otherImageUsing);
        if (outcome.deleted) result.snapshotsDeleted.push(snapshotId);
        else if (outcome.usedBy)
            result.snapshotsKept.push({ snapshotId, reason: `still used by ${outcome.usedBy}`, inUse: true, usedBy: outcome.usedBy });
        else stuck.push(snapshotId);
    }
    if (stuck.length > 0) throw new SnapshotStillInUseError(stuck, options.timeoutMinutes);
    return result;
}

/** Deregisters an image nobody should keep (failed, or made by a failed create) with its snapshots. */
export async function removeImageLeftBehind(client: EC2Client, imageId: string): Promise<void> {
    let image: Image;
    try {
        image = await findImageById(client, imageId);
    } catch (e) {
        if (isNotFound(e)) return;
        throw e;
    }
    await deleteImageWithSnapshots(
        client,
        { imageId, snapshotIds: imageSnapshotIds(image) },
        { deleteSnapshots: true, timeoutMinutes: DELETE_IMAGE_TIMEOUT_MINUTES },
    );
}
