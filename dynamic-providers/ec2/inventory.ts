import {
    DescribeImagesCommand,
    EC2Client,
    Filter,
    Image,
    paginateDescribeInstances,
    paginateDescribeLaunchTemplateVersions,
} from "@aws-sdk/client-ec2";
import type { RetentionImage, RetentionSelector } from "../../sdk/retention-plan";
import { hasCode } from "./errors";
import { describeImages, imageSnapshotIds } from "./finders";
import { isDeregistrationProtected, tagsToRecord } from "./image-lifecycle";

/**
 * What retention needs to know about a region, in few calls: the images the
 * selector can match (paginated by 1,000), and which images are in use, built
 * once per region rather than asked per image.
 */

export function toRetentionImage(image: Image, region: string): RetentionImage {
    return {
        imageId: image.ImageId ?? "",
        region,
        name: image.Name ?? "",
        creationDate: image.CreationDate ?? "",
        ownerId: image.OwnerId ?? "",
        tags: tagsToRecord(image.Tags),
        snapshotIds: imageSnapshotIds(image),
        deregistrationProtected: isDeregistrationProtected(image),
        lastLaunchedTime: image.LastLaunchedTime,
        deprecationTime: image.DeprecationTime,
        state: image.State,
    };
}

/** Server-side filters for the selector (the planner matches again, exactly). */
export function selectorFilters(selector: RetentionSelector): Filter[] {
    const filters: Filter[] = [];
    if (selector.namePattern && selector.namePattern !== "*") filters.push({ Name: "name", Values: [selector.namePattern] });
    for (const [k, v] of Object.entries(selector.tags ?? {})) {
        filters.push(v === "*" ? { Name: "tag-key", Values: [k] } : { Name: `tag:${k}`, Values: [v] });
    }
    return filters;
}

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
            if (!hasCode(e, "InvalidAMIID.NotFound", "InvalidAMIID.Unavailable")) throw e;
            for (const id of chunk) {
                const r = await client.send(new DescribeImagesCommand({ ImageIds: [id] })).catch(() => undefined);
                const img = r?.Images?.[0];
                if (img && img.State !== "deregistered") out.set(id, toRetentionImage(img, region));
            }
        }
    }
    return out;
}

const LIVE_INSTANCE_STATES = ["pending", "running", "shutting-down", "stopping", "stopped"];

/**
 * Images in use in the region, each with why: referenced by an instance that
 * is not terminated, or by the `$Default` or `$Latest` version of a launch
 * template. A template without an ImageId, or with a `resolve:ssm:` one that
 * names no AMI directly, references nothing here.
 */
export async function imagesInUse(client: EC2Client): Promise<Map<string, string>> {
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
    const versions = paginateDescribeLaunchTemplateVersions({ client, pageSize: 200 }, { Versions: ["$Default", "$Latest"] });
    for await (const page of versions) {
        for (const v of page.LaunchTemplateVersions ?? []) {
            const imageId = v.LaunchTemplateData?.ImageId;
            if (!imageId || !imageId.startsWith("ami-") || inUse.has(imageId)) continue;
            inUse.set(
                imageId,
                `launch template ${v.LaunchTemplateName ?? v.LaunchTemplateId} version ${v.VersionNumber}${v.DefaultVersion ? " ($Default)" : ""}`,
            );
        }
    }
    return inUse;
}
