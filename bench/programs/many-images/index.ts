// 100 AmiFromInstance resources, for state size and preview time.
import * as pulumi from "@pulumi/pulumi";
import { AmiFromInstance } from "golden-ami";

const config = new pulumi.Config();
const count = config.getNumber("count") ?? 100;
for (let i = 0; i < count; i++) {
    new AmiFromInstance(`image-${i}`, { sourceInstanceId: config.require("sourceInstanceId"), tags: { Bench: "state" } });
}
