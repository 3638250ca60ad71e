import { DescribeImagesCommand, EC2Client, paginateDescribeInstances, paginateDescribeLaunchTemplateVersions } from "@aws-sdk/client-ec2";
import { GetParametersCommand } from "@aws-sdk/client-ssm";
import type { RetentionImage, RetentionSelector } from "../../sdk/retention-plan";
import { ssmClient } from "./client";
import { NOT_FOUND_CODES } from "./error-codes";
import { selectorFilters, toRetentionImage } from "./converters";
import { errorCode, isNotFoundCode } from "./errors";
import { describeImages } from "./finders";

/**
 * What retention needs to know about a region, in few calls: the images the
 * selector can match (paginated by 1,000), and which images are in use, built
 * once per region rather than asked per image.
 */

/** This account's images in the region that the selector may match. */
export async function listSelectedImages(client: EC2Client, region: string, selector: RetentionSelector): Promise<RetentionImage[]> {
    const images = await describeImages(client, selectorFilters(selector), ["self"]);
    return images.map((i) => toRetentionImage(i, region));
}

/** The same images again, by id, right before acting on them (chunks EC2 accepts). */
export async function describeImagesById(client: EC2Client, region: string, imageIds: string[]): Promise<Map<string, RetentionImage>> {
    const out = new Map<string, RetentionImage>();
    for (let i = 0; i < imageIds.length; i += 100) {
        const chunk = imageIds.slice(i, i + 100);
        try {
            const r = await client.send(new DescribeImagesCommand({ ImageIds: chunk, IncludeDeprecated: true, IncludeDisabled: true }));
            for (const img of r.Images ?? []) if (img.State !== "deregistered") out.set(img.ImageId!, toRetentionImage(img, region));
        } catch (e) {
            // One unknown id fails the whole call: ask one by one for this chunk.
            if (!isNotFoundCode(e, "image")) throw e;
            for (const id of chunk) {
                // Only not-found means gone: throttling or an outage must fail the check, not skip the image.
                const r = await client.send(new DescribeImagesCommand({ ImageIds: [id] })).catch((err: unknown) => {
                    if (isNotFoundCode(err, "image")) return undefined;
                    throw err;
                });
                const img = r?.Images?.[0];
                if (img && img.State !== "deregistered") out.set(id, toRetentionImage(img, region));
            }
        }
    }
    return out;
}

/** An SSM parameter a launch template takes its AMI from could not be read. */
export class UnresolvedTemplateImageError extends Error {
    constructor(
        readonly parameters: string[],
        cause: unknown,
    ) {
        super(
            `launch templates take their AMI from SSM parameter(s) ${parameters.join(", ")}, which could not be read ` +
                `(${errorCode(cause) ?? (cause as Error).message}); the images behind them would count as unused. ` +
                `Grant ssm:GetParameters on them, or fix the templates`,
            { cause },
        );
        this.name = "UnresolvedTemplateImageError";
    }
}

/** `resolve:ssm:/golden/web` or `resolve:ssm:/golden/web:3` (a version) as GetParameters takes it. */
function ssmParameterOf(imageId: string): string | undefined {
    return imageId.startsWith("resolve:ssm:") ? imageId.slice("resolve:ssm:".length) : undefined;
}

/**
 * The AMI ids behind launch templates' `resolve:ssm:` ImageIds, asked of SSM
 * ten at a time. A parameter that cannot be read fails the plan: an image in
 * use must never look unused.
 */
async function resolveSsmImages(region: string, parameters: Map<string, string>, inUse: Map<string, string>): Promise<void> {
    if (parameters.size === 0) return;
    const ssm = ssmClient(region);
    const names = [...parameters.keys()];
    for (let i = 0; i < names.length; i += 10) {
        const chunk = names.slice(i, i + 10);
        let out;
        try {
            out = await ssm.send(new GetParametersCommand({ Names: chunk }));
        } catch (e) {
            throw new UnresolvedTemplateImageError(chunk, e);
        }
        if (out.InvalidParameters?.length) {
            throw new UnresolvedTemplateImageError(out.InvalidParameters, new Error(NOT_FOUND_CODES.parameter[0]));
        }
        for (const p of out.Parameters ?? []) {
            const asked = chunk.find((n) => n === p.Name || n === p.Selector || n.startsWith(`${p.Name}:`)) ?? p.Name ?? "";
            if (p.Value?.startsWith("ami-") && !inUse.has(p.Value))
                inUse.set(p.Value, `${parameters.get(asked) ?? "a launch template"} (via SSM ${asked})`);
        }
    }
}

const LIVE_INSTANCE_STATES = ["pending", "running", "shutting-down", "stopping", "stopped"];

/**
 * Images in use in the region, each with why: referenced by an instance that
 * is not terminated, or by the `$Default` or `$Latest` version of a launch
 * template, directly or through a `resolve:ssm:` parameter (resolved with
 * SSM). A template without an ImageId references nothing.
 */
export async function imagesInUse(client: EC2Client, region: string): Promise<Map<string, string>> {
    const inUse = new Map<string, string>();
    const instances = paginateDescribeInstances(
        { client, pageSize: 1000 },
        { Filters: [{ Name: "instance-state-name", Values: LIVE_INSTANCE_STATES }] },
    );
    for await (const page of instances) {
        for (const r of page.Reservations ?? []) {
            for (const i of r.Instances ?? []) {
                if (i.ImageId && !inUse.has(i.ImageId)) inUse.set(i.ImageId, `instance ${i.InstanceId} (${i.State?.Name ?? "?"})`);
            }
        }
    }
    const viaSsm = new Map<string, string>();
    const versions = paginateDescribeLaunchTemplateVersions({ client, pageSize: 200 }, { Versions: ["$Default", "$Latest"] });
    for await (const page of versions) {
        for (const v of page.LaunchTemplateVersions ?? []) {
            const imageId = v.LaunchTemplateData?.ImageId;
            if (!imageId) continue;
            const what = `launch template ${v.LaunchTemplateName ?? v.LaunchTemplateId} version ${v.VersionNumber}${v.DefaultVersion ? " ($Default)" : ""}`;
            const parameter = ssmParameterOf(imageId);
            if (parameter) viaSsm.set(parameter, what);
            else if (imageId.startsWith("ami-") && !inUse.has(imageId)) inUse.set(imageId, what);
        }
    }
    await resolveSsmImages(region, viaSsm, inUse);
    return inUse;
}
