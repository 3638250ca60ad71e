// A golden image distributed to a second account (shared, copied there by the
// account's role, published there, old images retired in both accounts), and an AmiCopy made by that account from
// the image shared with it, encrypted with that account's own KMS key.
import * as pulumi from "@pulumi/pulumi";
import { AmiCopy, GoldenImage } from "golden-ami";

const config = new pulumi.Config();
const assumeRole = { roleArn: config.require("roleArn") };

const web = new GoldenImage("web", {
    baseImage: { ssmParameter: config.require("baseParameter") },
    build: {
        instanceType: "t3.small",
        userData: `#!/bin/bash\nset -e\necho "version ${config.get("version") ?? "1"}"\necho "golden-ami: success"\npoweroff\n`,
        timeoutMinutes: 10,
    },
    image: { tags: { App: "web" } },
    // Old images go once unused, in both accounts; the build account's though shared with the target (it copies them).
    keepLatest: 1,
    // distribute: "off" drops the target (its copies go, the share is revoked).
    distribute:
        config.get("distribute") === "off"
            ? []
            : [{ assumeRole, regions: [config.require("targetRegion")], publish: { ssmParameter: config.require("targetParameter") } }],
});

// The destination account copies the image shared with it (web's own share), with its own key.
const copy = new AmiCopy("web-theirs", {
    sourceAmiId: web.imageId,
    sourceAmiRegion: web.region,
    encrypted: true,
    kmsKeyId: config.require("targetKeyArn"),
    tags: { App: "web", Copy: "shared-source" },
    assumeRole,
});

export const imageId = web.imageId;
export const distributedImageIds = web.distributedImageIds;
export const sharedCopyId = copy.imageId;
