import type { LaunchPermissionSummary } from "../sdk/retention-plan";
import { SHARING_RECORD_MAX_AGE_HOURS } from "./ec2/limits";

/** How a plan's facts are keyed: `region/imageId`. */
export const factKey = (region: string, imageId: string) => `${region}/${imageId}`;

/** Launch permissions as a plan used them, and when they were read (Date.now()). */
export type SharingFact = { launchPermissions: LaunchPermissionSummary[]; at: number };

/**
 * Launch permissions read at one time in one region: the candidates found
 * with none, and the shared ones with theirs. Kept in the policy's state
 * (with its inputs, which is what the next `check` sees), for the
 * candidates the plan does not retire (held back because shared), and with
 * `dryRun` for all of them: a retired image needs no record. A check takes a
 * record while it is younger than SHARING_RECORD_MAX_AGE_HOURS and reads the
 * rest; apply reads each image's sharing again right before retiring it.
 */
export interface SharingRecord {
    region: string;
    /** ISO time of the read. */
    at: string;
    unshared: string[];
    shared: { imageId: string; launchPermissions: LaunchPermissionSummary[] }[];
}

/** Fresh records by `region/imageId`: the permissions and when they were read. */
export function knownSharing(
    records: readonly SharingRecord[] | undefined,
    now: number,
    maxAgeHours = SHARING_RECORD_MAX_AGE_HOURS,
): Map<string, SharingFact> {
    const out = new Map<string, SharingFact>();
    for (const r of Array.isArray(records) ? records : []) {
        const at = Date.parse(r.at);
        // A record from the future (a skewed clock) counts as read now, never as fresher.
        if (!Number.isFinite(at) || now - Math.min(at, now) > maxAgeHours * 3_600_000) continue;
        for (const id of r.unshared ?? []) out.set(`${r.region}/${id}`, { launchPermissions: [], at: Math.min(at, now) });
        for (const x of r.shared ?? [])
            out.set(`${r.region}/${x.imageId}`, { launchPermissions: x.launchPermissions, at: Math.min(at, now) });
    }
    return out;
}

/** The records to keep: every candidate whose sharing is known, minus those the plan retires (unless nothing is retired: dryRun). */
export function sharingRecords(
    sharing: ReadonlyMap<string, SharingFact>,
    retire: readonly { region: string; imageId: string }[],
    dryRun: boolean,
): SharingRecord[] {
    const retired = new Set(dryRun ? [] : retire.map((p) => factKey(p.region, p.imageId)));
    const byReadAt = new Map<string, SharingRecord>();
    for (const [key, fact] of [...sharing].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
        if (retired.has(key)) continue;
        const slash = key.indexOf("/");
        const region = key.slice(0, slash);
        const imageId = key.slice(slash + 1);
        const at = new Date(fact.at).toISOString();
        let r = byReadAt.get(`${region} ${at}`);
        if (!r) byReadAt.set(`${region} ${at}`, (r = { region, at, unshared: [], shared: [] }));
        if (fact.launchPermissions.length === 0) r.unshared.push(imageId);
        else r.shared.push({ imageId, launchPermissions: fact.launchPermissions });
    }
    return [...byReadAt.values()];
}
