import type * as dynamic from "@pulumi/pulumi/dynamic";
import { BaseImage, BUILD_HASH_TAG, descriptor, GoldenImageBakeInputs } from "../sdk/golden-image-bake";
import { replaceKeys } from "../sdk/image-kind";
import { ImageReference, inUseReason } from "../sdk/retention-plan";
import type { CheckFailure } from "../sdk/rules/primitives";
import {
    BaseImageError,
    createImageFromBuilder,
    launchBuilder,
    resolveBaseImage,
    terminateBuilders,
    terminateInstances,
    waitForBuilderStopped,
} from "./ec2/builder-instance";
import { ec2Client, ssmClient } from "./ec2/client";
import { removeImageLeftBehind } from "./ec2/delete-image";
import { errorCode, OperationError, PartialCreateError } from "./ec2/errors";
import { findImageById, findOwnImagesByName } from "./ec2/finders";
import { imagesInUse } from "./ec2/inventory";
import { publishImageParameter, readParameter, unpublishImageParameter } from "./ec2/ssm-parameter";
import type { EC2Client } from "./ec2/types";
import { printProgress } from "./ec2/waiters";
import { finishCreate, imageHooks } from "./image-hooks";
import { compact, ImageResourceState, wantedImageTags } from "./image-planning";

export { GoldenImageBakeInputs };

/**
 * GoldenImage's bake: base image in, provisioned image out. Its check
 * resolves the base image (`checkWithEc2`); create launches a builder from
 * the base image with the provisioning script as user data, waits until the
 * script powers it off, bakes the stopped instance (CreateImage, then the
 * shared finishCreate: wait, tags, sharing), publishes the id, and always
 * terminates the builder. Around the shared read, update and delete, builders
 * an interrupted run left behind are found by their tag and terminated, and
 * the publish parameter is kept current.
 */

/** Changing any of these replaces the image; `name` and `buildHash` follow the build keys. */
export const REPLACE_KEYS = replaceKeys(descriptor);

/** What the bake keeps in state. */
export type GoldenImageBakeState = ImageResourceState<GoldenImageBakeInputs> & {
    /** The builder the image was baked from (terminated). */
    builderInstanceId?: string;
    /** What the publish parameter held at the last create, update or refresh. */
    publishedImageId?: string;
};

function label(inputs: { name?: string; baseImageId?: string }): string {
    return `baking AMI (${inputs.name ?? "?"}) from ${inputs.baseImageId ?? "?"}`;
}

function describeCause(e: unknown): string {
    const err = e as { name?: string; message?: string };
    const code = err?.name && err.name !== "Error" && !(e instanceof BaseImageError) ? `${err.name}: ` : "";
    return `${code}${err?.message ?? String(e)}`;
}

/**
 * Resolves the base image (an SSM parameter, an id, or the newest match of a
 * name pattern) to the AMI it stands for now: check adds it as `baseImageId`,
 * so `pulumi preview --diff` shows `baseImageId: "ami-a" => "ami-b"` and the
 * new build hash as the reasons for a replacement. A base image that cannot
 * be used fails check on `baseImage`.
 */
export async function checkWithEc2(
    news: Partial<GoldenImageBakeInputs>,
): Promise<CheckFailure | { resolved: Partial<GoldenImageBakeInputs> }> {
    const region = news.region!;
    try {
        const image = await resolveBaseImage(ec2Client(region), ssmClient(region), news.baseImage as BaseImage);
        return { resolved: { baseImageId: image.ImageId! } };
    } catch (e) {
        return {
            property: "baseImage",
            reason: `baseImage: resolving ${JSON.stringify(news.baseImage)} in ${region}: ${describeCause(e)}`,
        };
    }
}

/** Terminates the pipeline's builders other than `keep`, saying so when there were any. */
async function sweepBuilders(client: EC2Client, owner: string, op: string, keep: string[] = []): Promise<void> {
    let strays: string[];
    try {
        strays = await terminateBuilders(client, owner, keep);
    } catch (e) {
        throw new OperationError(op, "terminating builders an interrupted run left behind", e);
    }
    if (strays.length) printProgress(`${op}: terminated builder(s) ${strays.join(", ")} left behind by an interrupted run`);
}

/** Publishes the image id (when asked). */
async function publish(inputs: GoldenImageBakeInputs, imageId: string): Promise<string | undefined> {
    if (!inputs.publishParameter) return undefined;
    await publishImageParameter(ssmClient(inputs.region), inputs.publishParameter, imageId, {
        description: `golden-ami: latest image of ${inputs.pipeline}`,
    });
    printProgress(`published ${imageId} as SSM parameter ${inputs.publishParameter}`);
    return imageId;
}

/** The shared finish (wait, settings, outputs), the builder's id, and what was published; a failed publish keeps the image in state. */
async function finishBake(
    client: EC2Client,
    imageId: string,
    inputs: GoldenImageBakeInputs,
    op: string,
    builderInstanceId: string | undefined,
): Promise<dynamic.CreateResult> {
    const made = await finishCreate(client, imageId, inputs, op, inputs.createTimeoutMinutes ?? descriptor.createTimeoutMinutes);
    const outs = { ...made.outs, builderInstanceId };
    try {
        return { id: imageId, outs: compact({ ...outs, publishedImageId: await publish(inputs, imageId) }) };
    } catch (e) {
        const err = new OperationError(op, `publishing the image id to SSM parameter ${inputs.publishParameter}`, e);
        throw new PartialCreateError(
            `${err.message}; image ${imageId} is recorded in state: run \`pulumi up\` again to publish it`,
            imageId,
            compact(outs),
            undefined,
            { cause: e },
        );
    }
}

/**
 * An image of this name and build hash that an interrupted run made (the
 * name is derived from the build hash, so it is the same build): adopted
 * instead of baking a second one. Failed ones are removed.
 */
async function leftoverImage(client: EC2Client, inputs: GoldenImageBakeInputs): Promise<string | undefined> {
    const images = await findOwnImagesByName(client, inputs.name);
    const sameBuild = images.filter((i) => i.Tags?.some((t) => t.Key === BUILD_HASH_TAG && t.Value === inputs.buildHash));
    for (const f of sameBuild.filter((i) => i.State === "failed" || i.State === "error")) await removeImageLeftBehind(client, f.ImageId!);
    return sameBuild.find((i) => i.State === "pending" || i.State === "available")?.ImageId;
}

/** Appends what happened to the builder to a failure's message, keeping the error's type (and an image id it carries). */
function withBuilderNote(e: unknown, note: string): unknown {
    if (!note) return e;
    if (e instanceof Error) {
        e.message += note;
        if (e instanceof PartialCreateError) e.reasons.splice(0, e.reasons.length, e.message);
    }
    return e;
}

function wantedBuilderTags(inputs: GoldenImageBakeInputs): Record<string, string> {
    const { Name: _name, ...tags } = wantedImageTags(inputs);
    return tags;
}

/** The bake's own create: builder launch, wait until stopped, CreateImage and the shared finish; the builder is always terminated. */
async function create(inputs: GoldenImageBakeInputs): Promise<dynamic.CreateResult> {
    const client = ec2Client(inputs.region);
    const op = label(inputs);
    const step = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
        try {
            return await fn();
        } catch (e) {
            throw new OperationError(op, name, e);
        }
    };

    const adopted = await step("looking for an image an interrupted run made", () => leftoverImage(client, inputs));
    if (adopted) {
        printProgress(`${op}: adopting ${adopted}, the image of this build an interrupted run made`);
        try {
            return await finishBake(client, adopted, inputs, op, undefined);
        } finally {
            // Its builder stays until the image is available: EC2 snapshots the volumes after CreateImage returns.
            await sweepBuilders(client, inputs.builderOwner, op);
        }
    }
    await sweepBuilders(client, inputs.builderOwner, op);

    const base = await step("describing the base image", () => findImageById(client, inputs.baseImageId));
    const builderId = await step("launching the builder (RunInstances)", () =>
        launchBuilder(client, {
            baseImageId: inputs.baseImageId,
            instanceType: inputs.instanceType,
            userData: inputs.userData,
            subnetId: inputs.subnetId,
            securityGroupIds: inputs.securityGroupIds,
            iamInstanceProfile: inputs.iamInstanceProfile,
            rootVolumeSize: inputs.rootVolumeSize,
            rootDeviceName: base.RootDeviceName,
            owner: inputs.builderOwner,
            tags: wantedBuilderTags(inputs),
        }),
    );
    printProgress(`${op}: builder ${builderId} launched (${inputs.instanceType}); waiting for the script to power it off`);

    let result: dynamic.CreateResult;
    try {
        const started = Date.now();
        await step("waiting for the provisioning script to power the builder off", () =>
            waitForBuilderStopped(client, builderId, { timeoutMinutes: inputs.buildTimeoutMinutes, label: op }),
        );
        printProgress(`${op}: builder ${builderId} stopped after ${Math.round((Date.now() - started) / 1000)} s; baking`);
        const imageId = await step("CreateImage of the stopped builder", () =>
            createImageFromBuilder(client, builderId, {
                name: inputs.name,
                description: inputs.description,
                tags: wantedImageTags(inputs),
            }),
        );
        result = await finishBake(client, imageId, inputs, op, builderId);
    } catch (e) {
        // Always terminate the builder; a failure to do so is added to the error (the next run sweeps it).
        const note = await terminateInstances(client, [builderId]).then(
            () => `; builder ${builderId} terminated`,
            (t) =>
                `; terminating builder ${builderId} also failed (${errorCode(t) ?? (t as Error).message}): the next \`pulumi up\`, \`refresh\` or \`destroy\` terminates it`,
        );
        throw withBuilderNote(e, note);
    }
    try {
        await terminateInstances(client, [builderId]);
    } catch (e) {
        const err = new OperationError(op, `terminating builder ${builderId}`, e);
        throw new PartialCreateError(
            `${err.message}; image ${result.id} is recorded in state: the next \`pulumi up\`, \`refresh\` or \`destroy\` terminates the builder`,
            result.id,
            result.outs ?? {},
            undefined,
            { cause: e },
        );
    }
    printProgress(`${op}: ${result.id} available; builder ${builderId} terminated`);
    return result;
}

const hooks = imageHooks(descriptor, create, checkWithEc2, {
    /** `pulumi refresh`: terminates stray builders, then the shared read, and what the parameter holds. */
    async read(shared, id, props) {
        const state = props as GoldenImageBakeState;
        const client = ec2Client(state.region);
        const op = `reading ${label(state)}`;
        await sweepBuilders(client, state.builderOwner, op);
        const r = await shared(id, props);
        if (!r.id || !state.publishParameter) return r;
        let published: string | undefined;
        try {
            published = (await readParameter(ssmClient(state.region), state.publishParameter))?.value;
        } catch (e) {
            throw new OperationError(op, `reading SSM parameter ${state.publishParameter}`, e);
        }
        return { id: r.id, props: compact({ ...r.props, publishedImageId: published ?? "" }) };
    },

    /** An update also finishes a create that failed part way: no builder may outlive it; then the parameter follows. */
    async update(shared, id, olds, news) {
        const previous = olds as GoldenImageBakeState;
        const client = ec2Client(news.region);
        const op = `updating ${label(news)} ${id}`;
        await sweepBuilders(client, news.builderOwner, op);
        const r = await shared(id, olds, news);
        let publishedImageId = previous.publishedImageId;
        try {
            publishedImageId = (await publish(news, id)) ?? publishedImageId;
            if (previous.publishParameter && previous.publishParameter !== news.publishParameter) {
                const outcome = await unpublishImageParameter(ssmClient(previous.region), previous.publishParameter, id);
                printProgress(`SSM parameter ${previous.publishParameter}: ${outcome}`);
                if (!news.publishParameter) publishedImageId = undefined;
            }
        } catch (e) {
            throw new OperationError(op, "publishing the image id to SSM", e);
        }
        return { outs: compact({ ...r.outs, builderInstanceId: previous.builderInstanceId, publishedImageId }) };
    },

    /**
     * Destroy, and the old image after a replacement: terminates stray
     * builders, then, unless the image is still in use (an instance, a launch
     * template, directly or through an SSM parameter), withdraws the parameter
     * if it still holds this image and deletes the image with its snapshots
     * (the shared delete). An image in use is left, tagged with its pipeline,
     * for retention (keepLatest) to retire once nothing uses it.
     */
    async delete(shared, id, props) {
        const client = ec2Client(props.region);
        const op = `deleting ${label(props)} ${id}`;
        await sweepBuilders(client, props.builderOwner, op);
        let user: string | undefined;
        try {
            const refs = (await imagesInUse(client, props.region, [id])).get(id) ?? [];
            // The bake's own publish parameter is no user: it is withdrawn below.
            const own = (r: ImageReference) => r.kind === "ssm-parameter" && r.id === props.publishParameter;
            user = inUseReason(new Map([[id, refs.filter((r) => !own(r))]]), id);
        } catch (e) {
            throw new OperationError(op, "checking whether the image is still in use", e);
        }
        if (user) {
            console.error(
                `warning: ${op}: kept, it is still in use by ${user}; it leaves the stack, tagged golden-ami:pipeline=${props.pipeline}, ` +
                    `for keepLatest (or a later destroy of that user) to retire`,
            );
            return;
        }
        if (props.publishParameter) {
            try {
                const outcome = await unpublishImageParameter(ssmClient(props.region), props.publishParameter, id);
                printProgress(`SSM parameter ${props.publishParameter}: ${outcome}`);
            } catch (e) {
                throw new OperationError(op, `deleting SSM parameter ${props.publishParameter}`, e);
            }
        }
        await shared(id, props);
    },
});

export const { check, diff, read, update } = hooks;
export { create };
const remove = hooks.delete;
export { remove as delete };
