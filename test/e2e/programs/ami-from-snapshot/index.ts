// A user's program: registers an AMI from a snapshot the user already has.
import * as pulumi from "@pulumi/pulumi";
import { AmiFromSnapshot } from "golden-ami";

const config = new pulumi.Config();

const restored = new AmiFromSnapshot("restored", {
    blockDeviceMappings: [{ deviceName: "/dev/xvda", ebs: { snapshotId: config.require("snapshotId"), volumeType: "gp3" } }],
    architecture: "x86_64",
    tags: { App: "restored", Version: config.get("version") ?? "1" },
    launchPermissions: config.get("shareWith") ? { userIds: [config.require("shareWith")] } : undefined,
});

export const imageId = restored.imageId;
export const snapshotIds = restored.snapshotIds;
export const rootDeviceName = restored.rootDeviceName;
