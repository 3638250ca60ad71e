// A retention policy whose plan is reviewed like code: the GitHub Actions
// workflow beside this program (preview.yml, under .github) runs
// `pulumi preview --diff` on every pull request and posts it, so reviewers see
// exactly which AMIs a merge retires.
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

export const pending = policy.pending;
export const lastRun = policy.lastRun;
