import { DescribeImageAttributeCommand, DescribeImagesCommand, EC2Client, type Image } from "@aws-sdk/client-ec2";
import {
    planRetention,
    type ImageReference,
    type LaunchPermissionSummary,
    type LaunchTemplateVersionRule,
    type RetentionImage,
    type RetentionRules,
    type RetentionSelector,
} from "../../sdk/retention-plan";
import { selectorFilters, toRetentionImage } from "./converters";
import { isNotFoundCode } from "./errors";
import { describeImagesAs } from "./finders";
import { findImageReferences, referenceClients, UnreadableReferenceSourceError } from "./image-references";

export { UnreadableReferenceSourceError, UnresolvedTemplateImageError } from "./image-references";

/**
 * What retention needs to know about a region, in few calls: the images the
 * selector can match (paginated by 500), which of the candidates something
 * refers to (image-references.ts), and which candidates are shared.
 */

/** DescribeImages' answer as the planner sees it, sharing and state reason included. */
function retentionImageOf(image: Image, region: string): RetentionImage {
    return { ...toRetentionImage(image, region), public: image.Public === true, stateReason: image.StateReason?.Message };
}

/** This account's images in the region that the selector may match. */
export async function listSelectedImages(client: EC2Client, region: string, selector: RetentionSelector): Promise<RetentionImage[]> {
    return describeImagesAs(client, selectorFilters(selector), ["self"], (i) => retentionImageOf(i, region));
}

/**
 * The same images again, by id, right before acting on them (chunks EC2
 * accepts), with their launch permissions (one DescribeImageAttribute each:
 * these are the planned images only).
 */
export async function describeImagesById(client: EC2Client, region: string, imageIds: string[]): Promise<Map<string, RetentionImage>> {
    const out = new Map<string, RetentionImage>();
    for (let i = 0; i < imageIds.length; i += 100) {
        const chunk = imageIds.slice(i, i + 100);
        try {
            const r = await client.send(new DescribeImagesCommand({ ImageIds: chunk, IncludeDeprecated: true, IncludeDisabled: true }));
            for (const img of r.Images ?? []) if (img.State !== "deregistered") out.set(img.ImageId!, retentionImageOf(img, region));
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
                if (img && img.State !== "deregistered") out.set(id, retentionImageOf(img, region));
            }
        }
    }
    await addLaunchPermissions(client, [...out.values()]);
    return out;
}

/** DescribeImageAttribute calls in flight at once (each is one token of EC2's describe bucket; pacing sets the rate, 8 keep its bucket busy at 50 ms a call). */
const ATTRIBUTE_CONCURRENCY = 8;

/**
 * Fills `launchPermissions` of these images from DescribeImageAttribute
 * (launchPermission): one call per image, so callers pass only the images a
 * plan would retire, never every image of the account. An image gone
 * meanwhile keeps none; any other failure stops the plan.
 */
export async function addLaunchPermissions(client: EC2Client, images: RetentionImage[]): Promise<void> {
    // A fixed pool of workers over the list, not one queued promise per image: a large account's candidates cost no memory up front.
    let next = 0;
    const worker = async () => {
        while (next < images.length) {
            const image = images[next++];
            let out;
            try {
                out = await client.send(new DescribeImageAttributeCommand({ ImageId: image.imageId, Attribute: "launchPermission" }));
            } catch (e) {
                if (isNotFoundCode(e, "image")) continue;
                throw new UnreadableReferenceSourceError("DescribeImageAttribute (launchPermission)", "ec2:DescribeImageAttribute", e);
            }
            const permissions: LaunchPermissionSummary[] = [];
            for (const p of out?.LaunchPermissions ?? []) {
                if (p.Group === "all") permissions.push({ group: "all" });
                if (p.UserId) permissions.push({ userId: p.UserId });
                if (p.OrganizationArn) permissions.push({ organizationArn: p.OrganizationArn });
                if (p.OrganizationalUnitArn) permissions.push({ organizationalUnitArn: p.OrganizationalUnitArn });
            }
            image.launchPermissions = permissions;
        }
    };
    await Promise.all(Array.from({ length: Math.min(ATTRIBUTE_CONCURRENCY, images.length) }, worker));
}

/**
 * Images in use in the region, each with what refers to it (see
 * image-references.ts): DescribeImageReferences for the candidate images
 * (or, where the endpoint lacks it, instances, launch templates and SSM
 * parameters enumerated directly), plus launch configurations and the
 * launch-template versions Auto Scaling groups and fleets launch from,
 * always. A source that cannot be read throws, naming the IAM permission.
 */
export async function imagesInUse(
    client: EC2Client,
    region: string,
    candidateImageIds: readonly string[],
    options: { launchTemplateVersions?: LaunchTemplateVersionRule } = {},
): Promise<Map<string, ImageReference[]>> {
    return (await findImageReferences(referenceClients(client, region), region, candidateImageIds, options)).refs;
}

/** Launch permissions an earlier check read, if still fresh enough to plan with (see retention-sharing-records.ts, `sharingRead`). */
export type KnownSharing = (imageId: string) => LaunchPermissionSummary[] | undefined;

/** What one region's inventory found, and how its sharing facts were had. */
export interface RegionInventory {
    images: RetentionImage[];
    inUse: Map<string, ImageReference[]>;
    /** Candidates whose launch permissions were read now (one DescribeImageAttribute each). */
    sharingRead: string[];
    /** Candidates whose launch permissions came from `known` (no call). */
    sharingKnown: string[];
}

/**
 * One region's inventory for a plan, in few calls: the selected images; a
 * first plan without references or sharing gives the candidates (an
 * exclusion only ever removes images from a plan, so the final plan retires
 * a subset of them); then references for the candidates, and the launch
 * permissions of the candidates nothing refers to: from `known` (what an
 * earlier check read, while fresh), else read (one DescribeImageAttribute
 * each). An image in use is kept whoever it is shared with, so its sharing
 * is not read, and with `retireShared` no sharing is read at all. The caller
 * plans again with what this returns.
 */
export async function retentionInventory(
    client: EC2Client,
    region: string,
    rules: RetentionRules,
    now: Date,
    known: KnownSharing = () => undefined,
): Promise<RegionInventory> {
    const images = await listSelectedImages(client, region, rules.selector);
    const first = planRetention(images, new Map(), { ...rules, retireShared: true }, now);
    const candidates = new Set(first.retire.map((r) => r.imageId));
    // Nothing the rules would retire: no reference can change that, so no more calls.
    if (candidates.size === 0) return { images, inUse: new Map(), sharingRead: [], sharingKnown: [] };
    const inUse = await imagesInUse(client, region, [...candidates], { launchTemplateVersions: rules.launchTemplateVersions });
    // retireShared true: sharing changes nothing, so it is not read ("when-unused" reads it: shared candidates get usage reports).
    if (rules.retireShared === true) return { images, inUse, sharingRead: [], sharingKnown: [] };
    const unshared = planRetention(images, inUse, { ...rules, retireShared: true }, now);
    const stillCandidates = new Set(unshared.retire.map((r) => r.imageId));
    const toRead: RetentionImage[] = [];
    const sharingKnown: string[] = [];
    for (const image of images) {
        if (!stillCandidates.has(image.imageId)) continue;
        const recorded = known(image.imageId);
        if (recorded) {
            image.launchPermissions = recorded;
            sharingKnown.push(image.imageId);
        } else toRead.push(image);
    }
    await addLaunchPermissions(client, toRead);
    return { images, inUse, sharingRead: toRead.map((i) => i.imageId), sharingKnown };
}
