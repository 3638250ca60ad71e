// One golden image in every region the fleet runs in.
//
//   pulumi config set aws:region us-east-1
//   pulumi config set sourceAmiId ami-0123456789abcdef0
//   pulumi config set --path 'regions[0]' us-west-2
//   pulumi config set --path 'regions[1]' eu-west-1
//   pulumi up
//
// Adding or removing a region touches only that region's copy; destroy removes
// every copy and its snapshots, each in its own region.
import * as pulumi from "@pulumi/pulumi";
import { AmiReplicaSet } from "golden-ami";

const config = new pulumi.Config();

const replicas = new AmiReplicaSet("web", {
    sourceAmiId: config.require("sourceAmiId"),
    sourceAmiRegion: new pulumi.Config("aws").require("region"),
    regions: config.requireObject<string[]>("regions"),
    tags: { App: "web" },
});

/** The AMI id per region, e.g. for launch templates in each region. */
export const imageIds = replicas.imageIds;
