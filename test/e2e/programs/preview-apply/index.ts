// One stack holding every kind, for the preview-equals-apply matrix
// (test/e2e/preview-apply.test.ts): each resource changes one documented
// property (or one group of in-place ones) at a given round, and resources
// that only follow another one (a copy of an image that gets a new tag)
// change nothing of their own. The test compares, per resource and round,
// the operation `pulumi preview` shows with the one `pulumi up` performs.
import * as pulumi from "@pulumi/pulumi";
import { AmiCopy, AmiFromInstance, AmiReplicaSet, AmiRetentionPolicy, GoldenImage, ManagedAmi } from "golden-ami";

const config = new pulumi.Config();
const round = config.requireNumber("round");
const copyRegion = config.require("copyRegion");
const otherRegion = config.require("otherRegion");
const instance = config.require("instanceId");
const at = (r: number) => round >= r;

/** An AmiFromInstance whose args at this round are `args`. */
const afi = (name: string, args: Partial<ConstructorParameters<typeof AmiFromInstance>[1]> = {}) =>
    new AmiFromInstance(name, { sourceInstanceId: instance, tags: { Case: name }, ...args });

// AmiFromInstance: one property each.
const tagged = afi("afi-tags", { tags: { Case: "afi-tags", V: at(1) ? "2" : "1" } });
afi("afi-snapshot-tags", { snapshotTags: { S: at(1) ? "2" : "1" } });
afi("afi-description", { description: at(1) ? "second" : "first" });
afi("afi-deprecation", at(1) ? { deprecationTime: "2035-01-01T00:00:00Z" } : {});
afi("afi-protection", { deregistrationProtection: round === 1 });
afi("afi-launch-permissions", at(1) ? { launchPermissions: { userIds: ["111122223333"] } } : {});
afi("afi-stored", {
    deleteSnapshotsOnDestroy: round !== 1,
    createTimeoutMinutes: at(1) ? 41 : 40,
    deleteTimeoutMinutes: at(1) ? 21 : 20,
});
afi("afi-publish", at(1) ? { publish: { ssmParameter: "/truth/afi-publish" } } : {});
const resourced = afi("afi-source", { sourceInstanceId: at(1) ? config.require("instanceId2") : instance });
afi("afi-name", { name: at(1) ? "truth-afi-name-2" : "truth-afi-name-1" });
afi("afi-no-reboot", { snapshotWithoutReboot: at(1) });
afi("afi-block-devices", at(1) ? { blockDeviceMappings: [{ deviceName: "/dev/sdf", ebs: { volumeSize: 1 } }] } : {});

// AmiCopy: following a source that is updated (nothing of its own changes) or replaced, and its own properties.
const copy = (name: string, args: Partial<ConstructorParameters<typeof AmiCopy>[1]> = {}) =>
    new AmiCopy(name, { sourceAmiId: tagged.imageId, sourceAmiRegion: tagged.region, region: copyRegion, tags: { Case: name }, ...args });
copy("copy-follows-update");
copy("copy-follows-update-own-tags", { tags: { Case: "copy-follows-update-own-tags", V: at(1) ? "2" : "1" } });
copy("copy-follows-replace", { sourceAmiId: resourced.imageId });
copy("copy-in-place", {
    description: at(1) ? "second" : "first",
    tags: { Case: "copy-in-place", V: at(1) ? "2" : "1" },
    snapshotTags: { S: at(1) ? "2" : "1" },
    ...(at(1) ? { deprecationTime: "2035-01-01T00:00:00Z", launchPermissions: { userIds: ["111122223333"] } } : {}),
    ...(at(1) ? { publish: { ssmParameter: "/truth/copy-in-place" } } : {}),
    createTimeoutMinutes: at(1) ? 241 : 240,
});
copy("copy-region", { region: at(1) ? otherRegion : copyRegion });
copy("copy-encrypted", { encrypted: at(1) });
copy("copy-name", { name: at(1) ? "truth-copy-name-2" : "truth-copy-name-1" });

// AmiReplicaSet of the updated image: its copies stay; a region added at round 2 adds one copy.
new AmiReplicaSet("replicas", {
    sourceAmiId: tagged.imageId,
    sourceAmiRegion: tagged.region,
    regions: at(2) ? [copyRegion, otherRegion] : [copyRegion],
    tags: { Case: "replicas" },
});

// ManagedAmi: its settings in place, another image replaces (adopts it, releases the old one).
new ManagedAmi("managed-in-place", {
    imageId: config.require("legacyImageId"),
    tags: { Managed: at(1) ? "2" : "1" },
    description: at(1) ? "second" : "first",
});
new ManagedAmi("managed-image", { imageId: at(1) ? config.require("legacyImageId2") : config.require("legacyImageId3") });

// AmiRetentionPolicy: settings update in place; an exclusion that names the updated image.
new AmiRetentionPolicy("retention", {
    regions: [new pulumi.Config("aws").require("region")],
    selector: { namePattern: "truth-nothing-*" },
    keepLatest: at(1) ? 2 : 1,
    exclude: { imageIds: [tagged.imageId] },
});

// GoldenImage, as in the README: round 1 adds an image tag and build.timeoutMinutes (in place, copies
// included); round 2 changes the script (the bake and its copy are replaced).
const golden = new GoldenImage("golden", {
    baseImage: { ssmParameter: config.require("baseParameter") },
    build: {
        instanceType: "t3.small",
        userData: `#!/bin/bash\necho "provisioning ${at(2) ? 2 : 1}"\necho "golden-ami: success"\npoweroff\n`,
        ...(at(1) ? { timeoutMinutes: 31 } : {}),
    },
    image: { tags: at(1) ? { App: "web", Team: "platform" } : { App: "web" } },
    regions: [copyRegion],
    publish: { ssmParameter: "/truth/golden" },
    keepLatest: 3,
});

export const goldenImageId = golden.imageId;
export const taggedImageId = tagged.imageId;
