import { DeleteSnapshotCommand, EC2Client, Image } from "@aws-sdk/client-ec2";
import { createWaiter, WaiterState } from "@smithy/core/client";
import { SNAPSHOT_IN_USE } from "./error-codes";
import { hasCode, isNotFoundCode } from "./errors";
import { imageSnapshotIds } from "./converters";
import { findImageById, findSnapshots } from "./finders";
import {
    IMAGE_POLL_MAX_DELAY_SECONDS,
    IMAGE_POLL_MIN_DELAY_SECONDS,
    pollScale,
    PROGRESS_FIRST_SECONDS,
    PROGRESS_INTERVAL_SECONDS,
    SNAPSHOT_DELETE_MAX_DELAY_SECONDS,
    SNAPSHOT_DELETE_MIN_DELAY_SECONDS,
} from "./limits";

/** The image reached `failed` (or another terminal state): carries EC2's StateReason. */
export class ImageFailedError extends Error {
    constructor(
        readonly imageId: string,
        readonly state: string,
        readonly stateReason: string,
    ) {
        super(`image ${imageId} is ${state}: ${stateReason || "EC2 gave no reason"}`);
        this.name = "ImageFailedError";
    }
}

/** Waiting ran past its limit; the image may still become available. */
export class WaitTimeoutError extends Error {
    constructor(
        readonly imageId: string,
        readonly minutes: number,
        readonly lastState: string | undefined,
    ) {
        super(`image ${imageId} was still ${lastState ?? "not available"} after ${minutes} minutes`);
        this.name = "WaitTimeoutError";
    }
}

export type ProgressReporter = (line: string) => void;

/** Progress goes to stdout, which Pulumi shows as info messages on the resource. */
export const printProgress: ProgressReporter = (line) => console.log(line);

function delays(minSeconds: number, maxSeconds: number): { minDelay: number; maxDelay: number } {
    const scale = pollScale();
    return { minDelay: minSeconds * scale, maxDelay: Math.max(minSeconds, maxSeconds) * scale };
}

async function snapshotProgress(client: EC2Client, image: Image): Promise<string> {
    const ids = imageSnapshotIds(image);
    if (ids.length === 0) return "";
    try {
        const parts = (await findSnapshots(client, ids)).map((s) => s.Progress ?? "0%");
        return parts.length ? `, snapshots ${parts.join(" ")}` : "";
    } catch {
        return ""; // progress is a courtesy: never fail a wait over it
    }
}

function formatElapsed(ms: number): string {
    const s = Math.round(ms / 1000);
    const m = Math.floor(s / 60);
    return m > 0 ? `${m}m${String(s % 60).padStart(2, "0")}s` : `${s}s`;
}

/**
 * Polls the image until it is `available` (the SDK waiter's backoff), printing
 * progress after PROGRESS_FIRST_SECONDS, then every PROGRESS_INTERVAL_SECONDS. A `failed` image throws
 * ImageFailedError with EC2's StateReason; running out of time throws
 * WaitTimeoutError.
 */
export async function waitForImageAvailable(
    client: EC2Client,
    imageId: string,
    options: { timeoutMinutes: number; label: string; report?: ProgressReporter },
): Promise<Image> {
    const report = options.report ?? printProgress;
    const started = Date.now();
    let lastReport = started;
    let last: Image | undefined;
    const result = await createWaiter(
        { client, maxWaitTime: options.timeoutMinutes * 60, ...delays(IMAGE_POLL_MIN_DELAY_SECONDS, IMAGE_POLL_MAX_DELAY_SECONDS) },
        imageId,
        async (c: EC2Client, id: string) => {
            const image = await findImageById(c, id);
            last = image;
            if (image.State === "available") return { state: WaiterState.SUCCESS, reason: image };
            if (image.State !== "pending") return { state: WaiterState.FAILURE, reason: image };
            const now = Date.now();
            const every = lastReport === started ? PROGRESS_FIRST_SECONDS : PROGRESS_INTERVAL_SECONDS;
            if (now - lastReport >= every * 1000 * pollScale()) {
                lastReport = now;
                report(`${options.label}: ${image.ImageId} pending for ${formatElapsed(now - started)}${await snapshotProgress(c, image)}`);
            }
            return { state: WaiterState.RETRY, reason: image };
        },
    );
    if (result.state === WaiterState.SUCCESS) return result.reason as Image;
    if (result.state === WaiterState.FAILURE) {
        const image = result.reason as Image;
        const reason = [image.StateReason?.Code, image.StateReason?.Message].filter(Boolean).join(": ");
        throw new ImageFailedError(imageId, image.State ?? "unknown", reason);
    }
    throw new WaitTimeoutError(imageId, options.timeoutMinutes, last?.State);
}

/** How a snapshot delete ended. */
export type SnapshotDeleteOutcome = { deleted: true } | { deleted: false; usedBy?: string };

/**
 * Deletes a snapshot, retrying while EC2 still calls it in use (normal for a
 * while after its image is deregistered). On the first `InUse`, `usedBy` is
 * asked whether an image still needs the snapshot: if so it is kept, not
 * retried. Not-found counts as done. `{ deleted: false }` without `usedBy`
 * means the limit ran out while it was still in use.
 */
export async function deleteSnapshotWhenFree(
    client: EC2Client,
    snapshotId: string,
    timeoutSeconds: number,
    usedBy: (snapshotId: string) => Promise<string | undefined>,
): Promise<SnapshotDeleteOutcome> {
    const d = delays(SNAPSHOT_DELETE_MIN_DELAY_SECONDS, SNAPSHOT_DELETE_MAX_DELAY_SECONDS);
    // The waiter insists on a limit longer than its first delay.
    const maxWaitTime = Math.max(timeoutSeconds, d.minDelay * 2);
    let asked = false;
    let user: string | undefined;
    const result = await createWaiter({ client, maxWaitTime, ...d }, snapshotId, async (c: EC2Client, id: string) => {
        try {
            await c.send(new DeleteSnapshotCommand({ SnapshotId: id }));
            return { state: WaiterState.SUCCESS };
        } catch (e) {
            if (isNotFoundCode(e, "snapshot")) return { state: WaiterState.SUCCESS };
            if (!hasCode(e, SNAPSHOT_IN_USE)) throw e;
            if (!asked) {
                asked = true;
                user = await usedBy(id);
                if (user) return { state: WaiterState.FAILURE, reason: e };
            }
            return { state: WaiterState.RETRY, reason: e };
        }
    });
    if (result.state === WaiterState.SUCCESS) return { deleted: true };
    return { deleted: false, usedBy: user };
}
