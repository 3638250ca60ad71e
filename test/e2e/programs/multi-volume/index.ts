// Images of an instance with a root and two data volumes: imaged whole and
// shaped (one volume left out, one new volume added), copied to another
// region, and older images of the same instance retired by a policy.
import * as pulumi from "@pulumi/pulumi";
import { AmiCopy, AmiFromInstance, AmiRetentionPolicy } from "golden-ami";

const config = new pulumi.Config();
const sourceInstanceId = config.require("sourceInstanceId");

const whole = new AmiFromInstance("whole", {
    sourceInstanceId,
    snapshotWithoutReboot: true,
    tags: { App: "mv" },
    description: config.get("description"),
});
const shaped = new AmiFromInstance("shaped", {
    sourceInstanceId,
    snapshotWithoutReboot: true,
    blockDeviceMappings: [
        { deviceName: "/dev/sdf", noDevice: true },
        { deviceName: "/dev/sdh", ebs: { volumeSize: 10, volumeType: "gp3" } },
    ],
});
const copy = new AmiCopy("whole-west", {
    sourceAmiId: whole.imageId,
    sourceAmiRegion: "us-east-1",
    region: "us-west-2",
});
const policy = new AmiRetentionPolicy("old", { selector: { namePattern: "mv-old-*" }, keepLatest: 1 });
// Retired by DisableImage instead: launches fail, the image and its snapshots stay.
const disabling = new AmiRetentionPolicy("disable-old", { selector: { namePattern: "mv-dis-*" }, keepLatest: 1, action: "disable" });

export const wholeId = whole.imageId;
export const wholeSnapshots = whole.snapshotIds;
export const shapedId = shaped.imageId;
export const shapedSnapshots = shaped.snapshotIds;
export const copyId = copy.imageId;
export const copySnapshots = copy.snapshotIds;
export const retired = policy.lastRun;
export const disabled = disabling.lastRun;
