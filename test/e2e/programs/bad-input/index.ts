// One golden-ami resource, of the kind and with the args given in config.
import * as pulumi from "@pulumi/pulumi";
import { AmiCopy, AmiFromInstance, AmiFromSnapshot, AmiReplicaSet, AmiRetentionPolicy, GoldenImage, ManagedAmi } from "golden-ami";

const config = new pulumi.Config();
const args = config.requireObject<Record<string, unknown>>("args");
const kinds = {
    AmiFromInstance: () => new AmiFromInstance("subject", args as never),
    AmiCopy: () => new AmiCopy("subject", args as never),
    AmiFromSnapshot: () => new AmiFromSnapshot("subject", args as never),
    AmiReplicaSet: () => new AmiReplicaSet("subject", args as never),
    ManagedAmi: () => new ManagedAmi("subject", args as never),
    AmiRetentionPolicy: () => new AmiRetentionPolicy("subject", args as never),
    GoldenImage: () => new GoldenImage("subject", args as never),
};
kinds[config.require("kind") as keyof typeof kinds]();
