import { EC2Client, paginateDescribeSnapshots } from "@aws-sdk/client-ec2";
import { ec2Client } from "./client";
import { imageSnapshotIds, selectorFilters } from "./converters";
import { deleteImageWithSnapshots } from "./delete-image";
import { errorCode } from "./errors";
import { describeImages, findOwnImagesUsingSnapshots } from "./finders";
import { DELETE_IMAGE_TIMEOUT_MINUTES } from "./limits";
import { deleteSnapshotWhenFree } from "./waiters";

/**
 * The sweeper: finds what golden-ami made in an account (this account's
 * images matching a name pattern, tags and/or a creation time, and snapshots
 * with those tags or that time that no listed image owns), across every page, and deletes it only when
 * asked. Tests use it in teardown; `npm run sweep` points it at an account.
 */

/** What to sweep. At least one of namePattern, tags or createdAfter: a sweep never selects a whole account by accident. */
export interface SweepFilter {
    /** Image names, with `*` and `?` wildcards (EC2's `name` filter). */
    namePattern?: string;
    /** Tags the images (and orphan snapshots) carry; value `"*"` = any value. */
    tags?: Record<string, string>;
    /** Only what was created at or after this time. */
    createdAfter?: Date;
}

export interface SweepOptions extends SweepFilter {
    regions: string[];
    /** Delete what was found (images with their snapshots, then orphan snapshots). @default false: list only */
    delete?: boolean;
    /** @default DELETE_IMAGE_TIMEOUT_MINUTES */
    timeoutMinutes?: number;
}

export interface SweptImage {
    imageId: string;
    name: string;
    creationDate: string;
    snapshotIds: string[];
}

export interface SweepResult {
    region: string;
    images: SweptImage[];
    /** Snapshots matching the tags (or creation time) that none of the images above owns. */
    orphanSnapshots: { snapshotId: string; description: string }[];
    /** With `delete`: what was removed, what was kept (another image uses it) and what failed. */
    deleted: string[];
    kept: { id: string; reason: string }[];
    failed: { id: string; error: string }[];
}

function checkFilter(filter: SweepFilter): void {
    const hasTags = Object.keys(filter.tags ?? {}).length > 0;
    if (!filter.namePattern && !hasTags && !filter.createdAfter) {
        throw new Error("sweep: give a name pattern, tags or a creation time; a sweep never selects every image of an account");
    }
}

const after = (date: Date | string | undefined, since: Date | undefined) =>
    !since || (date !== undefined && new Date(date).getTime() >= since.getTime());

async function findOrphanSnapshots(client: EC2Client, filter: SweepFilter, owned: Set<string>) {
    const hasTags = Object.keys(filter.tags ?? {}).length > 0;
    // A name pattern says nothing about snapshots: only tags or a time select them.
    if (!hasTags && !filter.createdAfter) return [];
    const out: { snapshotId: string; description: string }[] = [];
    const pages = paginateDescribeSnapshots(
        { client, pageSize: 1000 },
        { OwnerIds: ["self"], Filters: hasTags ? selectorFilters({ tags: filter.tags }) : undefined },
    );
    for await (const page of pages) {
        for (const s of page.Snapshots ?? []) {
            if (!s.SnapshotId || owned.has(s.SnapshotId) || !after(s.StartTime, filter.createdAfter)) continue;
            out.push({ snapshotId: s.SnapshotId, description: s.Description ?? "" });
        }
    }
    return out;
}

/** Lists (and with `delete`, removes) what matches the filter in one region. */
export async function sweepRegion(client: EC2Client, region: string, options: Omit<SweepOptions, "regions">): Promise<SweepResult> {
    checkFilter(options);
    const found = await describeImages(client, selectorFilters({ namePattern: options.namePattern, tags: options.tags }), ["self"]);
    const images = found
        .filter((i) => after(i.CreationDate, options.createdAfter))
        .map((i) => ({
            imageId: i.ImageId ?? "",
            name: i.Name ?? "",
            creationDate: i.CreationDate ?? "",
            snapshotIds: imageSnapshotIds(i),
        }));
    const owned = new Set(images.flatMap((i) => i.snapshotIds));
    const orphanSnapshots = await findOrphanSnapshots(client, options, owned);
    const result: SweepResult = { region, images, orphanSnapshots, deleted: [], kept: [], failed: [] };
    if (!options.delete) return result;

    const timeoutMinutes = options.timeoutMinutes ?? DELETE_IMAGE_TIMEOUT_MINUTES;
    const describe = (e: unknown) => `${errorCode(e) ?? ""}${errorCode(e) ? ": " : ""}${e instanceof Error ? e.message : String(e)}`;
    for (const image of images) {
        try {
            const r = await deleteImageWithSnapshots(client, image, { deleteSnapshots: true, timeoutMinutes });
            result.deleted.push(image.imageId, ...r.snapshotsDeleted);
            result.kept.push(...r.snapshotsKept.map((k) => ({ id: k.snapshotId, reason: k.reason })));
        } catch (e) {
            result.failed.push({ id: image.imageId, error: describe(e) });
        }
    }
    const usedBy = async (snapshotId: string) => (await findOwnImagesUsingSnapshots(client, [snapshotId]))[0]?.ImageId;
    for (const s of orphanSnapshots) {
        try {
            const outcome = await deleteSnapshotWhenFree(client, s.snapshotId, timeoutMinutes * 60, usedBy);
            if (outcome.deleted) result.deleted.push(s.snapshotId);
            else if (outcome.usedBy) result.kept.push({ id: s.snapshotId, reason: `still used by ${outcome.usedBy}` });
            else result.failed.push({ id: s.snapshotId, error: `still in use after ${timeoutMinutes} minutes` });
        } catch (e) {
            result.failed.push({ id: s.snapshotId, error: describe(e) });
        }
    }
    return result;
}

/** Sweeps every region of `options.regions` (in parallel), with the shared clients. */
export async function sweep(options: SweepOptions): Promise<SweepResult[]> {
    checkFilter(options);
    const { regions, ...rest } = options;
    return Promise.all(regions.map((region) => sweepRegion(ec2Client(region), region, rest)));
}
