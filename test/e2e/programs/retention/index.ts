// A retention policy replacing "deregister old AMIs" scripts, snapshots included.
import * as pulumi from "@pulumi/pulumi";
import { AmiRetentionPolicy } from "golden-ami";

const config = new pulumi.Config();

// An image id known only once another resource exists (here a stand-in whose
// output echoes its input: an output that is not an input is unknown at
// preview), as `exclude.imageIds: [web.imageId]` is on a stack's first run.
const held = config.get("excludeViaResource");
const echo: pulumi.dynamic.ResourceProvider = {
    async create(inputs) {
        return { id: `held-${inputs.source}`, outs: { source: inputs.source, heldId: inputs.source } };
    },
};
class Held extends pulumi.dynamic.Resource {
    declare readonly heldId: pulumi.Output<string>;
    constructor(name: string, imageId: string) {
        super(echo, name, { source: imageId, heldId: undefined }, {});
    }
}
const holder = held ? new Held("held-image", held) : undefined;

const policy = new AmiRetentionPolicy("web-images", {
    selector: { namePattern: config.require("namePattern") },
    keepLatest: config.requireNumber("keepLatest"),
    exclude: {
        tags: { Retain: "true" },
        imageIds: holder ? [holder.heldId] : [],
    },
});

export const pending = policy.pending;
export const lastRun = policy.lastRun;
