// A user's program exercising the engine's features: a secret tag and a
// secret parameter name, a resource renamed with an alias, retainOnDelete,
// replaceOnChanges, an image adopted with the `import` option; or (with
// goldenPrefix) a GoldenImage whose prefix, script and parameter are secrets.
import * as pulumi from "@pulumi/pulumi";
import { AmiFromInstance, GoldenImage, ManagedAmi } from "golden-ami";

const config = new pulumi.Config();
const name = config.get("resourceName") ?? "web";
const goldenPrefix = config.getSecret("goldenPrefix");

let image: { imageId: pulumi.Output<string>; name: pulumi.Output<string>; publishedParameter: pulumi.Output<string | undefined> };
if (goldenPrefix) {
    const golden = new GoldenImage("golden", {
        baseImage: { ssmParameter: "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64" },
        build: {
            instanceType: "t3.small",
            userData: pulumi.secret(`#!/bin/bash\nset -e\necho ${config.require("scriptNote")}\necho "golden-ami: success"\npoweroff\n`),
        },
        image: { namePrefix: goldenPrefix },
        publish: { ssmParameter: config.requireSecret("param") },
    });
    image = { imageId: golden.imageId, name: golden.imageName, publishedParameter: golden.bake.publishedParameter };
} else {
    const param = config.getSecret("param");
    image = new AmiFromInstance(
        name,
        {
            sourceInstanceId: config.require("sourceInstanceId"),
            snapshotWithoutReboot: true,
            tags: { App: "web", Token: config.requireSecret("token") },
            publish: param ? { ssmParameter: param } : undefined,
        },
        {
            aliases: name === "web" ? [] : [{ name: "web" }],
            retainOnDelete: config.getBoolean("retain") ?? false,
            replaceOnChanges: config.getBoolean("replaceOnTags") ? ["tags"] : [],
        },
    );
}

// The `import` option adopts an existing image as ManagedAmi's imageId does.
const adoptId = config.get("adoptId");
const adopted = adoptId ? new ManagedAmi("adopted", {}, { import: adoptId }) : undefined;

export const imageId = image.imageId;
export const imageName = image.name;
export const publishedParameter = image.publishedParameter;
export const adoptedImageId = adopted?.imageId;
