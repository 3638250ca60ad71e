// A retention policy replacing "deregister old AMIs" scripts, snapshots included.
import * as pulumi from "@pulumi/pulumi";
import { AmiRetentionPolicy } from "golden-ami";

const config = new pulumi.Config();

const policy = new AmiRetentionPolicy("web-images", {
    selector: { namePattern: config.require("namePattern") },
    keepLatest: config.requireNumber("keepLatest"),
    exclude: { tags: { Retain: "true" } },
});

export const pending = policy.pending;
export const lastRun = policy.lastRun;
