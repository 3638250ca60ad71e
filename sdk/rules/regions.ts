import { AWS_PARTITIONS } from "./aws-partitions";

/**
 * AWS regions and partitions, from the partition data the AWS SDK ships
 * (copied into aws-partitions.ts by scripts/update-partitions.js, so that
 * check never loads the SDK). A region is valid when a partition lists it:
 * a name that only looks like one (`us-east-9`) would pass a pattern and then
 * fail at EC2's endpoint. A region AWS opened after the installed SDK's
 * release is unknown until golden-ami's data is updated.
 */

/** Every known region, in the SDK's order (aws first). */
export function knownRegions(): string[] {
    return AWS_PARTITIONS.flatMap((p) => p.regions);
}

/**
 * The partition of a region, for ARNs (`arn:<partition>:ec2:…`): the one
 * listing it, else the one whose region pattern it matches, else `aws`.
 */
export function partitionOf(region: string): string {
    const listed = AWS_PARTITIONS.find((p) => p.regions.includes(region));
    if (listed) return listed.id;
    // The patterns overlap (aws matches us-gov-…): the more specific partitions first.
    const matched = [...AWS_PARTITIONS].reverse().find((p) => new RegExp(p.regionRegex).test(region));
    return matched?.id ?? "aws";
}

function distance(a: string, b: string): number {
    const row = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
        let prev = row[0];
        row[0] = i;
        for (let j = 1; j <= b.length; j++) {
            const next = row[j];
            row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
            prev = next;
        }
    }
    return row[b.length];
}

/** The known region nearest to a misspelt one (edit distance), if any is near. */
export function closestRegion(region: string): string | undefined {
    let best: { region: string; d: number } | undefined;
    for (const r of knownRegions()) {
        const d = distance(region, r);
        if (!best || d < best.d) best = { region: r, d };
    }
    return best && best.d <= Math.max(2, Math.floor(region.length / 4)) ? best.region : undefined;
}

/** Why `region` is not a known AWS region, or undefined when it is one. */
export function unknownRegionReason(region: string): string | undefined {
    if (knownRegions().includes(region)) return undefined;
    const near = closestRegion(region);
    return `${JSON.stringify(region)} is not an AWS region; known regions: ${knownRegions().join(", ")}${near ? ` (did you mean ${near}?)` : ""}`;
}
