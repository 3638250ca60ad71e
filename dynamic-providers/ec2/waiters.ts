import { DeleteSnapshotCommand, DescribeImagesCommand, EC2Client, Image } from "@aws-sdk/client-ec2";
import { createWaiter, WaiterState } from "@smithy/core/client";
import { SNAPSHOT_IN_USE } from "./error-codes";
import { hasCode, isNotFoundCode, NotFoundError } from "./errors";
import { imageSnapshotIds } from "./converters";
import { findSnapshots } from "./finders";
import {
    IMAGE_POLL_MAX_DELAY_SECONDS,
    IMAGE_POLL_MIN_DELAY_SECONDS,
    pollScale,
    PROGRESS_FIRST_SECONDS,
    PROGRESS_INTERVAL_SECONDS,
    SNAPSHOT_DELETE_MAX_DELAY_SECONDS,
    SNAPSHOT_DELETE_MIN_DELAY_SECONDS,
    SOURCE_VISIBILITY_SECONDS,
    VISIBILITY_WINDOW_SECONDS,
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

/**
 * An id EC2 has just handed out still answered InvalidAMIID.NotFound when the
 * visibility window (VISIBILITY_WINDOW_SECONDS) ran out. Not proof that the
 * image is gone: EC2 is eventually consistent, and the id must stay in state.
 */
export class ImageNotVisibleError extends Error {
    constructor(
        readonly imageId: string,
        readonly seconds: number,
    ) {
        super(
            `image ${imageId} still answered InvalidAMIID.NotFound ${Math.round(seconds)} seconds after EC2 created it ` +
                `(EC2 is eventually consistent; it may still appear)`,
        );
        this.name = "ImageNotVisibleError";
    }
}

/** The visibility window in milliseconds, scaled like the poll delays. */
function visibilityWindowMs(): number {
    return VISIBILITY_WINDOW_SECONDS * 1000 * pollScale();
}

/**
 * Status of an image: what DescribeImages answers for the id, `deregistered`
 * included, or undefined when EC2 does not know the id (InvalidAMIID.NotFound
 * or an empty answer). Callers decide what "unknown" means: right after a
 * create it means "not visible yet".
 */
async function imageStatus(client: EC2Client, imageId: string): Promise<Image | undefined> {
    try {
        const out = await client.send(new DescribeImagesCommand({ ImageIds: [imageId], IncludeDeprecated: true, IncludeDisabled: true }));
        // EC2 answers an id lookup with that id only; anything else is not ours.
        return (out.Images ?? []).find((i) => i.ImageId === imageId);
    } catch (e) {
        if (isNotFoundCode(e, "image")) return undefined;
        throw e;
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

export interface WaitOptions {
    timeoutMinutes: number;
    label: string;
    report?: ProgressReporter;
    /**
     * EC2 handed out this id just now (CreateImage, CopyImage): until
     * VISIBILITY_WINDOW_SECONDS have passed, InvalidAMIID.NotFound means "not
     * visible yet" and is polled again; past it, ImageNotVisibleError. Without
     * it, not-found is a NotFoundError at once (the image is gone).
     * @default false
     */
    justCreated?: boolean;
}

/**
 * Polls the image until it is `available` (the SDK waiter's backoff), printing
 * progress after PROGRESS_FIRST_SECONDS, then every PROGRESS_INTERVAL_SECONDS. A `failed` image throws
 * ImageFailedError with EC2's StateReason; running out of time throws
 * WaitTimeoutError; a `deregistered` image throws NotFoundError; an unknown
 * id, see `justCreated`.
 */
export async function waitForImageAvailable(client: EC2Client, imageId: string, options: WaitOptions): Promise<Image> {
    return waitForImage(client, imageId, options, (image) => image.State === "available");
}

/**
 * Polls a just-created id until DescribeImages knows it, in any state:
 * InvalidAMIID.NotFound is "not visible yet" for VISIBILITY_WINDOW_SECONDS,
 * then ImageNotVisibleError. A `deregistered` answer is NotFoundError: the
 * consistent signal that the image is gone. Used where "not visible yet" and
 * "gone" lead to different actions (AmiCopy's token handed back a destroyed copy).
 */
export async function waitForImageVisible(client: EC2Client, imageId: string, options: Omit<WaitOptions, "justCreated">): Promise<Image> {
    return waitForImage(client, imageId, { ...options, justCreated: true }, () => true);
}

async function waitForImage(client: EC2Client, imageId: string, options: WaitOptions, done: (image: Image) => boolean): Promise<Image> {
    const report = options.report ?? printProgress;
    const started = Date.now();
    let lastReport = started;
    let last: Image | undefined;
    const maxWaitTime = options.timeoutMinutes * 60;
    const result = await createWaiter(
        { client, maxWaitTime, ...delays(IMAGE_POLL_MIN_DELAY_SECONDS, IMAGE_POLL_MAX_DELAY_SECONDS) },
        imageId,
        async (c: EC2Client, id: string) => {
            const image = await imageStatus(c, id);
            const now = Date.now();
            if (!image) {
                if (!options.justCreated) throw new NotFoundError("AMI", id);
                // Eventual consistency: a new id may be unknown for a while, also after it was seen once.
                if (now - started >= visibilityWindowMs()) throw new ImageNotVisibleError(id, (now - started) / 1000);
            } else {
                last = image;
                if (image.State === "deregistered") throw new NotFoundError("AMI", id);
                if (done(image)) return { state: WaiterState.SUCCESS, reason: image };
                if (image.State !== "pending") return { state: WaiterState.FAILURE, reason: image };
            }
            const every = lastReport === started ? PROGRESS_FIRST_SECONDS : PROGRESS_INTERVAL_SECONDS;
            if (now - lastReport >= every * 1000 * pollScale()) {
                lastReport = now;
                const elapsed = formatElapsed(now - started);
                report(
                    image
                        ? `${options.label}: ${id} pending for ${elapsed}${await snapshotProgress(c, image)}`
                        : `${options.label}: ${id} not visible yet after ${elapsed} (EC2 is eventually consistent)`,
                );
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
    usedBy: (snapshotId: string, inUse: unknown) => Promise<string | undefined>,
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
                user = await usedBy(id, e);
                if (user) return { state: WaiterState.FAILURE, reason: e };
            }
            return { state: WaiterState.RETRY, reason: e };
        }
    });
    if (result.state === WaiterState.SUCCESS) return { deleted: true };
    return { deleted: false, usedBy: user };
}

/**
 * Reads a source the user named (an image to copy, an instance to image) for
 * `check`, asking again while EC2 answers not-found for SOURCE_VISIBILITY_SECONDS:
 * an id the same program made moments ago may not be visible yet. Past that
 * the NotFoundError is thrown (the source does not exist); any other error at once.
 */
export async function findSource<T>(client: EC2Client, read: () => Promise<T>): Promise<T> {
    const scale = pollScale();
    let notFound: unknown;
    const result = await createWaiter(
        { client, maxWaitTime: Math.max(2, SOURCE_VISIBILITY_SECONDS * scale), minDelay: 1, maxDelay: Math.max(1, 5 * scale) },
        undefined,
        async () => {
            try {
                return { state: WaiterState.SUCCESS, reason: await read() };
            } catch (e) {
                if (!(e instanceof NotFoundError)) throw e;
                notFound = e;
                return { state: WaiterState.RETRY };
            }
        },
    );
    if (result.state === WaiterState.SUCCESS) return result.reason as T;
    throw notFound;
}
