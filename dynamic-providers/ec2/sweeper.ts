import { EC2Client, Filter, Image, paginateDescribeSnapshots, Snapshot } from "@aws-sdk/client-ec2";
import { MARK_TAGS } from "../../sdk/ownership";
import { describeReferences } from "../../sdk/retention-plan";
import { ec2Client } from "./client";
import { imageSnapshotIds, selectorFilters, tagsToRecord } from "./converters";
import { deregisterImage, ImageInUseError, type ReadReferences } from "./delete-image";
import { errorCode } from "./errors";
import { describeImages, describeImagesAs, findOwnImagesUsingSnapshots } from "./finders";
import { imagesInUse } from "./inventory";
import { DELETE_IMAGE_TIMEOUT_MINUTES } from "./limits";
import { snapshotsToKeep } from "./snapshot-ownership";
import { deleteSnapshotWhenFree } from "./waiters";

/**
 * The sweeper: finds what golden-ami made in an account and deletes it only
 * when asked. Only what carries golden-ami's mark is ever selected: images
 * and snapshots tagged `golden-ami:owner` (every image, copy and snapshot
 * golden-ami creates) or `golden-ami:pipeline` (a GoldenImage's, also from
 * before the owner mark). A name pattern, tags and a creation time narrow
 * that set, never widen it. A snapshot is listed as an orphan only if it
 * carries the mark and no image of the account uses it; a name pattern
 * selects no orphan snapshots (a snapshot has no name to match). Deleting
 * goes through the in-use guard (delete-image.ts): an image anything can
 * launch from is kept and reported. An image's snapshots go with it only
 * when they are its own (snapshot-ownership.ts): an AmiFromSnapshot's
 * source snapshots, the user's, stay and are reported kept. Tests use it in teardown; `npm run
 * sweep` points it at an account.
 */

/** What to sweep, within what golden-ami marked. At least one of namePattern, tags or createdAfter. */
export interface SweepFilter {
    /** Image names, with `*` and `?` wildcards (EC2's `name` filter). */
    namePattern?: string;
    /** Tags the images (and orphan snapshots) carry besides the mark; value `"*"` = any value. */
    tags?: Record<string, string>;
    /** Only what was created at or after this time. */
    createdAfter?: Date;
    /**
     * Also what golden-ami did not mark: only for a test suite's teardown in
     * an account that is the suite's own (it made images directly). Never
     * offered by `npm run sweep`. @default false
     */
    includeUnmarked?: boolean;
}

export interface SweepOptions extends SweepFilter {
    regions: string[];
    /** Delete what was found (images with their snapshots, then orphan snapshots). @default false: list only */
    delete?: boolean;
    /** @default DELETE_IMAGE_TIMEOUT_MINUTES */
    timeoutMinutes?: number;
    /** Called with each region's listing before anything of it is deleted (the CLI prints what it will delete). */
    onListed?: (result: SweepResult) => void;
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
    /** Marked snapshots matching the filter that no image of the account uses. */
    orphanSnapshots: { snapshotId: string; description: string }[];
    /** With `delete`: what was removed, what was kept (in use, or another image uses it) and what failed. */
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

/**
 * The mark as filters, one listing per mark tag (results united by id): a
 * single `tag-key` filter with several values is an OR at EC2, but not at
 * every endpoint (moto matches it wrongly on images with several tags).
 */
function markFilters(filter: SweepFilter): Filter[][] {
    return filter.includeUnmarked ? [[]] : MARK_TAGS.map((key) => [{ Name: "tag-key", Values: [key] }]);
}

/** Every marked item (`list` per mark filter), each once. */
async function marked<T>(filter: SweepFilter, id: (t: T) => string | undefined, list: (mark: Filter[]) => Promise<T[]>): Promise<T[]> {
    const out = new Map<string, T>();
    for (const mark of markFilters(filter)) for (const t of await list(mark)) if (id(t) && !out.has(id(t)!)) out.set(id(t)!, t);
    return [...out.values()];
}

async function findOrphanSnapshots(client: EC2Client, filter: SweepFilter, owned: Set<string>) {
    // A snapshot has no name: a name pattern can only narrow the set to none.
    if (filter.namePattern) return [];
    const snapshots = await marked(
        filter,
        (s: Snapshot) => s.SnapshotId,
        async (mark) => {
            const out: Snapshot[] = [];
            const pages = paginateDescribeSnapshots(
                { client, pageSize: 1000 },
                { OwnerIds: ["self"], Filters: [...mark, ...selectorFilters({ tags: filter.tags })] },
            );
            for await (const page of pages) out.push(...(page.Snapshots ?? []));
            return out;
        },
    );
    const found = snapshots
        .filter((s) => !owned.has(s.SnapshotId!) && after(s.StartTime, filter.createdAfter))
        .map((s) => ({ snapshotId: s.SnapshotId!, description: s.Description ?? "" }));
    // An orphan is a snapshot no image uses (an image outside the filter may): one listing of the account's images.
    if (found.length === 0) return found;
    const used = new Set((await describeImagesAs(client, [], ["self"], imageSnapshotIds)).flat());
    return found.filter((s) => !used.has(s.snapshotId));
}

/** Lists (and with `delete`, removes) what golden-ami marked and the filter selects, in one region. */
export async function sweepRegion(client: EC2Client, region: string, options: Omit<SweepOptions, "regions">): Promise<SweepResult> {
    checkFilter(options);
    const selected = selectorFilters({ namePattern: options.namePattern, tags: options.tags });
    const found = await marked(
        options,
        (i: Image) => i.ImageId,
        (mark) => describeImages(client, [...mark, ...selected], ["self"]),
    );
    const listed = found.filter((i) => after(i.CreationDate, options.createdAfter));
    const images = listed.map((i) => ({
        imageId: i.ImageId ?? "",
        name: i.Name ?? "",
        creationDate: i.CreationDate ?? "",
        snapshotIds: imageSnapshotIds(i),
    }));
    const owned = new Set(images.flatMap((i) => i.snapshotIds));
    const orphanSnapshots = await findOrphanSnapshots(client, options, owned);
    const result: SweepResult = { region, images, orphanSnapshots, deleted: [], kept: [], failed: [] };
    if (!options.delete) return result;
    options.onListed?.(result);

    const timeoutMinutes = options.timeoutMinutes ?? DELETE_IMAGE_TIMEOUT_MINUTES;
    const describe = (e: unknown) => `${errorCode(e) ?? ""}${errorCode(e) ? ": " : ""}${e instanceof Error ? e.message : String(e)}`;
    // One read of what is in use for every listed image; the guard acts on it (and reads shares per image).
    // And one of which snapshots are the images' own (a marked image's user snapshots stay: snapshot-ownership.ts).
    let references: ReadReferences | undefined;
    let keepSnapshots = new Map<string, string>();
    if (images.length > 0) {
        const readAt = Date.now();
        try {
            references = {
                refs: await imagesInUse(
                    client,
                    region,
                    images.map((i) => i.imageId),
                ),
                readAt,
            };
            keepSnapshots = await snapshotsToKeep(
                client,
                listed.map((i) => ({ tags: tagsToRecord(i.Tags), snapshotIds: imageSnapshotIds(i) })),
            );
        } catch (e) {
            // Fail closed: nothing is deregistered when what uses the images, or whose snapshots they are, cannot be read.
            references = undefined;
            for (const image of images)
                result.failed.push({ id: image.imageId, error: `finding what uses it and what it owns: ${describe(e)}` });
        }
    }
    for (const image of references ? images : []) {
        try {
            const r = await deregisterImage(client, region, image, { deleteSnapshots: true, keepSnapshots, timeoutMinutes, references });
            result.deleted.push(image.imageId, ...r.snapshotsDeleted);
            result.kept.push(...r.snapshotsKept.map((k) => ({ id: k.snapshotId, reason: k.reason })));
        } catch (e) {
            if (e instanceof ImageInUseError) result.kept.push({ id: image.imageId, reason: `in use: ${describeReferences(e.users)}` });
            else result.failed.push({ id: image.imageId, error: describe(e) });
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
