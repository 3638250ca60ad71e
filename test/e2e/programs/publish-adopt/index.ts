// A user's program: an image published to SSM (config `sourceInstanceId`,
// `parameter`, `reboot` to replace it) and/or an adopted image (`adoptImageId`).
import * as pulumi from "@pulumi/pulumi";
import { AmiFromInstance, ManagedAmi } from "golden-ami";

const config = new pulumi.Config();
const sourceInstanceId = config.get("sourceInstanceId");
const adoptImageId = config.get("adoptImageId");

const web = sourceInstanceId
    ? new AmiFromInstance("web", {
          sourceInstanceId,
          // Changing it replaces the image (new name, so create before delete).
          snapshotWithoutReboot: !config.getBoolean("reboot"),
          tags: { App: "web" },
          publish: { ssmParameter: config.require("parameter") },
      })
    : undefined;

const legacy = adoptImageId ? new ManagedAmi("legacy", { imageId: adoptImageId, tags: { ManagedBy: "golden-ami" } }) : undefined;

export const imageId = web?.imageId;
export const publishedParameter = web?.publishedParameter;
export const adoptedName = legacy?.name;
export const adoptedTags = legacy?.tags;
