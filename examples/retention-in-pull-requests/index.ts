// A retention policy whose plan is reviewed like code: the GitHub Actions
// workflow beside this program (preview.yml, under .github) runs
// `pulumi preview --diff` on every pull request and posts it, so reviewers see
// which AMIs a merge retires: per group a count and the oldest images with
// why, bounded so that the comment fits however many AMIs there are. The full
// plan (every image, as JSON) is uploaded as the run's artifact, written by
// the policy during preview because GOLDEN_AMI_RETENTION_PLAN_DIR is set.
import * as pulumi from "@pulumi/pulumi";
import { AmiRetentionPolicy } from "golden-ami";

const config = new pulumi.Config();

const policy = new AmiRetentionPolicy("app-images", {
    selector: { namePattern: config.get("namePattern") ?? "app-*" },
    groupBy: ["App", "Environment"],
    keepLatest: config.getNumber("keepLatest") ?? 5,
    maxAgeDays: config.getNumber("maxAgeDays"),
    exclude: { tags: { Retain: "true" } },
});

// One line each, so that the comment shows the detail once (in the policy's diff).
export const retiring = policy.pending.summary;
export const lastRun = policy.lastRun.counts;
