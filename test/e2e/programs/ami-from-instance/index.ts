// A user's program: imports golden-ami by package name from the packed package.
import * as pulumi from "@pulumi/pulumi";
import { AmiFromInstance } from "golden-ami";

const config = new pulumi.Config();

const web = new AmiFromInstance("web", {
    sourceInstanceId: config.require("sourceInstanceId"),
    name: config.get("imageName"),
    snapshotWithoutReboot: true,
    description: config.getSecret("note"),
    tags: { App: "web", Version: config.get("version") ?? "1" },
    launchPermissions: config.get("shareWith") ? { userIds: [config.require("shareWith")] } : undefined,
    blockDeviceMappings:
        config.getObject<{ deviceName: string; ebs?: { volumeSize?: number; deleteOnTermination?: boolean } }[]>("blockDeviceMappings"),
});

export const imageId = web.imageId;
export const imageName = web.name;
export const snapshotIds = web.snapshotIds;
