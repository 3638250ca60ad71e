// A retention policy run in another account: every call through a role assumed there.
// With `sharedPattern` set, a second policy in the caller's account retires
// its images shared with other accounts only when their usage reports show no use.
import * as pulumi from "@pulumi/pulumi";
import { AmiRetentionPolicy } from "golden-ami";

const config = new pulumi.Config();

const policy = new AmiRetentionPolicy("other-images", {
    selector: { namePattern: config.require("namePattern") },
    keepLatest: config.requireNumber("keepLatest"),
    assumeRole: { roleArn: config.require("roleArn"), externalId: config.require("externalId") },
});

export const lastRun = policy.lastRun;

const sharedPattern = config.get("sharedPattern");
const shared = sharedPattern
    ? new AmiRetentionPolicy("shared-images", {
          selector: { namePattern: sharedPattern },
          keepLatest: 1,
          retireShared: "when-unused",
      })
    : undefined;

export const sharedLastRun = shared?.lastRun;
