// The retention benchmark's policy: own images named bench-*, older than
// maxAgeDays, not in use, the newest of each region always kept; with
// config retireShared, shared images are retired too (the peers' semantics).
import * as pulumi from "@pulumi/pulumi";
import { AmiRetentionPolicy } from "golden-ami";

const config = new pulumi.Config();
const policy = new AmiRetentionPolicy("bench", {
    regions: config.requireObject<string[]>("regions"),
    selector: { namePattern: "bench-*" },
    keepLatest: 1,
    maxAgeDays: config.requireNumber("maxAgeDays"),
    // true: shared images are not spared, as the peers (which read no launch permissions) do not spare them.
    retireShared: config.getBoolean("retireShared") ?? false,
    // A dry run plans (and records sharing) and retires nothing: the bench's runs of a policy that ran before.
    dryRun: config.getBoolean("dryRun") ?? false,
});
// lastRun's lists are bounded samples; its counts are complete.
export const retired = policy.lastRun.apply((r) => r?.counts?.retired ?? 0);
export const failed = policy.lastRun.apply((r) => r?.counts?.failed ?? 0);
