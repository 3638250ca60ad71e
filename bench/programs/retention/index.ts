// The retention benchmark's policy: every bench image, kept per group.
import * as pulumi from "@pulumi/pulumi";
import { AmiRetentionPolicy } from "golden-ami";

const config = new pulumi.Config();
const policy = new AmiRetentionPolicy("bench", {
    regions: config.requireObject<string[]>("regions"),
    selector: { namePattern: "bench-*" },
    groupBy: ["Group"],
    keepLatest: 5,
});
export const retired = policy.lastRun.apply((r) => r?.retired?.length ?? 0);
