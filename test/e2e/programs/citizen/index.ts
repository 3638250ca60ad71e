// A user's program exercising the engine's features: a secret tag, a
// resource renamed with an alias, retainOnDelete, replaceOnChanges.
import * as pulumi from "@pulumi/pulumi";
import { AmiFromInstance } from "golden-ami";

const config = new pulumi.Config();
const name = config.get("resourceName") ?? "web";

const web = new AmiFromInstance(
    name,
    {
        sourceInstanceId: config.require("sourceInstanceId"),
        snapshotWithoutReboot: true,
        tags: { App: "web", Token: config.requireSecret("token") },
    },
    {
        aliases: name === "web" ? [] : [{ name: "web" }],
        retainOnDelete: config.getBoolean("retain") ?? false,
        replaceOnChanges: config.getBoolean("replaceOnTags") ? ["tags"] : [],
    },
);

export const imageId = web.imageId;
export const imageName = web.name;
