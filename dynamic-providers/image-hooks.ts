/* eslint-disable @typescript-eslint/no-explicit-any */
import type * as dynamic from "@pulumi/pulumi/dynamic";
import { deletesSnapshots, ImageKind, snapshotsOwned } from "../sdk/image-kind";
import type { LaunchPermissions } from "../sdk/types";
import { ec2Client } from "./ec2/client";
import {
    imageOutputs,
    imageSnapshotIds,
    launchPermissionsFromEc2,
    normalizeLaunchPermissions,
    sameDeprecationTime,
    tagsToRecord,
    isDeregistrationProtected,
} from "./ec2/converters";
import { deregisterImage, ImageInUseError, removeImageLeftBehind } from "./ec2/delete-image";
import { isNotFound, OperationError, PartialCreateError } from "./ec2/errors";
import { findExistingSnapshotIds, findImageById, findLaunchPermissions } from "./ec2/finders";
import {
    reconcileLaunchPermissions,
    reconcileSnapshotTags,
    reconcileTags,
    setDeprecation,
    setDeregistrationProtection,
    setDescription,
} from "./ec2/image-lifecycle";
import type { EC2Client, Image } from "./ec2/sdk-types";
import { DELETE_IMAGE_TIMEOUT_MINUTES } from "./ec2/limits";
import { ImageFailedError, printProgress, waitForImageAvailable } from "./ec2/waiters";
import { IMAGE_OUTPUT_KEYS } from "../sdk/image-args";
import {
    changedProperties,
    compact,
    DEREGISTERED,
    Ec2Check,
    ImageInputs,
    ImageResourceState,
    IN_PLACE,
    markedTags,
    planningHooks,
    wantedImageTags,
} from "./image-planning";
import { inUseOnDestroy, isReplacement, keptWarning, markKept, noteCreated, ownShares } from "./image-in-use";
import { CREATE_FINISHED_TAG } from "./kept-image";
import { exitWhenOutputIsGone } from "./orphan-guard";
import { OWNER_TAG } from "../sdk/ownership";
import { publishImage, PublishOutputs, publishStep, reconcilePublish, unpublishImage } from "./publish-step";

exitWhenOutputIsGone();

/**
 * The lifecycle every image kind shares, written once: finishing a create,
 * read, update and delete; `imageHooks` makes a kind's hooks from its
 * descriptor and its own create. Kinds differ only in how they create.
 */

/**
 * Settings applied once the image is available: tags the create call did not
 * set (CopyImage may not copy them), snapshot tags, deprecation,
 * deregistration protection and launch permissions. Calls only what the
 * inputs ask for.
 */
export async function applyInitialSettings(client: EC2Client, image: Image, inputs: ImageInputs, snapshotsAreOwn = true): Promise<void> {
    const imageId = image.ImageId!;
    await reconcileTags(client, [imageId], markedTags(wantedImageTags(inputs), inputs.owner), tagsToRecord(image.Tags));
    // The snapshots this create made carry the mark too (the sweeper finds them by it); a user's snapshots are never retagged.
    const snapshotTags = markedTags(inputs.snapshotTags ?? {}, inputs.owner);
    if (snapshotsAreOwn && Object.keys(snapshotTags).length) {
        await reconcileTags(client, imageSnapshotIds(image), snapshotTags, {});
    }
    if (inputs.deprecationTime) await setDeprecation(client, imageId, inputs.deprecationTime);
    if (inputs.deregistrationProtection) await setDeregistrationProtection(client, imageId, true);
    const perms = normalizeLaunchPermissions(inputs.launchPermissions);
    if (Object.keys(perms).length > 0) await reconcileLaunchPermissions(client, imageId, perms, {});
}

function partialCreate(op: string, step: string, cause: unknown, imageId: string, inputs: ImageInputs, image?: Image): PartialCreateError {
    const err = new OperationError(op, step, cause);
    const properties = compact({
        ...inputs,
        ...(image
            ? imageOutputs(image, inputs.region)
            : { imageId, name: inputs.name, region: inputs.region, snapshotIds: [], state: "pending" }),
    });
    return new PartialCreateError(
        `${err.message}; image ${imageId} is recorded in state: run \`pulumi up\` again to finish it, or \`pulumi destroy\` to remove it`,
        imageId,
        properties,
        undefined,
        { cause },
    );
}

/**
 * The part of create every image resource shares, once EC2 has accepted the
 * request: wait until available, apply the settings EC2 cannot take at create
 * time, report outputs. A `failed` image is removed with its snapshots (the
 * error carries EC2's reason); any other failure keeps the image in state (a
 * PartialCreateError) so the next `pulumi up` finishes it and nothing leaks,
 * including an id that stays invisible past the eventual-consistency window.
 * `seen`: a DescribeImages answer for this id the caller just had; when it
 * already says `available` it is used as it is (one call less).
 */
export async function finishCreate(
    client: EC2Client,
    imageId: string,
    inputs: ImageInputs,
    op: string,
    timeoutMinutes: number,
    seen?: Image,
    /** False when the image's snapshots are a user's (AmiFromSnapshot without deleteSnapshotsOnDestroy): never tagged, never deleted. */
    snapshotsAreOwn = true,
): Promise<dynamic.CreateResult> {
    let image: Image;
    try {
        // EC2 just handed out this id: not-found is "not visible yet" within the
        // visibility window, and past it an ImageNotVisibleError kept in state below.
        // An answer the caller just had that already says available needs no second read.
        image =
            seen?.ImageId === imageId && seen.State === "available"
                ? seen
                : await waitForImageAvailable(client, imageId, { timeoutMinutes, label: op, justCreated: true });
    } catch (e) {
        // Only DescribeImages answering `deregistered` (a consistent signal) says the
        // image is gone: nothing to keep in state; the caller decides what to do.
        if (isNotFound(e)) throw new OperationError(op, "waiting for completion: the image was deregistered", e);
        if (!(e instanceof ImageFailedError)) throw partialCreate(op, "waiting for completion", e, imageId, inputs);
        try {
            await removeImageLeftBehind(client, inputs.region, imageId, snapshotsAreOwn);
        } catch (cleanup) {
            throw partialCreate(op, `image failed (${e.stateReason}); removing it also failed`, cleanup, imageId, inputs);
        }
        throw new OperationError(op, "waiting for completion", e);
    }
    try {
        await applyInitialSettings(client, image, inputs, snapshotsAreOwn);
    } catch (e) {
        throw partialCreate(op, "applying tags, deprecation, protection and launch permissions", e, imageId, inputs, image);
    }
    // From here on a delete of this resource's earlier image is a replacement's (image-in-use.ts).
    noteCreated(inputs.owner, imageId);
    // Publishing (publish-step.ts) comes last: consumers see the image only once it is ready.
    let published: PublishOutputs;
    try {
        published = await publishImage(imageId, inputs);
    } catch (e) {
        throw partialCreate(op, "publishing the image id to SSM", e, imageId, inputs, image);
    }
    // Last: from here the image is state's, and a later create never takes it back silently (kept-image.ts).
    try {
        await reconcileTags(client, [imageId], { [CREATE_FINISHED_TAG]: imageId }, {});
    } catch (e) {
        throw partialCreate(op, `tagging ${CREATE_FINISHED_TAG}`, e, imageId, inputs, image);
    }
    return {
        id: imageId,
        outs: compact({
            ...inputs,
            ...imageOutputs(image, inputs.region),
            tags: wantedImageTags(inputs),
            description: inputs.description ?? "",
            ...published,
        }),
    };
}

function describe(props: { name?: string }, id: string): string {
    return `AMI (${props.name ?? "?"}) ${id}`;
}

/**
 * The inputs a refresh hands the engine when it found drift: the previous
 * inputs (state without the image's outputs) with each drifted in-place
 * property set to what EC2 has, so that `pulumi preview --diff` compares
 * EC2's values with the program's and marks the properties `up` will revert
 * (a dynamic provider's diff cannot name properties; its ReadResult `inputs`
 * can). Tags copied from a source image at create time are left out, as the
 * program never gave them. Undefined when nothing drifted (inputs stay).
 */
export function driftedInputs(
    kind: Pick<ImageKind<any>, "identity" | "name">,
    olds: ImageResourceState,
    refreshed: ImageResourceState,
): Record<string, unknown> | undefined {
    const drifted = changedProperties(olds, refreshed, IN_PLACE).filter((k) => k !== "snapshotTags");
    if (drifted.length === 0) return undefined;
    const identity = new Set(kind.identity.map((i) => i.key as string));
    const stateOnly = new Set<string>([...IMAGE_OUTPUT_KEYS.filter((k) => !identity.has(k)), "copiedTags", "__provider"]);
    if (kind.name === "image") stateOnly.add("name");
    const inputs: Record<string, unknown> = Object.fromEntries(Object.entries(olds).filter(([k]) => !stateOnly.has(k)));
    // create records an unset description as "" (EC2's answer): not an input.
    if (inputs.description === "") delete inputs.description;
    const copied = olds.copiedTags ?? {};
    for (const k of drifted) {
        const value = (refreshed as unknown as Record<string, unknown>)[k];
        inputs[k] =
            k === "tags"
                ? Object.fromEntries(Object.entries((value as Record<string, string>) ?? {}).filter(([t, v]) => copied[t] !== v))
                : value;
    }
    return compact(inputs);
}

/**
 * `pulumi refresh`: EC2's view of the image. An image deregistered out of
 * band whose snapshots (from state) still exist stays in state with
 * `state: "deregistered"` and those snapshots, so that `up` replaces it and
 * `destroy` deletes them (nothing leaks); when the snapshots are gone too, or
 * are not the resource's to delete (`deleteSnapshotsOnDestroy: false`), it
 * leaves state. Drift in the in-place properties also comes back as inputs
 * (driftedInputs), so a preview shows what `up` will revert.
 */
export async function readImage<I extends ImageInputs>(
    id: string,
    props: ImageResourceState<I>,
    kind: Pick<ImageKind<any>, "identity" | "name"> = { identity: [], name: "input" },
): Promise<dynamic.ReadResult> {
    const client = ec2Client(props.region);
    const op = `reading ${describe(props, id)}`;
    let image: Image;
    let perms: LaunchPermissions;
    try {
        image = await findImageById(client, id);
        perms = launchPermissionsFromEc2(await findLaunchPermissions(client, id));
    } catch (e) {
        if (!isNotFound(e)) throw new OperationError(op, "describing the image", e, { region: props.region });
        return readDeregistered(client, id, props, op);
    }
    const refreshed = compact({
        ...props,
        ...imageOutputs(image, props.region),
        description: image.Description ?? "",
        deprecationTime: image.DeprecationTime,
        deregistrationProtection: isDeregistrationProtected(image),
        launchPermissions: perms,
    }) as ImageResourceState<I>;
    const inputs = driftedInputs(kind, props, refreshed);
    return inputs ? { id, props: refreshed, inputs } : { id, props: refreshed };
}

async function readDeregistered(client: EC2Client, id: string, props: ImageResourceState, op: string): Promise<dynamic.ReadResult> {
    const snapshotIds = props.snapshotIds ?? [];
    if (props.deleteSnapshotsOnDestroy === false || snapshotIds.length === 0) return {};
    let left: string[];
    try {
        left = await findExistingSnapshotIds(client, snapshotIds);
    } catch (e) {
        throw new OperationError(op, "the image is deregistered: looking for its snapshots", e, { region: props.region });
    }
    if (left.length === 0) return {};
    printProgress(
        `${id} was deregistered outside Pulumi; its snapshots ${left.join(", ")} stay tracked: \`pulumi up\` makes the image again, \`pulumi destroy\` deletes them`,
    );
    return {
        id,
        props: compact({
            ...props,
            state: DEREGISTERED,
            snapshotIds: left,
            rootSnapshotId: props.rootSnapshotId && left.includes(props.rootSnapshotId) ? props.rootSnapshotId : undefined,
        }),
    };
}

/**
 * Updates in place whatever differs between EC2 and the new inputs. It first
 * waits for the image to be available, so an update also finishes a create
 * that was interrupted or timed out.
 */
export async function updateImage<I extends ImageInputs>(
    id: string,
    olds: ImageResourceState<I>,
    news: I,
    defaultCreateTimeoutMinutes: number,
    /**
     * `full`: reconcile everything with EC2, not only what changed since `olds`
     * (adopting an image). `snapshotsOwned` false: never retag the snapshots
     * (they are the user's, see snapshotsOwned in sdk/image-kind.ts).
     */
    options: { full?: boolean; snapshotsOwned?: boolean } = {},
): Promise<dynamic.UpdateResult> {
    const client = ec2Client(news.region);
    const op = `updating ${describe(news, id)}`;
    const step = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
        try {
            return await fn();
        } catch (e) {
            throw new OperationError(op, name, e, { region: news.region });
        }
    };
    const image = await step("waiting for the image to be available", () =>
        waitForImageAvailable(client, id, { timeoutMinutes: news.createTimeoutMinutes ?? defaultCreateTimeoutMinutes, label: op }),
    );
    const wantedTags = wantedImageTags(news, olds.copiedTags);
    const snapshotIds = imageSnapshotIds(image);
    if ((news.description ?? "") !== (image.Description ?? "")) {
        await step("setting the description", () => setDescription(client, id, news.description ?? ""));
    }
    // The mark stays through every reconciliation (and an image made before marks gets it).
    const owner = news.owner ?? olds.owner;
    await step("setting tags", () => reconcileTags(client, [id], markedTags(wantedTags, owner), tagsToRecord(image.Tags)));
    if (options.snapshotsOwned !== false && (options.full || changedProperties(olds, news, ["snapshotTags", "owner"]).length > 0)) {
        await step("setting snapshot tags", () => reconcileSnapshotTags(client, snapshotIds, markedTags(news.snapshotTags ?? {}, owner)));
    }
    if (!sameDeprecationTime(news.deprecationTime, image.DeprecationTime)) {
        await step("setting the deprecation time", () => setDeprecation(client, id, news.deprecationTime));
    }
    if (!!news.deregistrationProtection !== isDeregistrationProtected(image)) {
        await step("setting deregistration protection", () => setDeregistrationProtection(client, id, !!news.deregistrationProtection));
    }
    const wantedPerms = normalizeLaunchPermissions(news.launchPermissions);
    if (options.full || Object.keys(wantedPerms).length > 0 || Object.keys(normalizeLaunchPermissions(olds.launchPermissions)).length > 0) {
        await step("setting launch permissions", async () => {
            const current = launchPermissionsFromEc2(await findLaunchPermissions(client, id));
            await reconcileLaunchPermissions(client, id, wantedPerms, current);
        });
    }
    const published = await step("publishing the image id to SSM", () => reconcilePublish(id, olds, news));
    return {
        outs: compact({
            ...news,
            ...published,
            copiedTags: olds.copiedTags,
            ...imageOutputs(image, news.region),
            tags: wantedTags,
            description: news.description ?? "",
        }),
    };
}

/** What a kind adds to the shared delete. */
export interface RemoveResourceImageOptions {
    /** SSM parameters that are the resource's own (withdrawn with it): not users of the image. */
    ownParameters?: (string | undefined)[];
    /** How a kept image will be retired, for the warning. */
    retireHint?: string;
    /** The image was adopted (ManagedAmi): a kept one is never tagged, its tags are its owner's. */
    adopted?: boolean;
}

/** An SSM parameter name as references spell it (`/golden/web`) and as a program may (`golden/web`). */
const parameterKey = (name: string) => name.replace(/^\//, "");

/**
 * Destroy, and the old image after a replacement: deregister the image and
 * delete its snapshots (unless told to keep them) through the guard
 * (ec2/delete-image.ts), then withdraw the resource's SSM parameter. An
 * image something still launches from is never deregistered
 * (image-in-use.ts): a replacement keeps it, tagged for retention, and
 * warns; a destroy fails naming each user and the ways out, and the
 * resource stays in state. Returns whether the image went.
 */
export async function removeResourceImage(
    id: string,
    props: ImageResourceState,
    kind: Pick<ImageKind<any>, "ownsSnapshots"> = { ownsSnapshots: true },
    options: RemoveResourceImageOptions = {},
): Promise<"deleted" | "kept"> {
    const client = ec2Client(props.region);
    // Only snapshots the kind's own CreateImage/CopyImage made (deletesSnapshots).
    const deleteSnapshots = deletesSnapshots(kind, props);
    const op = `deleting ${describe(props, id)}`;
    const own = new Set([props.publish?.ssmParameter, ...(options.ownParameters ?? [])].filter((p): p is string => !!p).map(parameterKey));
    // The sharing the program itself declared goes with the resource; sharing added outside it counts as a user.
    const granted = new Set(ownShares(props.launchPermissions));
    try {
        // State lists the image's snapshots, except after a create that never finished.
        let snapshotIds = props.snapshotIds ?? [];
        if (snapshotIds.length === 0 && deleteSnapshots) {
            snapshotIds = await findImageById(client, id).then(imageSnapshotIds, (e) => {
                if (isNotFound(e)) return [];
                throw e;
            });
        }
        const r = await deregisterImage(
            client,
            props.region,
            { imageId: id, snapshotIds },
            {
                deleteSnapshots,
                timeoutMinutes: props.deleteTimeoutMinutes ?? DELETE_IMAGE_TIMEOUT_MINUTES,
                own: (ref) =>
                    ((ref.kind === "ssm-parameter" || ref.kind === "ssm:Parameter") && own.has(parameterKey(ref.id))) ||
                    (ref.kind === "launch-permission" && granted.has(ref.id)),
                // Deregistered outside Pulumi (a refresh said so): nothing launches it, only its snapshots are left.
                deregisteredAlready: props.state === DEREGISTERED,
            },
        );
        const kept = r.snapshotsKept.map((k) => `${k.snapshotId} (${deleteSnapshots ? k.reason : "deleteSnapshotsOnDestroy is false"})`);
        printProgress(
            `${r.deregistered ? "deregistered" : "already gone:"} ${id}` +
                (r.snapshotsDeleted.length ? `; deleted ${r.snapshotsDeleted.join(", ")}` : "") +
                (kept.length ? `; kept ${kept.join(", ")}` : ""),
        );
    } catch (e) {
        if (e instanceof ImageInUseError) return keepOrRefuse(client, op, id, props, e, options);
        const err = new OperationError(op, "deregistering the image and deleting its snapshots", e, {
            region: props.region,
        });
        if (props.deregistrationProtection) {
            err.message += " (deregistration protection is on: set deregistrationProtection: false and run `pulumi up` before destroying)";
        }
        throw err;
    }
    // After the image: a protected image that refuses to go keeps its parameter too.
    await publishStep(op, () => unpublishImage(id, props));
    return "deleted";
}

/** The guard found the image in use: a replacement keeps it (and warns), a destroy fails. */
async function keepOrRefuse(
    client: EC2Client,
    op: string,
    id: string,
    props: ImageResourceState,
    inUse: ImageInUseError,
    options: RemoveResourceImageOptions,
): Promise<"kept"> {
    let replaced: boolean;
    try {
        replaced = await isReplacement(client, props.owner, { imageId: id, creationDate: props.creationDate });
    } catch (e) {
        throw new OperationError(op, `the image is in use (${inUse.message}); looking for the image that replaced it`, e, {
            region: props.region,
        });
    }
    if (!replaced)
        throw new OperationError(op, "checking that nothing uses the image", new Error(inUseOnDestroy(inUse)), { region: props.region });
    try {
        // Never on an adopted image: its tags are its owner's.
        if (props.owner && !options.adopted) await markKept(client, id, props.owner);
    } catch (e) {
        throw new OperationError(op, "tagging the old image, kept because it is in use", e, { region: props.region });
    }
    const marked = props.owner && !options.adopted ? props.owner : undefined;
    // A GoldenImage's copy: its pipeline's keepLatest selects it.
    const pipeline = props.tags?.["golden-ami:pipeline"];
    const hint =
        options.retireHint ??
        (pipeline
            ? `the pipeline's keepLatest (selecting golden-ami:pipeline=${pipeline}) retires it once nothing uses it`
            : marked
              ? `an AmiRetentionPolicy selecting tag ${OWNER_TAG}=${marked} (keepLatest: 1) retires it once nothing uses it`
              : "it was adopted, so it is left as it is: deregister it yourself once nothing uses it");
    console.error(keptWarning(op, inUse, marked, hint));
    return "kept";
}

/** Every hook of an image kind. */
export interface ImageHooks<I extends ImageInputs> {
    check(olds: Partial<I>, news: Partial<I>): Promise<dynamic.CheckResult>;
    diff(id: string, olds: ImageResourceState<any>, news: I): Promise<dynamic.DiffResult>;
    create(inputs: I): Promise<dynamic.CreateResult>;
    read(id: string, props: ImageResourceState<I>): Promise<dynamic.ReadResult>;
    update(id: string, olds: ImageResourceState<I>, news: I): Promise<dynamic.UpdateResult>;
    delete(id: string, props: ImageResourceState<I>): Promise<void>;
}

/**
 * What a kind does around the shared read, update and delete, each given the
 * shared hook as `shared` to call (or not): GoldenImage's bake sweeps its
 * builders first and publishes after.
 */
export interface AroundHooks<I extends ImageInputs> {
    read?(shared: ImageHooks<I>["read"], id: string, props: ImageResourceState<I>): Promise<dynamic.ReadResult>;
    update?(shared: ImageHooks<I>["update"], id: string, olds: ImageResourceState<I>, news: I): Promise<dynamic.UpdateResult>;
    delete?(shared: ImageHooks<I>["delete"], id: string, props: ImageResourceState<I>): Promise<void>;
}

/**
 * A kind's hooks from its descriptor and its own create: check and diff from
 * the descriptor (image-planning.ts), read, update and delete shared (with
 * what the kind does `around` them). An adopted image (`name: "image"`)
 * keeps its own name through updates.
 */
export function imageHooks<I extends ImageInputs>(
    kind: ImageKind<I>,
    create: (inputs: I) => Promise<dynamic.CreateResult>,
    checkWithEc2?: Ec2Check<I>,
    around: AroundHooks<I> = {},
): ImageHooks<I> {
    const planning = planningHooks<I>(kind, checkWithEc2 && (() => checkWithEc2));
    const read: ImageHooks<I>["read"] = (id, props) => readImage(id, props, kind);
    const update: ImageHooks<I>["update"] = (id, olds, news) =>
        updateImage(id, olds, kind.name === "image" ? { ...news, name: olds.name } : news, kind.createTimeoutMinutes, {
            snapshotsOwned: snapshotsOwned(kind, news),
        });
    const remove: ImageHooks<I>["delete"] = async (id, props) => {
        await removeResourceImage(id, props, kind);
    };
    return {
        check: planning.check,
        diff: planning.diff,
        create,
        read: around.read ? (id, props) => around.read!(read, id, props) : read,
        update: around.update ? (id, olds, news) => around.update!(update, id, olds, news) : update,
        delete: around.delete ? (id, props) => around.delete!(remove, id, props) : remove,
    };
}
