// A user's golden-image pipeline: base image from SSM, a script, a copy, the
// id published to SSM, retention of the pipeline's older images.
import * as pulumi from "@pulumi/pulumi";
import { GoldenImage } from "golden-ami";

const config = new pulumi.Config();

const web = new GoldenImage("web", {
    baseImage: { ssmParameter: config.require("baseParameter") },
    build: {
        instanceType: "t3.small",
        // lastLine: anything but a power-off command plays a script that failed. noScript: the base image baked as it boots.
        userData: config.getBoolean("noScript")
            ? undefined
            : `#!/bin/bash\nset -e\necho "provisioning ${config.get("version") ?? "1"}"\necho "golden-ami: success"\n${config.get("lastLine") ?? "poweroff"}\n`,
        timeoutMinutes: config.getNumber("timeoutMinutes") ?? 10,
        // e.g. a data volume beside the base image's root: the image and its copies map both.
        blockDeviceMappings: config.getObject("blockDeviceMappings"),
    },
    // test: "pass" or "fail" (the emulator plays `false` under set -e as a failing check).
    test: config.get("test")
        ? {
              userData: `#!/bin/bash\nset -e\necho "testing the new image"\n${config.get("test") === "pass" ? "true" : "false"}\necho "golden-ami: success"\npoweroff\n`,
              timeoutMinutes: config.getNumber("testTimeoutMinutes") ?? 10,
          }
        : undefined,
    image: { tags: { App: "web" } },
    regions: config.getObject<string[]>("regions"),
    publish: { ssmParameter: config.get("publishParameter") ?? "/golden/e2e/web" },
    keepLatest: config.getNumber("keepLatest") ?? 2,
});

export const imageId = web.imageId;
export const imageIds = web.imageIds;
export const baseImageId = web.baseImageId;
export const buildHash = web.buildHash;
export const imageName = web.imageName;
