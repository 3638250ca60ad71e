import type * as dynamic from "@pulumi/pulumi/dynamic";
import { BaseImage, BUILD_HASH_TAG, descriptor, GoldenImageBakeInputs, PIPELINE_TAG } from "../sdk/golden-image-bake";
import { replaceKeys } from "../sdk/image-kind";
import { containsUnknown, type CheckFailure } from "../sdk/rules/primitives";
import {
    architectureOf,
    BaseImageError,
    consoleTail,
    createImageFromBuilder,
    launchWithRetries,
    resolveBaseImage,
    ScriptFailedError,
    stopWhenBooted,
    terminateAndWait,
    terminateBuilders,
    terminateInstances,
    TEST_ROLE,
    waitForBuilderStopped,
    waitForSuccessMarker,
} from "./ec2/builder-instance";
import { ec2Client, ssmClient } from "./ec2/client";
import { removeImageLeftBehind } from "./ec2/delete-image";
import { errorCode, isNotFound, OperationError, PartialCreateError } from "./ec2/errors";
import { findImageById, findOwnImagesByName } from "./ec2/finders";
import { describeParameter, publishImageParameter, readParameter, unpublishImageParameter } from "./ec2/ssm-parameter";
import { STATUS_CHECK_TIMEOUT_MINUTES, TEST_TIMEOUT_MINUTES } from "./ec2/limits";
import type { EC2Client } from "./ec2/sdk-types";
import { printProgress } from "./ec2/waiters";
import { removeResourceImage, finishCreate, imageHooks } from "./image-hooks";
import { compact, ImageResourceState, markedTags, wantedImageTags } from "./image-planning";
import { isFinishedCreate, KeptImageError, keptImageError } from "./kept-image";

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
    const base = news.baseImage as BaseImage;
    const type = news.instanceType;
    const architecture = typeof type === "string" && !containsUnknown(type) ? architectureOf(type) : undefined;
    try {
        const image = await resolveBaseImage(ec2Client(region), ssmClient(region), base, { architecture });
        if (base.namePattern !== undefined) {
            // Shown by preview: which image the pattern stands for now.
            printProgress(
                `baseImage: ${JSON.stringify(base.namePattern)} picked ${image.ImageId} (${image.Name}, ${image.Architecture ?? "?"}, created ${image.CreationDate ?? "?"}) in ${region}`,
            );
        }
        if (news.test && typeof news.test.userData === "string" && !containsUnknown(news.test)) {
            printProgress(
                `test step: after the bake an instance of the new image runs test.userData (${news.test.userData.split("\n").length} lines, ` +
                    `at most ${news.testTimeoutMinutes ?? TEST_TIMEOUT_MINUTES} min); the image is copied and published only if it passes`,
            );
        }
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

/** The description golden-ami writes on a GoldenImage's parameter, and recognizes as the pipeline's. */
export function parameterDescription(pipeline: string): string {
    return `golden-ami: latest image of ${pipeline}`;
}

/** The parameter holds an image of another owner (or something else), and `publish.overwrite` is not set. */
export class ParameterOwnedElsewhereError extends Error {
    constructor(
        readonly parameterName: string,
        readonly value: string,
        pipeline: string,
    ) {
        super(
            `SSM parameter ${parameterName} already exists and holds ${value}, which is not an image of this pipeline (${pipeline}); ` +
                `golden-ami does not take over a parameter it did not publish: choose another publish.ssmParameter, or set publish.overwrite: true to take it over`,
        );
        this.name = "ParameterOwnedElsewhereError";
    }
}

/**
 * Publish ownership, checked before anything is built: the parameter does
 * not exist yet, or golden-ami wrote it for this pipeline (its description),
 * or it holds one of this pipeline's images (tag `golden-ami:pipeline`).
 * Anything else is refused unless `publish.overwrite`.
 */
export async function checkPublishOwnership(client: EC2Client, inputs: GoldenImageBakeInputs): Promise<void> {
    const name = inputs.publishParameter;
    if (!name || inputs.publishOverwrite) return;
    const ssm = ssmClient(inputs.region);
    const current = await readParameter(ssm, name);
    if (!current) return;
    if ((await describeParameter(ssm, name))?.description === parameterDescription(inputs.pipeline)) return;
    if (current.value.startsWith("ami-")) {
        try {
            const image = await findImageById(client, current.value);
            if (image.Tags?.some((t) => t.Key === PIPELINE_TAG && t.Value === inputs.pipeline)) return;
        } catch (e) {
            if (!isNotFound(e)) throw e;
        }
    }
    throw new ParameterOwnedElsewhereError(name, current.value, inputs.pipeline);
}

/** Publishes the image id (when asked). */
async function publish(inputs: GoldenImageBakeInputs, imageId: string): Promise<string | undefined> {
    if (!inputs.publishParameter) return undefined;
    await publishImageParameter(ssmClient(inputs.region), inputs.publishParameter, imageId, {
        description: parameterDescription(inputs.pipeline),
    });
    printProgress(`published ${imageId} as SSM parameter ${inputs.publishParameter}`);
    return imageId;
}

/** The image a bake made, and what the steps after CreateImage act on. */
interface BakedImage {
    client: EC2Client;
    imageId: string;
    inputs: GoldenImageBakeInputs;
    op: string;
    /** The builder it was made from; none for an image an interrupted run left and this one adopted. */
    builderInstanceId: string | undefined;
}

/** The shared finish (wait, settings, outputs), the builder's id, and what was published; a failed publish keeps the image in state. */
async function finishBake({ client, imageId, inputs, op, builderInstanceId }: BakedImage): Promise<dynamic.CreateResult> {
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
    for (const f of sameBuild.filter((i) => i.State === "failed" || i.State === "error"))
        await removeImageLeftBehind(client, inputs.region, f.ImageId!);
    const left = sameBuild.find((i) => i.State === "pending" || i.State === "available");
    if (left && isFinishedCreate(left)) throw keptImageError(label(inputs), left, "set image.namePrefix to another prefix");
    return left?.ImageId;
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

/** The test step failed: the new image and its snapshots are removed, nothing ships. */
export class ImageTestFailedError extends Error {
    constructor(
        readonly imageId: string,
        readonly testInstanceId: string | undefined,
        cause: unknown,
        notes: string,
    ) {
        super(`the test of ${imageId} failed (test.userData): ${(cause as Error)?.message ?? String(cause)}${notes}`, { cause });
        this.name = "ImageTestFailedError";
    }
}

/**
 * The test step: an instance launched from the new image (tagged like a
 * builder, so sweeps find it) runs the test script; it passes when the
 * script prints the success marker and powers the instance off within
 * `testTimeoutMinutes`. The instance is terminated either way (and waited
 * for: nothing may still use the image when it is removed). On failure the
 * image and its snapshots are removed and ImageTestFailedError thrown.
 */
async function testImage(client: EC2Client, imageId: string, inputs: GoldenImageBakeInputs, op: string): Promise<void> {
    const t = inputs.test!;
    let instanceId: string | undefined;
    let failure: unknown;
    try {
        const launched = await launchWithRetries(
            client,
            {
                baseImageId: imageId,
                instanceType: t.instanceType ?? inputs.instanceType,
                userData: t.userData,
                subnetId: t.subnetId ?? inputs.subnetId,
                securityGroupIds: t.securityGroupIds ?? inputs.securityGroupIds,
                iamInstanceProfile: t.iamInstanceProfile ?? inputs.iamInstanceProfile,
                owner: inputs.builderOwner,
                tags: { ...wantedBuilderTags(inputs), "golden-ami:role": "test" },
                name: `golden-ami test ${inputs.pipeline}`,
            },
            { instanceTypes: t.instanceType ? [] : inputs.instanceTypes },
        );
        instanceId = launched.instanceId;
        printProgress(`${op}: test instance ${instanceId} launched from ${imageId}; waiting for the test script to power it off`);
        await waitForBuilderStopped(client, instanceId, {
            timeoutMinutes: inputs.testTimeoutMinutes ?? TEST_TIMEOUT_MINUTES,
            label: op,
            role: TEST_ROLE,
        });
        if (!(await waitForSuccessMarker(client, instanceId))) {
            throw new ScriptFailedError(instanceId, await consoleTail(client, instanceId), TEST_ROLE);
        }
    } catch (e) {
        failure = e;
    }
    let notes = "";
    if (instanceId) {
        try {
            await terminateAndWait(client, instanceId);
            notes += `; test instance ${instanceId} terminated`;
        } catch (e) {
            notes += `; terminating test instance ${instanceId} failed (${errorCode(e) ?? (e as Error).message}): the next \`pulumi up\`, \`refresh\` or \`destroy\` terminates it`;
        }
    }
    if (failure === undefined) {
        printProgress(`${op}: the test of ${imageId} passed${notes}`);
        return;
    }
    try {
        await removeImageLeftBehind(client, inputs.region, imageId);
        notes += `; image ${imageId} and its snapshots deleted`;
    } catch (e) {
        notes += `; deleting image ${imageId} also failed (${errorCode(e) ?? (e as Error).message}): deregister it by hand`;
    }
    throw new ImageTestFailedError(imageId, instanceId, failure, notes);
}

/**
 * With a test step: the image made ready without sharing or protection
 * (tags, snapshot tags, deprecation), tested, and only then finished and
 * published. A failure on the way removes the image: an untested image is
 * never kept in state.
 */
async function testThenFinish(baked: BakedImage): Promise<dynamic.CreateResult> {
    const { client, imageId, inputs, op } = baked;
    if (!inputs.test) return finishBake(baked);
    try {
        const unshared = { ...inputs, launchPermissions: undefined, deregistrationProtection: undefined };
        await finishCreate(client, imageId, unshared, op, inputs.createTimeoutMinutes ?? descriptor.createTimeoutMinutes);
    } catch (e) {
        // The first failure is the one to report; a failed removal is said too, never hidden.
        const removal = await removeImageLeftBehind(client, inputs.region, imageId).then(
            () => "the image was removed",
            (cleanup: unknown) => `removing the image failed too, it is left in ${inputs.region}: ${(cleanup as Error).message}`,
        );
        throw new OperationError(op, `waiting for ${imageId} before its test (${removal})`, e);
    }
    try {
        await testImage(client, imageId, inputs, op);
    } catch (e) {
        throw new OperationError(op, `testing the new image ${imageId} (test step)`, e);
    }
    return finishBake(baked);
}

/**
 * The bake's own create: publish ownership checked, builder launch, wait
 * until the script powered it off with its success marker (or, without a
 * script, until it booted; then it is stopped), CreateImage, the test step,
 * and the shared finish; the builder is always terminated.
 */
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

    // Before anything is built: a parameter someone else owns is never written over.
    await step(`checking who owns SSM parameter ${inputs.publishParameter}`, () => checkPublishOwnership(client, inputs));
    let adopted: string | undefined;
    try {
        adopted = await leftoverImage(client, inputs);
    } catch (e) {
        if (e instanceof KeptImageError) throw e;
        throw new OperationError(op, "looking for an image an interrupted run made", e);
    }
    if (adopted) {
        printProgress(`${op}: adopting ${adopted}, the image of this build an interrupted run made`);
        try {
            return await testThenFinish({ client, imageId: adopted, inputs, op, builderInstanceId: undefined });
        } finally {
            // Its builder stays until the image is available: EC2 snapshots the volumes after CreateImage returns.
            await sweepBuilders(client, inputs.builderOwner, op);
        }
    }
    await sweepBuilders(client, inputs.builderOwner, op);

    const base = await step("describing the base image", () => findImageById(client, inputs.baseImageId));
    const launched = await step("launching the builder (RunInstances)", () =>
        launchWithRetries(
            client,
            {
                baseImageId: inputs.baseImageId,
                instanceType: inputs.instanceType,
                userData: inputs.userData,
                subnetId: inputs.subnetId,
                securityGroupIds: inputs.securityGroupIds,
                iamInstanceProfile: inputs.iamInstanceProfile,
                rootVolumeSize: inputs.rootVolumeSize,
                blockDeviceMappings: inputs.blockDeviceMappings,
                rootDeviceName: base.RootDeviceName,
                kmsKeyId: inputs.kmsKeyId,
                baseMappings: base.BlockDeviceMappings,
                owner: inputs.builderOwner,
                tags: wantedBuilderTags(inputs),
            },
            { instanceTypes: inputs.instanceTypes },
        ),
    );
    const builderId = launched.instanceId;
    const script = !!inputs.userData;
    printProgress(
        `${op}: builder ${builderId} launched (${launched.instanceType}); ` +
            (script ? "waiting for the script to power it off" : "no script: waiting for it to boot (status checks), then stopping it"),
    );

    let result: dynamic.CreateResult;
    try {
        const started = Date.now();
        if (script) {
            await step("waiting for the provisioning script to power the builder off", () =>
                waitForBuilderStopped(client, builderId, { timeoutMinutes: inputs.buildTimeoutMinutes, label: op }),
            );
            await step("reading the builder's console output for the success marker", async () => {
                if (!(await waitForSuccessMarker(client, builderId)))
                    throw new ScriptFailedError(builderId, await consoleTail(client, builderId));
            });
        } else {
            await step("waiting for the builder to boot and pass its status checks", () =>
                stopWhenBooted(client, builderId, {
                    timeoutMinutes: Math.min(inputs.buildTimeoutMinutes, STATUS_CHECK_TIMEOUT_MINUTES),
                    label: op,
                }),
            );
            await step("waiting for the builder to stop", () =>
                waitForBuilderStopped(client, builderId, { timeoutMinutes: inputs.buildTimeoutMinutes, label: op }),
            );
        }
        printProgress(`${op}: builder ${builderId} stopped after ${Math.round((Date.now() - started) / 1000)} s; baking`);
        const imageId = await step("CreateImage of the stopped builder", () =>
            createImageFromBuilder(client, builderId, {
                name: inputs.name,
                description: inputs.description,
                tags: markedTags(wantedImageTags(inputs), inputs.owner),
            }),
        );
        result = await testThenFinish({ client, imageId, inputs, op, builderInstanceId: builderId });
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
            if (news.publishParameter && news.publishParameter !== previous.publishParameter) await checkPublishOwnership(client, news);
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
     * builders, then the shared delete through the guard (the bake's own
     * publish parameter is no user of the image). An image in use is kept
     * on a replacement, tagged with its pipeline, for keepLatest to retire
     * once nothing uses it; a destroy fails naming each user. The parameter
     * is withdrawn (if it still holds this image) only once the image went.
     */
    async delete(_shared, id, props) {
        const op = `deleting ${label(props)} ${id}`;
        await sweepBuilders(ec2Client(props.region), props.builderOwner, op);
        const outcome = await removeResourceImage(id, props, descriptor, {
            ownParameters: [props.publishParameter],
            retireHint: `keepLatest (its AmiRetentionPolicy selects golden-ami:pipeline=${props.pipeline}) retires it once nothing uses it`,
        });
        if (outcome === "kept" || !props.publishParameter) return;
        try {
            const result = await unpublishImageParameter(ssmClient(props.region), props.publishParameter, id);
            printProgress(`SSM parameter ${props.publishParameter}: ${result}`);
        } catch (e) {
            throw new OperationError(op, `deleting SSM parameter ${props.publishParameter}`, e);
        }
    },
});

export const { check, diff, read, update } = hooks;
export { create };
const remove = hooks.delete;
export { remove as delete };
