// Bring an AMI made by hand (or by an old script) under management, then let
// the retention policy retire it once a newer image replaces it.
//
//   pulumi config set aws:region us-east-1
//   pulumi config set legacyAmiId ami-0123456789abcdef0
//   pulumi up
//
// ManagedAmi adopts the existing image instead of baking a new one (Pulumi's
// `import` option does not work with dynamic providers). It changes only what
// it is given: it sets the two tags below so the policy selects the image, and
// leaves its other tags, shares, protection and deprecation as they are
// (preview prints what adoption changes). Destroying it releases the image
// untouched (`deleteOnRelease: true` would deregister it). When a newer image
// tagged App=web exists, the policy retires the legacy one; `pulumi refresh`
// then drops it from the stack.
import * as pulumi from "@pulumi/pulumi";
import { AmiRetentionPolicy, ManagedAmi } from "golden-ami";

const config = new pulumi.Config();

const legacy = new ManagedAmi("legacy-web", {
    imageId: config.require("legacyAmiId"),
    tags: { App: "web", Origin: "adopted" },
});

// Keep the newest web image; older ones, the adopted one included, are retired.
const retention = new AmiRetentionPolicy(
    "web-retention",
    { selector: { tags: { App: "web" } }, keepLatest: 1 },
    { dependsOn: [legacy] }, // plan after the adopted image carries its tags
);

export const adoptedImageId = legacy.imageId;
export const adoptedImageName = legacy.name;
export const retiredNext = retention.pending;
