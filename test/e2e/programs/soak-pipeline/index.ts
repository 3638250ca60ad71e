// The whole pipeline the soak cycles through: instance → AmiFromInstance →
// AmiReplicaSet to two regions → AmiRetentionPolicy over older images.
import * as pulumi from "@pulumi/pulumi";
import { AmiFromInstance, AmiReplicaSet, AmiRetentionPolicy } from "golden-ami";

const config = new pulumi.Config();
const region = new pulumi.Config("aws").require("region");
const version = config.get("version") ?? "1";

const web = new AmiFromInstance("web", {
    sourceInstanceId: config.require("sourceInstanceId"),
    snapshotWithoutReboot: true,
    tags: { App: "soak", Version: version },
    launchPermissions: { userIds: ["111122223333"] },
});

const replicas = new AmiReplicaSet("web", {
    sourceAmiId: web.imageId,
    sourceAmiRegion: region,
    regions: config.requireObject<string[]>("regions"),
    tags: { App: "soak", Version: version },
});

const retention = new AmiRetentionPolicy("old-images", {
    selector: { namePattern: config.require("retire") },
    keepLatest: 1,
    exclude: { imageIds: [web.imageId] },
});

export const imageId = web.imageId;
export const copies = replicas.imageIds;
export const retired = retention.lastRun.apply((r) => r?.retired?.length ?? 0);
