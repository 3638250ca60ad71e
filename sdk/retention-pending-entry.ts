/**
 * One line per planned retirement in `AmiRetentionPolicy.pending`: how an
 * entry is written, and read back. Compact on purpose: `pulumi preview
 * --diff` prints each value of an object on its own line, so a five-field
 * object cost some 500 bytes a retirement and only about 120 fitted the
 * preview budget; one line costs about 135 bytes, so a few hundred fit.
 *
 * The line: `<imageId> <created> <name>: <why>`, e.g.
 * `ami-0a1b2c3d4e5f67890 2026-08-22 web-al2023-2026-08-22T11-59-00: 33rd newest; 105 days old`.
 * - `created`: the creation date (UTC, `YYYY-MM-DD`); `unknown` when EC2's
 *   date is unreadable.
 * - `name`: the image's name. AMI names cannot contain `:` (CreateImage's
 *   Name constraints), so the first `": "` after the date ends it.
 * - `why`: the planner's reason without what the listing already says: the
 *   group (the entry's group header names it) and the policy's own settings
 *   (`keepLatest`, `maxAgeDays`, printed with the policy's inputs). The plan
 *   file (`GOLDEN_AMI_RETENTION_PLAN_DIR`) keeps every reason in full.
 */

/** One retirement of `pending`, read back from its line (see {@link parsePendingEntry}). */
export interface PendingEntry {
    imageId: string;
    /** The creation date, `YYYY-MM-DD` (UTC), or `unknown`. */
    created: string;
    name: string;
    /** Why it is retired, without its group and the policy's settings. */
    reason: string;
}

/** The line `pending` lists for one retirement: `<imageId> <created> <name>: <why>`. */
export function formatPendingEntry(entry: { imageId: string; creationDate: string; name: string; reason: string }): string {
    return `${entry.imageId} ${createdDay(entry.creationDate)} ${entry.name}: ${entry.reason}`;
}

const ENTRY = /^(\S+) (\S+) (.*?): (.*)$/s;

/**
 * Reads one line of `pending.groups[].images` back into its fields.
 * Throws on a line that is not one (naming it), so that a change of the
 * format never reads as wrong data.
 */
export function parsePendingEntry(line: string): PendingEntry {
    const m = ENTRY.exec(line);
    if (!m) throw new Error(`reading a pending entry: "${line}" is not "<imageId> <created> <name>: <why>"`);
    return { imageId: m[1], created: m[2], name: m[3], reason: m[4] };
}

/** Every entry a pending summary lists, in order, each with its region and group. */
export function pendingEntries(pending: {
    groups: readonly { region: string; group: string; images: readonly string[] }[];
}): (PendingEntry & { region: string; group: string })[] {
    return pending.groups.flatMap((g) => g.images.map((line) => ({ ...parsePendingEntry(line), region: g.region, group: g.group })));
}

function createdDay(creationDate: string): string {
    const day = /^\d{4}-\d{2}-\d{2}/.exec(creationDate ?? "")?.[0];
    return day ?? "unknown";
}
