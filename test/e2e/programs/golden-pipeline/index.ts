// A user's golden-image pipeline: base image from SSM, a script, a copy, the
// id published to SSM, retention of the pipeline's older images.
import * as pulumi from "@pulumi/pulumi";
import { GoldenImage } from "golden-ami";

const config = new pulumi.Config();

const web = new GoldenImage("web", {
    baseImage: { ssmParameter: config.require("baseParameter") },
    build: {
        instanceType: "t3.small",
        // lastLine: anything but a power-off command plays a script that failed.
        userData: `#!/bin/bash\necho "provisioning ${config.get("version") ?? "1"}"\n${config.get("lastLine") ?? "poweroff"}\n`,
        timeoutMinutes: config.getNumber("timeoutMinutes") ?? 10,
    },
    image: { tags: { App: "web" } },
    regions: config.getObject<string[]>("regions"),
    publish: { ssmParameter: config.get("publishParameter") ?? "/golden/e2e/web" },
    keepLatest: 2,
});

export const imageId = web.imageId;
export const imageIds = web.imageIds;
export const baseImageId = web.baseImageId;
export const buildHash = web.buildHash;
export const imageName = web.imageName;
