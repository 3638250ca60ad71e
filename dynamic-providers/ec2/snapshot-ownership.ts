import { NOT_OWNED_REASON, imageMark, snapshotsNotOwned } from "../../sdk/ownership";
import { findSnapshotTags } from "./finders";
import type { EC2Client } from "./sdk-types";

/**
 * The snapshots of these images that are not theirs to delete, each with
 * why (the rule: snapshotsNotOwned in sdk/ownership.ts), for the paths that
 * retire images they did not create (retention, the sweeper). One
 * DescribeSnapshots (by id, every page) for the snapshots of the images
 * golden-ami marked; no call when none is marked.
 */
export async function snapshotsToKeep(
    client: EC2Client,
    images: readonly { tags: Readonly<Record<string, string>>; snapshotIds: readonly string[] }[],
): Promise<Map<string, string>> {
    const marked = images.filter((i) => imageMark(i.tags) !== undefined && i.snapshotIds.length > 0);
    const keep = new Map<string, string>();
    if (marked.length === 0) return keep;
    const tags = await findSnapshotTags(
        client,
        marked.flatMap((i) => i.snapshotIds),
    );
    for (const image of marked) for (const id of snapshotsNotOwned(image.tags, image.snapshotIds, tags)) keep.set(id, NOT_OWNED_REASON);
    return keep;
}
