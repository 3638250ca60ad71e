import {
    CreateImageCommand,
    EC2Client,
    GetConsoleOutputCommand,
    Image,
    Instance,
    paginateDescribeInstances,
    RunInstancesCommand,
    Tag,
    TerminateInstancesCommand,
    _InstanceType,
    DescribeInstancesCommand,
} from "@aws-sdk/client-ec2";
import { SSMClient } from "@aws-sdk/client-ssm";
import { createWaiter, WaiterState } from "@smithy/core/client";
import { recordToTags } from "./converters";
import { CONSOLE_OUTPUT_UNSUPPORTED } from "./error-codes";
import { hasCode, isNotFoundCode, NotFoundError } from "./errors";
import { describeImages, findImageById } from "./finders";
import {
    BUILDER_POLL_MAX_DELAY_SECONDS,
    BUILDER_POLL_MIN_DELAY_SECONDS,
    CONSOLE_TAIL_LINES,
    pollScale,
    PROGRESS_FIRST_SECONDS,
    PROGRESS_INTERVAL_SECONDS,
} from "./limits";
import { readParameter } from "./ssm-parameter";
import { printProgress, ProgressReporter } from "./waiters";

/**
 * The EC2 side of a GoldenImage build: resolve the base image, launch a
 * builder instance that runs the provisioning script and powers itself off,
 * wait for that, bake the stopped instance, and terminate builders, including
 * ones an interrupted run left behind (found by their tag).
 */

/** The tag every builder carries; its value identifies the GoldenImage (its URN). */
export const BUILDER_TAG = "golden-ami:builder";

/** Where the base image comes from: exactly one of the three forms. */
export interface BaseImageSpec {
    /** An SSM parameter holding an AMI id, e.g. `/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64`. */
    ssmParameter?: string;
    /** An AMI id. */
    imageId?: string;
    /** The newest available image of these owners whose name matches `namePattern` (`*` and `?` wildcards). */
    owners?: string[];
    namePattern?: string;
}

/** A base image that cannot be used, with what to do about it. */
export class BaseImageError extends Error {
    constructor(message: string, options?: { cause?: unknown }) {
        super(message, options);
        this.name = "BaseImageError";
    }
}

/** The newest image by creation date (ties: the greater id, so the choice is stable). */
export function newestImage(images: Image[]): Image | undefined {
    return [...images].sort(
        (a, b) => (b.CreationDate ?? "").localeCompare(a.CreationDate ?? "") || (b.ImageId ?? "").localeCompare(a.ImageId ?? ""),
    )[0];
}

/**
 * The AMI id a base image spec stands for now. A parameter or a name
 * pattern moves as its owner publishes new images: that is how a new base
 * image reaches the build (and replaces the golden image).
 */
export async function resolveBaseImage(ec2: EC2Client, ssm: SSMClient, spec: BaseImageSpec): Promise<Image> {
    let imageId = spec.imageId;
    if (spec.ssmParameter) {
        const p = await readParameter(ssm, spec.ssmParameter);
        if (!p) throw new BaseImageError(`SSM parameter ${spec.ssmParameter} does not exist in this region; check its name and the region`);
        if (!p.value.startsWith("ami-")) {
            throw new BaseImageError(`SSM parameter ${spec.ssmParameter} holds ${JSON.stringify(p.value)}, which is not an AMI id`);
        }
        imageId = p.value;
    }
    if (imageId) {
        let image: Image;
        try {
            image = await findImageById(ec2, imageId);
        } catch (e) {
            if (e instanceof NotFoundError) {
                throw new BaseImageError(
                    `AMI ${imageId}${spec.ssmParameter ? ` (from ${spec.ssmParameter})` : ""} does not exist in this region or is not visible to the account`,
                    { cause: e },
                );
            }
            throw e;
        }
        if (image.State !== "available") throw new BaseImageError(`AMI ${imageId} is ${image.State}, not available`);
        return image;
    }
    const owners = spec.owners?.length ? spec.owners : ["self"];
    const images = await describeImages(
        ec2,
        [
            { Name: "name", Values: [spec.namePattern ?? "*"] },
            { Name: "state", Values: ["available"] },
        ],
        owners,
    );
    const newest = newestImage(images.filter((i) => i.State === "available"));
    if (!newest) {
        throw new BaseImageError(
            `no available AMI of owners ${owners.join(", ")} has a name matching ${JSON.stringify(spec.namePattern)} in this region`,
        );
    }
    return newest;
}

/** What a builder is launched with. */
export interface BuilderSpec {
    baseImageId: string;
    instanceType: string;
    userData: string;
    subnetId?: string;
    securityGroupIds?: string[];
    /** Instance profile name, or its ARN. */
    iamInstanceProfile?: string;
    /** Root volume size in GiB (the image's root volume gets it too). */
    rootVolumeSize?: number;
    /** Root device of the base image, to size it. */
    rootDeviceName?: string;
    /** `golden-ami:builder` value: who the builder belongs to. */
    owner: string;
    /** More tags for the builder and its volumes (pipeline, build hash). */
    tags: Record<string, string>;
}

/**
 * Launches the builder: the script runs as user data and ends by powering
 * the instance off, which stops it (`InstanceInitiatedShutdownBehavior:
 * stop`), so the bake is of a stopped, consistent instance. IMDSv2 only.
 */
export async function launchBuilder(client: EC2Client, spec: BuilderSpec): Promise<string> {
    const tags: Tag[] = recordToTags({
        Name: `golden-ami builder ${spec.tags["golden-ami:pipeline"] ?? ""}`.trim(),
        ...spec.tags,
        [BUILDER_TAG]: spec.owner,
    });
    const profile = spec.iamInstanceProfile;
    const out = await client.send(
        new RunInstancesCommand({
            ImageId: spec.baseImageId,
            InstanceType: spec.instanceType as _InstanceType,
            MinCount: 1,
            MaxCount: 1,
            UserData: spec.userData ? Buffer.from(spec.userData, "utf8").toString("base64") : undefined,
            InstanceInitiatedShutdownBehavior: "stop",
            SubnetId: spec.subnetId,
            SecurityGroupIds: spec.securityGroupIds?.length ? spec.securityGroupIds : undefined,
            IamInstanceProfile: profile ? (profile.startsWith("arn:") ? { Arn: profile } : { Name: profile }) : undefined,
            BlockDeviceMappings:
                spec.rootVolumeSize && spec.rootDeviceName
                    ? [{ DeviceName: spec.rootDeviceName, Ebs: { VolumeSize: spec.rootVolumeSize, DeleteOnTermination: true } }]
                    : undefined,
            MetadataOptions: { HttpTokens: "required", HttpEndpoint: "enabled" },
            TagSpecifications: [
                { ResourceType: "instance", Tags: tags },
                { ResourceType: "volume", Tags: tags },
            ],
        }),
    );
    const id = out.Instances?.[0]?.InstanceId;
    if (!id) throw new Error("RunInstances answered no instance");
    return id;
}

/** The builder's instance, or NotFoundError (terminated instances are still found, until EC2 forgets them). */
export async function findInstanceById(client: EC2Client, instanceId: string): Promise<Instance> {
    try {
        const out = await client.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
        const instance = (out.Reservations ?? []).flatMap((r) => r.Instances ?? []).find((i) => i.InstanceId === instanceId);
        if (instance) return instance;
    } catch (e) {
        if (!isNotFoundCode(e, "instance")) throw e;
    }
    throw new NotFoundError("instance", instanceId);
}

/** The last `lines` lines of the builder's console (what a failed script printed), or a note why there is none. */
export async function consoleTail(client: EC2Client, instanceId: string, lines = CONSOLE_TAIL_LINES): Promise<string> {
    let output: string | undefined;
    try {
        const out = await client.send(new GetConsoleOutputCommand({ InstanceId: instanceId, Latest: true }));
        output = out.Output;
    } catch (e) {
        if (!hasCode(e, CONSOLE_OUTPUT_UNSUPPORTED) && !isNotFoundCode(e, "instance")) throw e;
        return "(no console output: the instance type does not keep it, or the instance is gone)";
    }
    if (!output) return "(the console output is empty so far)";
    const text = Buffer.from(output, "base64").toString("utf8");
    return text.replace(/\r/g, "").trimEnd().split("\n").slice(-lines).join("\n");
}

/** The provisioning script did not power the builder off in time. */
export class BuildTimeoutError extends Error {
    constructor(
        readonly instanceId: string,
        readonly minutes: number,
        readonly lastState: string | undefined,
        readonly console: string,
    ) {
        super(
            `builder ${instanceId} was still ${lastState ?? "not stopped"} after ${minutes} minutes: the provisioning script failed ` +
                `or did not end by powering the instance off (end it with \`poweroff\`, or raise build.timeoutMinutes). ` +
                `Last console output:\n${console}`,
        );
        this.name = "BuildTimeoutError";
    }
}

/** The builder ended in a state it cannot be baked from (terminated by someone, or failed to start). */
export class BuilderLostError extends Error {
    constructor(
        readonly instanceId: string,
        readonly state: string,
        readonly stateReason: string,
    ) {
        super(`builder ${instanceId} is ${state}${stateReason ? ` (${stateReason})` : ""}; it cannot be baked`);
        this.name = "BuilderLostError";
    }
}

function formatElapsed(ms: number): string {
    const s = Math.round(ms / 1000);
    const m = Math.floor(s / 60);
    return m > 0 ? `${m}m${String(s % 60).padStart(2, "0")}s` : `${s}s`;
}

/**
 * Waits until the script has powered the builder off (`stopped`), printing
 * elapsed time and state as the image waiters do. A builder that is
 * terminated throws BuilderLostError; one still running at the limit throws
 * BuildTimeoutError with the tail of its console output. (The SDK's
 * `waitUntilInstanceStopped` fails on `pending`, the state a new builder
 * starts in, so this uses the SDK's waiter machinery with its own acceptors.)
 */
export async function waitForBuilderStopped(
    client: EC2Client,
    instanceId: string,
    options: { timeoutMinutes: number; label: string; report?: ProgressReporter },
): Promise<Instance> {
    const report = options.report ?? printProgress;
    const started = Date.now();
    let lastReport = started;
    let last: Instance | undefined;
    const scale = pollScale();
    const result = await createWaiter(
        {
            client,
            maxWaitTime: options.timeoutMinutes * 60,
            minDelay: BUILDER_POLL_MIN_DELAY_SECONDS * scale,
            maxDelay: BUILDER_POLL_MAX_DELAY_SECONDS * scale,
        },
        instanceId,
        async (c: EC2Client, id: string) => {
            let instance: Instance;
            try {
                instance = await findInstanceById(c, id);
            } catch (e) {
                // Right after RunInstances, EC2 may not know the id yet (eventual consistency).
                if (e instanceof NotFoundError && Date.now() - started < 5 * 60_000) return { state: WaiterState.RETRY };
                throw e;
            }
            last = instance;
            const state = instance.State?.Name ?? "unknown";
            if (state === "stopped") return { state: WaiterState.SUCCESS, reason: instance };
            if (state === "terminated" || state === "shutting-down") return { state: WaiterState.FAILURE, reason: instance };
            const now = Date.now();
            const every = lastReport === started ? PROGRESS_FIRST_SECONDS : PROGRESS_INTERVAL_SECONDS;
            if (now - lastReport >= every * 1000 * scale) {
                lastReport = now;
                report(`${options.label}: builder ${id} ${state} for ${formatElapsed(now - started)} (provisioning)`);
            }
            return { state: WaiterState.RETRY, reason: instance };
        },
    );
    if (result.state === WaiterState.SUCCESS) return result.reason as Instance;
    if (result.state === WaiterState.FAILURE) {
        const i = result.reason as Instance;
        throw new BuilderLostError(instanceId, i.State?.Name ?? "unknown", i.StateReason?.Message ?? "");
    }
    throw new BuildTimeoutError(instanceId, options.timeoutMinutes, last?.State?.Name, await consoleTail(client, instanceId));
}

/** CreateImage of the stopped builder; the image's tags go on at create. Returns the image id. */
export async function createImageFromBuilder(
    client: EC2Client,
    instanceId: string,
    image: { name: string; description?: string; tags: Record<string, string> },
): Promise<string> {
    const out = await client.send(
        new CreateImageCommand({
            InstanceId: instanceId,
            Name: image.name,
            Description: image.description,
            TagSpecifications: Object.keys(image.tags).length ? [{ ResourceType: "image", Tags: recordToTags(image.tags) }] : undefined,
        }),
    );
    if (!out.ImageId) throw new Error("CreateImage answered no image id");
    return out.ImageId;
}

const LIVE_STATES = ["pending", "running", "stopping", "stopped"];

/** Builders of `owner` that are not terminated (nor on their way there). */
export async function findBuilders(client: EC2Client, owner: string): Promise<Instance[]> {
    const found: Instance[] = [];
    const pages = paginateDescribeInstances(
        { client, pageSize: 1000 },
        {
            Filters: [
                { Name: `tag:${BUILDER_TAG}`, Values: [owner] },
                { Name: "instance-state-name", Values: LIVE_STATES },
            ],
        },
    );
    for await (const page of pages) for (const r of page.Reservations ?? []) found.push(...(r.Instances ?? []));
    // Filters are matched again here: a builder is only ever one with our tag.
    return found.filter(
        (i) => i.Tags?.some((t) => t.Key === BUILDER_TAG && t.Value === owner) && LIVE_STATES.includes(i.State?.Name ?? ""),
    );
}

/** Terminates these instances; ones EC2 no longer knows count as done. */
export async function terminateInstances(client: EC2Client, instanceIds: string[]): Promise<void> {
    if (instanceIds.length === 0) return;
    try {
        await client.send(new TerminateInstancesCommand({ InstanceIds: instanceIds }));
    } catch (e) {
        if (!isNotFoundCode(e, "instance")) throw e;
        // One unknown id fails the whole call: the rest one by one.
        if (instanceIds.length > 1) for (const id of instanceIds) await terminateInstances(client, [id]);
    }
}

/**
 * Terminates every builder of `owner` (left by an interrupted run, or by a
 * failure to terminate), except `keep`. Returns the ids terminated.
 */
export async function terminateBuilders(client: EC2Client, owner: string, keep: string[] = []): Promise<string[]> {
    const strays = (await findBuilders(client, owner)).map((i) => i.InstanceId!).filter((id) => !keep.includes(id));
    await terminateInstances(client, strays);
    return strays;
}
