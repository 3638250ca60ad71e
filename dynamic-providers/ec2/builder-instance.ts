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
    DescribeInstanceStatusCommand,
    DescribeSubnetsCommand,
    StopInstancesCommand,
    BlockDeviceMapping,
    waitUntilInstanceTerminated,
} from "@aws-sdk/client-ec2";
import { SSMClient } from "@aws-sdk/client-ssm";
import { createWaiter, WaiterState } from "@smithy/core/client";
import type { BlockDeviceMapping as ImageBlockDevice } from "../../sdk/types";
import { recordToTags, toEc2BlockDeviceMappings } from "./converters";
import {
    CONSOLE_OUTPUT_UNSUPPORTED,
    IAM_PROFILE_NOT_PROPAGATED_MESSAGE,
    INSUFFICIENT_CAPACITY,
    INVALID_PARAMETER_VALUE,
} from "./error-codes";
import { errorCode, hasCode, isNotFoundCode, NotFoundError } from "./errors";
import { describeImages, findImageById } from "./finders";
import {
    BUILDER_POLL_MAX_DELAY_SECONDS,
    BUILDER_POLL_MIN_DELAY_SECONDS,
    CONSOLE_MARKER_WAIT_SECONDS,
    CONSOLE_TAIL_LINES,
    IAM_PROPAGATION_SECONDS,
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
export async function resolveBaseImage(
    ec2: EC2Client,
    ssm: SSMClient,
    spec: BaseImageSpec,
    options: { architecture?: string; now?: Date } = {},
): Promise<Image> {
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
        const from = spec.ssmParameter ? ` (from ${spec.ssmParameter})` : "";
        if (image.State !== "available") throw new BaseImageError(`AMI ${imageId}${from} is ${image.State}, not available`);
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
    const now = options.now ?? new Date();
    const arch = options.architecture;
    const usable = images.filter(
        (i) => i.State === "available" && !isDeprecated(i, now) && (arch === undefined || i.Architecture === arch),
    );
    const newest = newestImage(usable);
    if (!newest) {
        const skipped = images.length
            ? ` (${images.length} match but are deprecated${arch ? ` or not ${arch}, the architecture of the builder's instance type` : ""})`
            : "";
        throw new BaseImageError(
            `no available AMI of owners ${owners.join(", ")} has a name matching ${JSON.stringify(spec.namePattern)} in this region${skipped}`,
        );
    }
    return newest;
}

/** Whether EC2 has marked the image deprecated by `now` (DescribeImages `DeprecationTime`). */
export function isDeprecated(image: Image, now: Date): boolean {
    return !!image.DeprecationTime && Date.parse(image.DeprecationTime) <= now.getTime();
}

/**
 * The CPU architecture of an instance type, by EC2's naming rule (EC2 user
 * guide, "Amazon EC2 instance type naming conventions"): a `g` after the
 * generation digit is AWS Graviton (`arm64`: t4g, m7g, c7gn, r8g), as is
 * `a1`; `mac1` is `x86_64_mac`, `mac2*` `arm64_mac`; every other type is
 * `x86_64`. Undefined for a name that does not follow the rule.
 */
export function architectureOf(instanceType: string): string | undefined {
    const family = /^([a-z][a-z0-9-]*)\.[a-z0-9-]+$/.exec(instanceType)?.[1];
    if (!family) return undefined;
    if (family === "a1") return "arm64";
    if (family === "mac1") return "x86_64_mac";
    if (family.startsWith("mac2")) return "arm64_mac";
    const m = /^[a-z]+(\d+)([a-z-]*)$/.exec(family);
    if (!m) return undefined;
    return m[2].startsWith("g") ? "arm64" : "x86_64";
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
    /** The user's block devices (build.blockDeviceMappings), merged over the base image's. */
    blockDeviceMappings?: ImageBlockDevice[];
    /** Root device of the base image, to size it. */
    rootDeviceName?: string;
    /**
     * Encrypt the builder's EBS volumes with this KMS key (id, ARN or alias),
     * so that the image and its snapshots are encrypted with it.
     */
    kmsKeyId?: string;
    /** The base image's block device mappings: every EBS volume of it is encrypted with `kmsKeyId`. */
    baseMappings?: BlockDeviceMapping[];
    /** Shutdown from inside the instance: `stop` (a builder, baked afterwards) or `terminate`. @default "stop" */
    shutdownBehavior?: "stop" | "terminate";
    /** The `Name` tag. @default `golden-ami builder <pipeline>` */
    name?: string;
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
        Name: spec.name ?? `golden-ami builder ${spec.tags["golden-ami:pipeline"] ?? ""}`.trim(),
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
            InstanceInitiatedShutdownBehavior: spec.shutdownBehavior ?? "stop",
            SubnetId: spec.subnetId,
            SecurityGroupIds: spec.securityGroupIds?.length ? spec.securityGroupIds : undefined,
            IamInstanceProfile: profile ? (profile.startsWith("arn:") ? { Arn: profile } : { Name: profile }) : undefined,
            BlockDeviceMappings: builderMappings(spec),
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

/**
 * The builder's block device mappings: the root volume resized, and with
 * `kmsKeyId` every EBS volume of the base image encrypted with that key
 * (RunInstances encrypts a volume made from an unencrypted snapshot when the
 * mapping says `Encrypted` with a `KmsKeyId`; CreateImage then snapshots the
 * encrypted volumes, so the image is encrypted with the key).
 */
export function builderMappings(spec: BuilderSpec): BlockDeviceMapping[] | undefined {
    const byDevice = new Map<string, BlockDeviceMapping>();
    if (spec.kmsKeyId) {
        for (const m of spec.baseMappings ?? []) {
            if (!m.DeviceName || !m.Ebs) continue;
            byDevice.set(m.DeviceName, { DeviceName: m.DeviceName, Ebs: { Encrypted: true, KmsKeyId: spec.kmsKeyId } });
        }
        if (spec.rootDeviceName && !byDevice.has(spec.rootDeviceName)) {
            byDevice.set(spec.rootDeviceName, { DeviceName: spec.rootDeviceName, Ebs: { Encrypted: true, KmsKeyId: spec.kmsKeyId } });
        }
    }
    // The user's devices (build.blockDeviceMappings): new EBS volumes take the KMS key too.
    for (const m of toEc2BlockDeviceMappings(spec.blockDeviceMappings) ?? []) {
        if (!m.DeviceName) continue;
        const kms = spec.kmsKeyId && m.Ebs && !m.Ebs.SnapshotId ? { Encrypted: true, KmsKeyId: spec.kmsKeyId } : {};
        byDevice.set(m.DeviceName, m.Ebs ? { ...m, Ebs: { ...byDevice.get(m.DeviceName)?.Ebs, ...m.Ebs, ...kms } } : m);
    }
    if (spec.rootVolumeSize && spec.rootDeviceName) {
        const root = byDevice.get(spec.rootDeviceName);
        byDevice.set(spec.rootDeviceName, {
            DeviceName: spec.rootDeviceName,
            Ebs: { ...root?.Ebs, VolumeSize: spec.rootVolumeSize, DeleteOnTermination: true },
        });
    }
    return byDevice.size ? [...byDevice.values()] : undefined;
}

/** One attempt of a launch: the instance type and subnet tried, and why it failed. */
export interface LaunchAttempt {
    instanceType: string;
    subnetId?: string;
    zone?: string;
    error: string;
}

/** Every launch attempt failed: names what was tried. */
export class LaunchFailedError extends Error {
    constructor(
        readonly attempts: LaunchAttempt[],
        options?: { cause?: unknown },
    ) {
        const tried = attempts.map(
            (a) => `${a.instanceType} in ${a.subnetId ?? "the default subnet"}${a.zone ? ` (${a.zone})` : ""}: ${a.error}`,
        );
        super(
            `RunInstances failed after ${attempts.length} attempt(s): ${tried.join("; ")}. ` +
                `Add instance types to build.instanceTypes, or try another subnet or later`,
            options,
        );
        this.name = "LaunchFailedError";
    }
}

/** RunInstances failed because the instance profile has not reached EC2 yet (IAM is eventually consistent). */
export function isProfileNotPropagated(e: unknown): boolean {
    return hasCode(e, INVALID_PARAMETER_VALUE) && IAM_PROFILE_NOT_PROPAGATED_MESSAGE.test((e as Error)?.message ?? "");
}

/** Subnets of the VPC `spec.subnetId` is in (or of the default VPC), one per other zone, for a retry elsewhere. */
async function otherZoneSubnets(client: EC2Client, subnetId: string | undefined): Promise<{ subnetId: string; zone?: string }[]> {
    let vpcFilter: { Name: string; Values: string[] };
    let zone: string | undefined;
    if (subnetId) {
        const own = (await client.send(new DescribeSubnetsCommand({ SubnetIds: [subnetId] }))).Subnets?.[0];
        if (!own?.VpcId) return [];
        vpcFilter = { Name: "vpc-id", Values: [own.VpcId] };
        zone = own.AvailabilityZone;
    } else {
        vpcFilter = { Name: "default-for-az", Values: ["true"] };
    }
    const subnets =
        (await client.send(new DescribeSubnetsCommand({ Filters: [vpcFilter, { Name: "state", Values: ["available"] }] }))).Subnets ?? [];
    const seen = new Set<string>(zone ? [zone] : []);
    const out: { subnetId: string; zone?: string }[] = [];
    for (const s of [...subnets].sort((a, b) => (a.AvailabilityZone ?? "").localeCompare(b.AvailabilityZone ?? ""))) {
        if (!s.SubnetId || s.SubnetId === subnetId || (s.AvailabilityZone && seen.has(s.AvailabilityZone))) continue;
        if (s.AvailabilityZone) seen.add(s.AvailabilityZone);
        out.push({ subnetId: s.SubnetId, zone: s.AvailabilityZone });
    }
    return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * launchBuilder through the transient failures of a real account: a new
 * instance profile that IAM has not propagated yet is retried for up to
 * IAM_PROPAGATION_SECONDS; `InsufficientInstanceCapacity` moves on to a
 * subnet of the same VPC in another zone, then to the next of
 * `instanceTypes`. Every other error fails at once. The error after the last
 * attempt names every type and subnet tried.
 */
export async function launchWithRetries(
    client: EC2Client,
    spec: BuilderSpec,
    options: { instanceTypes?: string[]; report?: ProgressReporter } = {},
): Promise<{ instanceId: string; instanceType: string; subnetId?: string }> {
    const report = options.report ?? printProgress;
    const types = [...new Set([spec.instanceType, ...(options.instanceTypes ?? [])])];
    const attempts: LaunchAttempt[] = [];
    let elsewhere: { subnetId: string; zone?: string }[] | undefined;
    const profileDeadline = Date.now() + IAM_PROPAGATION_SECONDS * 1000 * pollScale();
    for (const instanceType of types) {
        const places: { subnetId?: string; zone?: string }[] = [{ subnetId: spec.subnetId }, ...(elsewhere ?? [])];
        for (let i = 0; i < places.length; i++) {
            const place = places[i];
            for (;;) {
                try {
                    const instanceId = await launchBuilder(client, { ...spec, instanceType, subnetId: place.subnetId });
                    return { instanceId, instanceType, subnetId: place.subnetId };
                } catch (e) {
                    if (isProfileNotPropagated(e) && Date.now() < profileDeadline) {
                        report(`instance profile ${spec.iamInstanceProfile} not known to EC2 yet (IAM propagation); retrying RunInstances`);
                        await sleep(5000 * pollScale());
                        continue;
                    }
                    attempts.push({
                        instanceType,
                        subnetId: place.subnetId,
                        zone: place.zone,
                        error: `${errorCode(e) ?? "Error"}: ${(e as Error).message}`,
                    });
                    if (!hasCode(e, INSUFFICIENT_CAPACITY)) throw new LaunchFailedError(attempts, { cause: e });
                    if (elsewhere === undefined) {
                        elsewhere = await otherZoneSubnets(client, spec.subnetId);
                        if (i === 0) places.push(...elsewhere);
                    }
                    report(`no ${instanceType} capacity in ${place.subnetId ?? "the default subnet"}; trying elsewhere`);
                    break;
                }
            }
        }
    }
    throw new LaunchFailedError(attempts);
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

/**
 * The line a build or test script prints (to its console) when it has done
 * its work, before powering the instance off: `echo "golden-ami: success"`.
 * A stopped instance alone does not say the script succeeded (a
 * `trap poweroff EXIT`, or a failing command without `set -e`, still powers
 * it off), so golden-ami bakes a builder, and passes a test, only when its
 * console output has this line. cloud-init copies a user-data script's
 * output to the serial console on Amazon Linux and Ubuntu; elsewhere write
 * it to `/dev/console`.
 */
export const SUCCESS_MARKER = "golden-ami: success";

/**
 * Whether the console text has the marker on a line of its own (after a
 * kernel time stamp or a `cloud-init[pid]:` prefix): the `bash -x` trace of
 * the echo command (`+ echo golden-ami: success`) does not count.
 */
export function hasSuccessMarker(text: string): boolean {
    return text
        .replace(/\r/g, "")
        .split("\n")
        .some((line) => {
            const rest = line.replace(/^\[\s*[\d.]+\]\s*/, "").replace(/^[\w.-]+\[\d+\]:\s*/, "");
            return rest.trim() === SUCCESS_MARKER;
        });
}

/** The instance's console output as text ("" when there is none yet), the latest EC2 keeps where it can. */
export async function consoleText(client: EC2Client, instanceId: string): Promise<string> {
    let output: string | undefined;
    try {
        output = (await client.send(new GetConsoleOutputCommand({ InstanceId: instanceId, Latest: true }))).Output;
    } catch (e) {
        // Latest is for Nitro instances only: others answer the buffered output.
        if (!hasCode(e, CONSOLE_OUTPUT_UNSUPPORTED)) throw e;
        output = (await client.send(new GetConsoleOutputCommand({ InstanceId: instanceId }))).Output;
    }
    return output ? Buffer.from(output, "base64").toString("utf8") : "";
}

/**
 * Waits until the console output of a stopped instance shows the success
 * marker (EC2 posts it shortly after the stop): true when it does within
 * CONSOLE_MARKER_WAIT_SECONDS, false otherwise (the script failed, or never
 * printed it).
 */
export async function waitForSuccessMarker(client: EC2Client, instanceId: string): Promise<boolean> {
    const scale = pollScale();
    const result = await createWaiter(
        {
            client,
            maxWaitTime: Math.max(CONSOLE_MARKER_WAIT_SECONDS * scale, 2),
            minDelay: Math.max(5 * scale, 0.1),
            maxDelay: Math.max(20 * scale, 0.2),
        },
        instanceId,
        async (c: EC2Client, id: string) => {
            try {
                return { state: hasSuccessMarker(await consoleText(c, id)) ? WaiterState.SUCCESS : WaiterState.RETRY };
            } catch (e) {
                if (hasCode(e, CONSOLE_OUTPUT_UNSUPPORTED)) return { state: WaiterState.FAILURE };
                throw e;
            }
        },
    );
    return result.state === WaiterState.SUCCESS;
}

/** The script powered the instance off without printing the success marker. */
export class ScriptFailedError extends Error {
    constructor(
        readonly instanceId: string,
        readonly console: string,
        role: ScriptRole = BUILD_ROLE,
    ) {
        super(
            `${role.instance} ${instanceId} powered off, but ${role.script} did not print "${SUCCESS_MARKER}" on its console: it failed, or does not ` +
                `end with \`echo "${SUCCESS_MARKER}"\` before \`poweroff\` (use \`set -e\` so that a failing command stops it first). ` +
                `Last console output:\n${console}`,
        );
        this.name = "ScriptFailedError";
    }
}

/**
 * The SDK's waiter machinery over one builder: the builder's poll delays
 * (scaled in tests) and the caller's time limit; `check` gives each poll's
 * verdict.
 */
function pollBuilder<T>(
    client: EC2Client,
    instanceId: string,
    timeoutMinutes: number,
    check: (c: EC2Client, id: string) => Promise<{ state: WaiterState; reason?: T }>,
) {
    const scale = pollScale();
    return createWaiter(
        {
            client,
            maxWaitTime: timeoutMinutes * 60,
            minDelay: BUILDER_POLL_MIN_DELAY_SECONDS * scale,
            maxDelay: BUILDER_POLL_MAX_DELAY_SECONDS * scale,
        },
        instanceId,
        check,
    );
}

/**
 * A builder without a script: waits until it is `running` and both status
 * checks (system and instance reachability, DescribeInstanceStatus) pass,
 * i.e. the base image has booted, then stops it (StopInstances) for the
 * bake. On real EC2 the checks take about 2 to 5 minutes after launch.
 */
export async function stopWhenBooted(
    client: EC2Client,
    instanceId: string,
    options: { timeoutMinutes: number; label: string; report?: ProgressReporter },
): Promise<void> {
    const report = options.report ?? printProgress;
    const scale = pollScale();
    const started = Date.now();
    let lastReport = started;
    let last = "not reported yet";
    const result = await pollBuilder(client, instanceId, options.timeoutMinutes, async (c: EC2Client, id: string) => {
        let status;
        try {
            status = (await c.send(new DescribeInstanceStatusCommand({ InstanceIds: [id], IncludeAllInstances: true })))
                .InstanceStatuses?.[0];
        } catch (e) {
            if (isNotFoundCode(e, "instance") && Date.now() - started < 5 * 60_000) return { state: WaiterState.RETRY };
            throw e;
        }
        const state = status?.InstanceState?.Name ?? "pending";
        if (state === "terminated" || state === "shutting-down" || state === "stopped" || state === "stopping") {
            return { state: WaiterState.FAILURE, reason: state };
        }
        last = `${state}, status checks ${status?.SystemStatus?.Status ?? "?"}/${status?.InstanceStatus?.Status ?? "?"}`;
        if (state === "running" && status?.SystemStatus?.Status === "ok" && status?.InstanceStatus?.Status === "ok") {
            return { state: WaiterState.SUCCESS };
        }
        const now = Date.now();
        const every = lastReport === started ? PROGRESS_FIRST_SECONDS : PROGRESS_INTERVAL_SECONDS;
        if (now - lastReport >= every * 1000 * scale) {
            lastReport = now;
            report(`${options.label}: builder ${id} ${last} for ${formatElapsed(now - started)} (booting, no script)`);
        }
        return { state: WaiterState.RETRY };
    });
    if (result.state === WaiterState.FAILURE)
        throw new BuilderLostError(instanceId, String(result.reason), "before its status checks passed");
    if (result.state !== WaiterState.SUCCESS) {
        throw new Error(`builder ${instanceId} was still ${last} after ${options.timeoutMinutes} minutes: the base image did not boot`);
    }
    await client.send(new StopInstancesCommand({ InstanceIds: [instanceId] }));
}

/** Terminates the instance and waits until EC2 reports it terminated (so nothing launches from, or holds, the image any more). */
export async function terminateAndWait(client: EC2Client, instanceId: string, maxWaitSeconds = 600): Promise<void> {
    await terminateInstances(client, [instanceId]);
    const scale = pollScale();
    try {
        await waitUntilInstanceTerminated(
            { client, maxWaitTime: maxWaitSeconds, minDelay: Math.max(5 * scale, 0.1), maxDelay: Math.max(15 * scale, 0.2) },
            { InstanceIds: [instanceId] },
        );
    } catch (e) {
        if (!isNotFoundCode(e, "instance") && !/InvalidInstanceID/.test(errorCode(e) ?? "")) throw e;
    }
}

/** How errors name the instance, its script and its time limit. */
export interface ScriptRole {
    instance: string;
    script: string;
    limit: string;
}
export const BUILD_ROLE: ScriptRole = { instance: "builder", script: "the provisioning script", limit: "build.timeoutMinutes" };
export const TEST_ROLE: ScriptRole = { instance: "test instance", script: "the test script (test.userData)", limit: "test.timeoutMinutes" };

/** The provisioning script did not power the builder off in time. */
export class BuildTimeoutError extends Error {
    constructor(
        readonly instanceId: string,
        readonly minutes: number,
        readonly lastState: string | undefined,
        readonly console: string,
        role: ScriptRole = BUILD_ROLE,
    ) {
        super(
            `${role.instance} ${instanceId} was still ${lastState ?? "not stopped"} after ${minutes} minutes: ${role.script} failed ` +
                `or did not end by powering the instance off (end it with \`poweroff\`, or raise ${role.limit}). ` +
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
    options: { timeoutMinutes: number; label: string; report?: ProgressReporter; role?: ScriptRole },
): Promise<Instance> {
    const report = options.report ?? printProgress;
    const role = options.role ?? BUILD_ROLE;
    const started = Date.now();
    let lastReport = started;
    let last: Instance | undefined;
    const scale = pollScale();
    const result = await pollBuilder(client, instanceId, options.timeoutMinutes, async (c: EC2Client, id: string) => {
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
            report(
                `${options.label}: ${role.instance} ${id} ${state} for ${formatElapsed(now - started)} (${role === BUILD_ROLE ? "provisioning" : "testing"})`,
            );
        }
        return { state: WaiterState.RETRY, reason: instance };
    });
    if (result.state === WaiterState.SUCCESS) return result.reason as Instance;
    if (result.state === WaiterState.FAILURE) {
        const i = result.reason as Instance;
        throw new BuilderLostError(instanceId, i.State?.Name ?? "unknown", i.StateReason?.Message ?? "");
    }
    throw new BuildTimeoutError(instanceId, options.timeoutMinutes, last?.State?.Name, await consoleTail(client, instanceId), role);
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
