import type * as dynamic from "@pulumi/pulumi/dynamic";
import { descriptor, ManagedAmiInputs } from "../sdk/managed-ami";
import { replaceKeys } from "../sdk/image-kind";
import type { CheckFailure } from "../sdk/rules/primitives";
import { AdoptedImageState, AdoptionChange, describeAdoptionChange, planAdoption, untouchedSettings } from "./adoption-plan";
import { ec2Client } from "./ec2/client";
import { imageOutputs, imageSnapshotIds, isDeregistrationProtected, launchPermissionsFromEc2, tagsToRecord } from "./ec2/converters";
import { OperationError } from "./ec2/errors";
import { findLaunchPermissions, findOwnImageById, findSnapshots } from "./ec2/finders";
import { addTags, changeLaunchPermissions, setDeprecation, setDeregistrationProtection, setDescription } from "./ec2/image-lifecycle";
import type { EC2Client, Image } from "./ec2/sdk-types";
import { printProgress, waitForImageAvailable } from "./ec2/waiters";
import { removeResourceImage, readImage } from "./image-hooks";
import { noteCreated } from "./image-in-use";
import type { ImageResourceState } from "./image-planning";
import { publishStep, reconcilePublish, unpublishImage } from "./publish-step";
import { compact } from "./state-values";

// check and diff come from managed-ami-planning.ts (the provider object loads
// both modules): that module loads this one only to print an adoption preview.
export { ManagedAmiInputs };

/** Another image, or another region, is another resource. */
export const REPLACE_KEYS = replaceKeys(descriptor);

/** What EC2 has now of everything a ManagedAmi can manage (snapshot tags only when asked for). */
export async function adoptedImageState(client: EC2Client, image: Image, withSnapshotTags: boolean): Promise<AdoptedImageState> {
    const state: AdoptedImageState = {
        description: image.Description ?? "",
        tags: tagsToRecord(image.Tags),
        deprecationTime: image.DeprecationTime,
        deregistrationProtection: isDeregistrationProtected(image),
        launchPermissions: launchPermissionsFromEc2(await findLaunchPermissions(client, image.ImageId!)),
    };
    if (withSnapshotTags) {
        state.snapshotTags = Object.fromEntries(
            (await findSnapshots(client, imageSnapshotIds(image))).map((s) => [s.SnapshotId!, tagsToRecord(s.Tags)]),
        );
    }
    return state;
}

/** Carries out an adoption plan: one call per kind of change. */
export async function applyAdoption(client: EC2Client, imageId: string, changes: AdoptionChange[]): Promise<void> {
    const tags = Object.fromEntries(changes.flatMap((c) => (c.property === "tags" ? [[c.key, c.to]] : [])));
    await addTags(client, [imageId], tags);
    const bySnapshot = new Map<string, Record<string, string>>();
    for (const c of changes) {
        if (c.property === "snapshotTags") bySnapshot.set(c.snapshotId, { ...bySnapshot.get(c.snapshotId), [c.key]: c.to });
    }
    for (const [snapshotId, t] of bySnapshot) await addTags(client, [snapshotId], t);
    for (const c of changes) {
        if (c.property === "description") await setDescription(client, imageId, c.to);
        if (c.property === "deprecationTime") await setDeprecation(client, imageId, c.to);
        if (c.property === "deregistrationProtection") await setDeregistrationProtection(client, imageId, c.to);
        if (c.property === "launchPermissions") await changeLaunchPermissions(client, imageId, c.grant, c.revoke);
    }
}

function notOwned(inputs: ManagedAmiInputs): string {
    return `it is not an image this account owns in ${inputs.region} (check imageId and region; only your own images can be managed)`;
}

/**
 * Preview's view of an adoption (called by check): reads the image and prints
 * one line per change `pulumi up` will make, and what it leaves alone. On
 * later previews it prints only when EC2 has drifted from the inputs. An image
 * this account does not own is a check failure; any other error is printed
 * (create reports it in full) and preview goes on.
 */
export async function previewAdoption(inputs: ManagedAmiInputs, options: { adopting: boolean }): Promise<CheckFailure | undefined> {
    const client = ec2Client(inputs.region);
    const label = `ManagedAmi ${inputs.imageId} (${inputs.region})`;
    let image: Image | undefined;
    let current: AdoptedImageState;
    try {
        image = await findOwnImageById(client, inputs.imageId);
        if (!image) return { property: "imageId", reason: `imageId: ${inputs.imageId}: ${notOwned(inputs)}` };
        current = await adoptedImageState(client, image, inputs.snapshotTags !== undefined);
    } catch (e) {
        printProgress(
            `${label}: could not read the image to show what adoption changes: ${new OperationError("reading", "describing the image", e).message}`,
        );
        return undefined;
    }
    const changes = planAdoption(current, inputs);
    if (!options.adopting && changes.length === 0) return undefined;
    const verb = options.adopting ? "adopting" : "updating";
    const hidden = new Set(inputs.secretInputs ?? []);
    printProgress(
        changes.length === 0
            ? `${label}: ${verb} changes nothing`
            : `${label}: ${verb} changes ${changes.length} setting(s):\n` +
                  changes.map((c) => `  ${describeAdoptionChange(c, hidden)}`).join("\n"),
    );
    if (options.adopting) printProgress(`${label}: left as they are: ${untouchedSettings(current, inputs).join("; ")}`);
    return undefined;
}

/** Brings the image to the inputs, touching only what they give; the image's outputs, with the inputs' tags. */
async function reconcile(
    op: string,
    imageId: string,
    inputs: ManagedAmiInputs,
    olds: { region: string; publish?: ManagedAmiInputs["publish"] } = { region: inputs.region },
): Promise<Record<string, unknown>> {
    const client = ec2Client(inputs.region);
    const step = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
        try {
            return await fn();
        } catch (e) {
            throw new OperationError(op, name, e);
        }
    };
    const image = await step("waiting for the image to be available", () =>
        waitForImageAvailable(client, imageId, { timeoutMinutes: descriptor.createTimeoutMinutes, label: op }),
    );
    const current = await step("reading its settings", () => adoptedImageState(client, image, inputs.snapshotTags !== undefined));
    const changes = planAdoption(current, inputs);
    const hidden = new Set(inputs.secretInputs ?? []);
    await step(`applying ${changes.map((c) => describeAdoptionChange(c, hidden)).join(", ") || "nothing"}`, () =>
        applyAdoption(client, imageId, changes),
    );
    const published = await step("publishing the image id to SSM", () => reconcilePublish(imageId, olds, inputs));
    const outputs = imageOutputs(image, inputs.region);
    // The tags as EC2 has them now: the ones it had, with the listed ones set.
    const tags = { ...outputs.tags, ...(inputs.tags ?? {}) };
    return compact({ ...inputs, ...outputs, ...published, name: image.Name ?? "", tags });
}

/**
 * Adopts the image: makes sure this account owns it, then sets what the
 * inputs give (and nothing else). No image is created.
 */
async function create(inputs: ManagedAmiInputs): Promise<dynamic.CreateResult> {
    const client = ec2Client(inputs.region);
    const op = `adopting AMI ${inputs.imageId} in ${inputs.region}`;
    let owned: boolean;
    try {
        owned = (await findOwnImageById(client, inputs.imageId)) !== undefined;
    } catch (e) {
        throw new OperationError(op, "describing the image", e);
    }
    if (!owned) throw new Error(`${op}: ${notOwned(inputs)}`);
    const outs = await reconcile(op, inputs.imageId, inputs);
    // A release of the image this resource managed before is a replacement's (image-in-use.ts).
    noteCreated(inputs.owner, inputs.imageId);
    return { id: inputs.imageId, outs };
}

async function update(id: string, olds: ImageResourceState, news: ManagedAmiInputs): Promise<dynamic.UpdateResult> {
    return { outs: await reconcile(`updating adopted AMI (${olds.name}) ${id}`, id, news, olds) };
}

/** `pulumi refresh`: EC2's view (its `tags` output is every tag of the image; diff compares only the listed ones). */
async function read(id: string, props: ImageResourceState & ManagedAmiInputs): Promise<dynamic.ReadResult> {
    return readImage(id, props, descriptor);
}

/**
 * Release: the image stays as it is (the stack did not create it), unless
 * `deleteOnRelease` is true; then it is deregistered, its snapshots deleted
 * only with `deleteSnapshotsOnDestroy: true`.
 */
async function remove(id: string, props: ImageResourceState & ManagedAmiInputs): Promise<void> {
    if (props.deleteOnRelease !== true) {
        // No EC2 call: releasing never touches the image (its SSM parameter is the resource's own).
        await publishStep(`releasing adopted AMI ${id}`, () => unpublishImage(id, props));
        printProgress(`released ${id} untouched (deleteOnRelease is false)`);
        return;
    }
    await removeResourceImage(id, props, descriptor, { adopted: true });
}

export { create, update, read };
export { remove as delete };
