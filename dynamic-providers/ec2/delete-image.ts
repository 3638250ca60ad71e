import { DeregisterImageCommand, EC2Client, Image } from "@aws-sdk/client-ec2";
import { isNotFound, isNotFoundCode } from "./errors";
import { imageSnapshotIds } from "./converters";
import { findImageById, findOwnImagesUsingSnapshots } from "./finders";
import { DELETE_IMAGE_TIMEOUT_MINUTES } from "./limits";
import { deleteSnapshotWhenFree } from "./waiters";

export interface DeleteImageResult {
    /** False when the image was already gone. */
    deregistered: boolean;
    snapshotsDeleted: string[];
    /** Snapshots left alone on purpose, and why. */
    snapshotsKept: { snapshotId: string; reason: string }[];
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
 * Deregisters an image and deletes the EBS snapshots it was made of, the one
 * way every golden-ami resource and the retention policy delete images.
 *
 * - `snapshotIds` are the image's own snapshots (from state or inventory): an
 *   image's block devices never change, so no extra lookup is needed.
 * - A snapshot another image of this account still uses is kept, never
 *   deleted (EC2 says InUse; the image is looked up only then).
 * - `InvalidSnapshot.InUse` right after deregistration is normal: retried with
 *   backoff until the limit; not-found counts as done, for image and snapshot.
 */
export async function deleteImageWithSnapshots(
    client: EC2Client,
    image: { imageId: string; snapshotIds: string[] },
    options: { deleteSnapshots: boolean; timeoutMinutes: number },
): Promise<DeleteImageResult> {
    const started = Date.now();
    let deregistered = true;
    try {
        await client.send(new DeregisterImageCommand({ ImageId: image.imageId }));
    } catch (e) {
        if (!isNotFoundCode(e, "image")) throw e;
        deregistered = false;
    }
    const result: DeleteImageResult = { deregistered, snapshotsDeleted: [], snapshotsKept: [] };
    const snapshotIds = [...new Set(image.snapshotIds)];
    if (!options.deleteSnapshots || snapshotIds.length === 0) {
        result.snapshotsKept = snapshotIds.map((snapshotId) => ({ snapshotId, reason: "deleteSnapshots is off" }));
        return result;
    }

    // EC2 refuses to delete a snapshot an image still uses (InUse); only then
    // is it worth asking which image, to keep the snapshot rather than retry.
    const otherImageUsing = async (snapshotId: string) => {
        const users = await findOwnImagesUsingSnapshots(client, [snapshotId]);
        return users.find((i) => i.ImageId !== image.imageId)?.ImageId;
    };
    const stuck: string[] = [];
    for (const snapshotId of snapshotIds) {
        const left = Math.max(1, options.timeoutMinutes * 60 - (Date.now() - started) / 1000);
        const outcome = await deleteSnapshotWhenFree(client, snapshotId, left, otherImageUsing);
        if (outcome.deleted) result.snapshotsDeleted.push(snapshotId);
        else if (outcome.usedBy) result.snapshotsKept.push({ snapshotId, reason: `still used by ${outcome.usedBy}` });
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
