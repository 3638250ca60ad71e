// One image of each kind the in-use guard must hold for (issue 20): a copy
// (config `copySource`, replaced when it changes), an image registered from
// a snapshot (`snapshotId`, replaced when it changes) and an adopted image
// deregistered with its snapshots when released (`adoptImageId`).
import * as pulumi from "@pulumi/pulumi";
import { AmiCopy, AmiFromSnapshot, ManagedAmi } from "golden-ami";

const config = new pulumi.Config();
const region = new pulumi.Config("aws").require("region");

const copy = new AmiCopy("copy", { sourceAmiId: config.require("copySource"), sourceAmiRegion: region, tags: { App: "matrix" } });

const restored = new AmiFromSnapshot("restored", {
    blockDeviceMappings: [{ deviceName: "/dev/xvda", ebs: { snapshotId: config.require("snapshotId"), volumeType: "gp3" } }],
    architecture: "x86_64",
    tags: { App: "matrix" },
});

const adoptImageId = config.get("adoptImageId");
const adopted = adoptImageId
    ? new ManagedAmi("adopted", { imageId: adoptImageId, deleteOnRelease: true, deleteSnapshotsOnDestroy: true })
    : undefined;

export const copyId = copy.imageId;
export const copySnapshotIds = copy.snapshotIds;
export const restoredId = restored.imageId;
export const adoptedId = adopted?.imageId;
