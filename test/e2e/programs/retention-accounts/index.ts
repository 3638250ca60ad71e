// A retention policy run in another account: every call through a role assumed there.
import * as pulumi from "@pulumi/pulumi";
import { AmiRetentionPolicy } from "golden-ami";

const config = new pulumi.Config();

const policy = new AmiRetentionPolicy("other-images", {
    selector: { namePattern: config.require("namePattern") },
    keepLatest: config.requireNumber("keepLatest"),
    assumeRole: { roleArn: config.require("roleArn"), externalId: config.require("externalId") },
});

export const lastRun = policy.lastRun;
