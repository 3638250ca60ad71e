import { DeleteSnapshotReturnCode, DeregisterImageCommand, EC2Client, Image } from "@aws-sdk/client-ec2";
import { describeReferences, type ImageReference, type LaunchTemplateVersionRule } from "../../sdk/retention-plan";
import { imageSnapshotIds } from "./converters";
import { PARAMETER_REFUSED_CODES } from "./error-codes";
import { errorCode, hasCode, isNotFound, isNotFoundCode } from "./errors";
import { findImageById, findLaunchPermissions, findOwnImagesUsingSnapshots } from "./finders";
import { UnreadableReferenceSourceError } from "./image-references";
import { imagesInUse } from "./inventory";
import { DELETE_IMAGE_TIMEOUT_MINUTES, RECHECK_AFTER_SECONDS } from "./limits";
import { deleteSnapshotWhenFree } from "./waiters";

/**
 * The one way golden-ami deregisters an image: {@link deregisterImage}.
 * Every path (each kind's delete and replace, copies, a GoldenImage's bake
 * and replicas, ManagedAmi's deleteOnRelease, retention, the sweeper) goes
 * through it, and it is the only place that sends DeregisterImage (a unit
 * test enumerates the call sites). Before deregistering it asks, in the
 * image's own region, the reference finder retention uses
 * (image-references.ts: DescribeImageReferences or the enumeration, launch
 * configurations, Auto Scaling groups, EC2 Fleets, Spot Fleets, SSM
 * parameters) and reads who the image is shared with. An image anything can
 * launch from is never deregistered: {@link ImageInUseError} names each
 * user. A source that cannot be read counts as in use (the error names the
 * IAM permission): the guard fails closed.
 */

/** The image is in use: nothing was deregistered or deleted. */
export class ImageInUseError extends Error {
    constructor(
        readonly imageId: string,
        readonly region: string,
        readonly users: ImageReference[],
    ) {
        super(`${imageId} (${region}) is in use: ${describeReferences(users)}`);
        this.name = "ImageInUseError";
    }
}

/** References a caller read moments ago with the same finder (retention's plan, the sweeper's listing). */
export interface ReadReferences {
    /** imagesInUse's answer for the region, covering this image. */
    refs: ReadonlyMap<string, ImageReference[]>;
    /** Date.now() when the read started; older than RECHECK_AFTER_SECONDS is read again. */
    readAt: number;
    /** True when the caller also read the image's launch permissions and acted on them (retention). */
    sharingRead?: boolean;
}

export interface GuardOptions {
    /** Delete the image's snapshots too (only those the resource made: the caller decides). */
    deleteSnapshots: boolean;
    /** Snapshots of the image that are not the caller's to delete (snapshot-ownership.ts), each with why: left alone and reported. */
    keepSnapshots?: ReadonlyMap<string, string>;
    timeoutMinutes: number;
    /** What the caller read moments ago in the image's region; unset or stale, the guard reads it. */
    references?: ReadReferences;
    /** References that are the caller's own and do not count (the resource's publish parameter, withdrawn with it). */
    own?: (ref: ImageReference) => boolean;
    /** Shares with other accounts do not count (retention's explicit `retireShared: true`). */
    sharesAllowed?: boolean;
    /** Which launch-template versions count (retention's `launchTemplateVersions`). @default "in-use" */
    launchTemplateVersions?: LaunchTemplateVersionRule;
    /** In-use images may go (retention's explicit `exclude.inUse: false`): the only way past the guard, asked for by name. */
    inUseAllowed?: boolean;
    /**
     * EC2 already answered the image as deregistered (state recorded it):
     * nothing can launch it, so nothing is asked; only its snapshots are left to delete.
     */
    deregisteredAlready?: boolean;
}

/** Who may launch the image besides its owner, as references ("account 1234…"). */
async function sharesOf(client: EC2Client, imageId: string): Promise<ImageReference[]> {
    let perms;
    try {
        perms = await findLaunchPermissions(client, imageId);
    } catch (e) {
        if (isNotFound(e)) return [];
        throw new UnreadableReferenceSourceError("DescribeImageAttribute (launchPermission)", "ec2:DescribeImageAttribute", e);
    }
    const out: ImageReference[] = [];
    for (const p of perms) {
        if (p.Group === "all") out.push({ kind: "launch-permission", id: "the public" });
        if (p.UserId) out.push({ kind: "launch-permission", id: `account ${p.UserId}` });
        if (p.OrganizationArn) out.push({ kind: "launch-permission", id: `organization ${p.OrganizationArn}` });
        if (p.OrganizationalUnitArn) out.push({ kind: "launch-permission", id: `organizational unit ${p.OrganizationalUnitArn}` });
    }
    return out;
}

/**
 * What can launch the image now, in its own region: the caller's fresh
 * references, else the reference finder's; and its shares. Throws
 * UnreadableReferenceSourceError (naming the IAM permission) when a source
 * cannot be read: never "unused" for want of an answer.
 */
export async function imageUsers(client: EC2Client, region: string, imageId: string, options: GuardOptions): Promise<ImageReference[]> {
    const given = options.references;
    const fresh = given !== undefined && Date.now() - given.readAt <= RECHECK_AFTER_SECONDS * 1000;
    const refs = fresh
        ? (given.refs.get(imageId) ?? [])
        : ((await imagesInUse(client, region, [imageId], { launchTemplateVersions: options.launchTemplateVersions })).get(imageId) ?? []);
    const shares = options.sharesAllowed || (fresh && given.sharingRead) ? [] : await sharesOf(client, imageId);
    return [...refs, ...shares].filter((r) => !options.own?.(r));
}

/**
 * Deregisters an image and deletes its snapshots, unless anything can still
 * launch it (see the top of this file): then ImageInUseError, and nothing
 * is changed. The caller decides what in use means for it (a replacement
 * keeps the image, a destroy fails, retention and the sweeper skip it).
 */
export async function deregisterImage(
    client: EC2Client,
    region: string,
    image: { imageId: string; snapshotIds: string[] },
    options: GuardOptions,
): Promise<DeleteImageResult> {
    if (!options.inUseAllowed && !options.deregisteredAlready) {
        const users = await imageUsers(client, region, image.imageId, options);
        if (users.length > 0) throw new ImageInUseError(image.imageId, region, users);
    }
    return deleteImageWithSnapshots(client, image, options);
}

/** A snapshot deleteImageWithSnapshots left alone, and why. */
export interface KeptSnapshot {
    snapshotId: string;
    reason: string;
    /** True when it was kept because another image still uses it (not because deleting was off). */
    inUse?: boolean;
    /** True when it was kept because it is not the image's own (keepSnapshots). */
    notOwned?: boolean;
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

/** The AMI id an `InvalidSnapshot.InUse` answer names ("... in use by ami-0abc"): data in the message, the code matched by name. */
function amiNamedIn(e: unknown): string | undefined {
    const message = e instanceof Error ? e.message : String(e);
    return /\bami-[0-9a-f]{8,17}\b/.exec(message)?.[0];
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
 * Deregisters an image and deletes the EBS snapshots it was made of, once
 * the guard (deregisterImage) has found nothing that launches it. Exported
 * for its unit tests only: nothing else calls it (test/unit/ec2-boundary).
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
    options: { deleteSnapshots: boolean; timeoutMinutes: number; keepSnapshots?: ReadonlyMap<string, string> },
): Promise<DeleteImageResult> {
    const started = Date.now();
    const snapshotIds = [...new Set(image.snapshotIds)];
    const notOwned = options.deleteSnapshots ? snapshotIds.filter((id) => options.keepSnapshots?.has(id)) : [];
    const toDelete = options.deleteSnapshots ? snapshotIds.filter((id) => !options.keepSnapshots?.has(id)) : [];
    const withSnapshots = toDelete.length > 0;
    // DeleteAssociatedSnapshots deletes every snapshot of the image: only when all of them are to go.
    const { deregistered, results } = await deregister(client, image.imageId, withSnapshots && notOwned.length === 0);
    const result: DeleteImageResult = { deregistered, snapshotsDeleted: [], snapshotsKept: [], deletedWithImage: results !== undefined };
    result.snapshotsKept = notOwned.map((snapshotId) => ({ snapshotId, reason: options.keepSnapshots!.get(snapshotId)!, notOwned: true }));
    if (!withSnapshots) {
        if (!options.deleteSnapshots)
            result.snapshotsKept = snapshotIds.map((snapshotId) => ({ snapshotId, reason: "deleteSnapshots is off" }));
        return result;
    }

    const left = new Set(toDelete);
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
    // EC2's answer names the AMI; one that is not this image (another
    // account's copy source, say, invisible to a describe of our own) means
    // the snapshot is left and reported, not retried until the limit.
    const otherImageUsing = async (snapshotId: string, inUse: unknown) => {
        const users = await findOwnImagesUsingSnapshots(client, [snapshotId]);
        const other = users.find((i) => i.ImageId !== image.imageId)?.ImageId;
        if (other) return other;
        const named = errorCode(inUse) !== undefined ? amiNamedIn(inUse) : undefined;
        return named && named !== image.imageId ? named : undefined;
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

/**
 * Deregisters an image nobody should keep (failed, or made by a failed
 * create) through the guard, with its snapshots when they are the
 * resource's own (`deleteSnapshots`: false for a user's snapshots, see
 * snapshotsOwned in sdk/image-kind.ts).
 */
export async function removeImageLeftBehind(client: EC2Client, region: string, imageId: string, deleteSnapshots = true): Promise<void> {
    let image: Image;
    try {
        image = await findImageById(client, imageId);
    } catch (e) {
        if (isNotFound(e)) return;
        throw e;
    }
    await deregisterImage(
        client,
        region,
        { imageId, snapshotIds: imageSnapshotIds(image) },
        { deleteSnapshots, timeoutMinutes: DELETE_IMAGE_TIMEOUT_MINUTES },
    );
}
