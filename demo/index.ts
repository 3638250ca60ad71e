// The demo stack (`npm run demo`): a golden image baked from an instance.
import * as pulumi from "@pulumi/pulumi";
import { AmiFromInstance } from "golden-ami";

const config = new pulumi.Config();

const web = new AmiFromInstance("web", {
    sourceInstanceId: config.require("sourceInstanceId"),
    snapshotWithoutReboot: true,
    description: "golden image for the web tier",
    tags: { App: "web", Version: config.get("version") ?? "1.0.0" },
});

export const imageId = web.imageId;
export const imageName = web.name;
export const snapshotIds = web.snapshotIds;
export const arn = web.arn;
