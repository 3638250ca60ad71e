// A retention policy over an account where images are referenced in every way
// production accounts reference them (issue 12): only the unreferenced ones go.
import * as pulumi from "@pulumi/pulumi";
import { AmiRetentionPolicy } from "golden-ami";

const config = new pulumi.Config();

const policy = new AmiRetentionPolicy("seeded-images", {
    selector: { namePattern: config.require("namePattern") },
    keepLatest: config.requireNumber("keepLatest"),
});

export const pending = policy.pending;
export const lastRun = policy.lastRun;
