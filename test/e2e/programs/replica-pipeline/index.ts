// instance → AmiFromInstance → AmiReplicaSet to several regions.
import * as pulumi from "@pulumi/pulumi";
import { AmiFromInstance, AmiReplicaSet } from "golden-ami";

const config = new pulumi.Config();
const region = new pulumi.Config("aws").require("region");

const web = new AmiFromInstance("web", {
    sourceInstanceId: config.require("sourceInstanceId"),
    snapshotWithoutReboot: true,
    tags: { App: "web" },
});

const replicas = new AmiReplicaSet("web", {
    sourceAmiId: web.imageId,
    sourceAmiRegion: region,
    regions: config.requireObject<string[]>("regions"),
    tags: { App: "web", Replica: config.get("replicaTag") ?? "1" },
});

export const sourceImageId = web.imageId;
export const imageIds = replicas.imageIds;
