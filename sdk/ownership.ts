import { createHash } from "node:crypto";

/**
 * How golden-ami marks what it makes, so that it (and the sweeper) can tell
 * its own images and snapshots from everyone else's. Pure: `check` reads it
 * at preview.
 */

/** Every tag key golden-ami sets starts with this; users cannot set such keys on images or snapshots. */
export const GOLDEN_AMI_TAG_PREFIX = "golden-ami:";

/**
 * The mark on every image, copy and snapshot golden-ami makes:
 * `<project>/<stack>/<type>/<resource name>` (hashed past EC2's 256
 * characters). Never put on adopted images (ManagedAmi).
 */
export const OWNER_TAG = "golden-ami:owner";

/**
 * Set on an image a replacement kept because something still uses it: when
 * it was kept. The image also keeps its {@link OWNER_TAG} (and a
 * GoldenImage's `golden-ami:pipeline`), so retention selecting that tag
 * retires it once nothing uses it.
 */
export const KEPT_IN_USE_TAG = "golden-ami:kept-in-use";

/**
 * The `golden-ami:` tags a GoldenImage passes to its own copies through their
 * `tags` (see GoldenImage): the only ones `check` takes from a program.
 */
export const COMPONENT_TAGS: readonly string[] = ["golden-ami:pipeline", "golden-ami:build-hash", "golden-ami:base-image"];

/** Tags that mark an image or snapshot as golden-ami's own (any value): the mark, or a GoldenImage's pipeline tag. */
export const MARK_TAGS: readonly string[] = [OWNER_TAG, "golden-ami:pipeline"];

/** The {@link OWNER_TAG} value for a resource, within EC2's 256 characters. */
export function ownerMarkValue(project: string, stack: string, type: string, resourceName: string): string {
    const value = `${project}/${stack}/${type}/${resourceName}`;
    return value.length <= 256 ? value : `sha256:${createHash("sha256").update(value).digest("hex")}`;
}

/** Whether a tag key is golden-ami's own (refused in a program's tags, except {@link COMPONENT_TAGS}). */
export function isReservedTagKey(key: string): boolean {
    return key.toLowerCase().startsWith(GOLDEN_AMI_TAG_PREFIX) && !COMPONENT_TAGS.includes(key);
}

/** EC2's tags without golden-ami's marks ({@link OWNER_TAG}, {@link KEPT_IN_USE_TAG}): what a resource's `tags` output shows. */
export function withoutMarks(tags: Record<string, string>): Record<string, string> {
    return Object.fromEntries(Object.entries(tags).filter(([k]) => k !== OWNER_TAG && k !== KEPT_IN_USE_TAG));
}

/**
 * The mark an image carries, if golden-ami made it: its {@link OWNER_TAG},
 * else a GoldenImage's pipeline tag (images from before the owner mark).
 */
export function imageMark(imageTags: Readonly<Record<string, string>>): { key: string; value: string } | undefined {
    const key = MARK_TAGS.find((k) => imageTags[k] !== undefined);
    return key === undefined ? undefined : { key, value: imageTags[key] };
}

/**
 * The rule every path that retires an image it did not create obeys
 * (retention, the sweeper): which of the image's snapshots are not its own,
 * and so stay when it is deregistered. An image golden-ami made (it carries
 * a mark, see {@link imageMark}) owns only the snapshots carrying the same
 * mark: its create marks the snapshots its CreateImage/CopyImage made, and
 * only when its kind owns them (`snapshotsOwned` in image-kind.ts: an
 * AmiFromSnapshot's are the user's unless `deleteSnapshotsOnDestroy: true`).
 * An image golden-ami did not make (no mark) is the user's own, retired by
 * the user's own policy: its snapshots follow it (`deleteSnapshots`).
 * `snapshotTags`: each snapshot's tags as read; one not read counts as not
 * the image's own. Pure.
 */
export function snapshotsNotOwned(
    imageTags: Readonly<Record<string, string>>,
    snapshotIds: readonly string[],
    snapshotTags: ReadonlyMap<string, Readonly<Record<string, string>>>,
): string[] {
    const mark = imageMark(imageTags);
    if (!mark) return [];
    return snapshotIds.filter((id) => snapshotTags.get(id)?.[mark.key] !== mark.value);
}

/** Why {@link snapshotsNotOwned} keeps a snapshot: what the retirement reports. */
export const NOT_OWNED_REASON =
    "not the image's own: golden-ami did not make it for this image (no golden-ami:owner mark of the image; a user's snapshot, e.g. an AmiFromSnapshot's source)";
