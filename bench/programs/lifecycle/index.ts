// One AmiFromInstance, or one AmiCopy, with nothing optional: the fewest calls a lifecycle can make.
import * as pulumi from "@pulumi/pulumi";
import { AmiCopy, AmiFromInstance } from "golden-ami";

const config = new pulumi.Config();
const region = new pulumi.Config("aws").require("region");
if (config.get("kind") === "copy") {
    new AmiCopy("copy", { sourceAmiId: config.require("sourceAmiId"), sourceAmiRegion: region, region: config.require("copyRegion") });
} else {
    new AmiFromInstance("image", { sourceInstanceId: config.require("sourceInstanceId") });
}
