// What README says updates in place and what replaces, per kind, is what the
// providers' diff decides: each documented property changed alone, diffed
// as preview and up diff it. The README's own words are read, so that a
// change to either side fails here. (test/e2e/preview-apply.test.ts checks
// the same under the real CLI, where values another resource makes are not
// known at preview.)
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { planningHooks } from "../../dynamic-providers/image-planning";
import { diff as managedDiff } from "../../dynamic-providers/managed-ami-planning";
import { descriptor as amiCopy } from "../../sdk/ami-copy";
import { descriptor as amiFromInstance } from "../../sdk/ami-from-instance";
import { deriveBakeInputs, descriptor as bake } from "../../sdk/golden-image-bake";
import { replaceKeys } from "../../sdk/image-kind";
import { UNKNOWN } from "../../sdk/rules/primitives";

const README = fs.readFileSync(path.resolve(__dirname, "..", "..", "README.md"), "utf8");
const ticked = (text: string) => [...text.matchAll(/`([A-Za-z.]+)`/g)].map((m) => m[1]);
const TIME_LIMITS = ["createTimeoutMinutes", "deleteTimeoutMinutes"];

type Op = "same" | "update" | "replace";
const opOf = (d: { changes?: boolean; replaces?: string[] }): Op => (d.replaces?.length ? "replace" : d.changes ? "update" : "same");

/** A new value for each property, different from the base inputs' one. */
const CHANGED: Record<string, unknown> = {
    tags: { App: "web", Version: "2" },
    snapshotTags: { Backup: "daily" },
    description: "second",
    deprecationTime: "2099-01-01T00:00:00.000Z",
    deregistrationProtection: true,
    launchPermissions: { userIds: ["111122223333"] },
    deleteSnapshotsOnDestroy: false,
    createTimeoutMinutes: 99,
    deleteTimeoutMinutes: 99,
    publish: { ssmParameter: "/golden/web/latest", owner: "p/s/AmiFromInstance/web" },
    sourceInstanceId: "i-0fedcba9876543210",
    name: "web-2",
    snapshotWithoutReboot: true,
    blockDeviceMappings: [{ deviceName: "/dev/sdf", ebs: { volumeSize: 10 } }],
    region: "eu-west-1",
    sourceAmiId: "ami-0fedcba9876543210",
    sourceAmiRegion: "eu-west-1",
    encrypted: true,
    kmsKeyId: "alias/dr",
    copyImageTags: true,
    imageId: "ami-0fedcba9876543210",
    deleteOnRelease: true,
};

const common = { region: "us-east-1", name: "web-1", tags: { App: "web" }, snapshotTags: { App: "web" }, deregistrationProtection: false };

async function imageOp(kind: typeof amiFromInstance | typeof amiCopy, base: Record<string, unknown>, key: string): Promise<Op> {
    const hooks = planningHooks(kind as never);
    const olds = { ...base, imageId: "ami-0123456789abcdef0" };
    return opOf(await hooks.diff("ami-0123456789abcdef0", olds as never, { ...base, [key]: CHANGED[key] } as never));
}

describe("README's update-or-replace tables are the diff's", () => {
    describe("AmiFromInstance (the table under Use it)", () => {
        const row = /\| changes in place \| replaces the image \|\n\|[-| ]+\|\n\|([^|]*)\|([^|]*)\|/.exec(README);
        const inPlace = row ? [...ticked(row[1]), ...(row[1].includes("time limits") ? TIME_LIMITS : [])] : [];
        const replaces = row ? ticked(row[2]) : [];
        const base = { ...common, sourceInstanceId: "i-0123456789abcdef0", snapshotWithoutReboot: false, deleteSnapshotsOnDestroy: true };

        it("README has the table, and its replace column is the kind's identity", () => {
            assert.ok(row, "README lost the AmiFromInstance table");
            assert.deepEqual([...replaces].sort(), [...replaceKeys(amiFromInstance)].sort());
        });
        for (const key of [...inPlace, "publish"]) {
            it(`${key} updates in place`, async () => assert.equal(await imageOp(amiFromInstance, base, key), "update"));
        }
        for (const key of replaces) {
            it(`${key} replaces`, async () => assert.equal(await imageOp(amiFromInstance, base, key), "replace"));
        }
        it("a value not known at preview is an update for an in-place property, never a replacement", async () => {
            const hooks = planningHooks(amiFromInstance as never);
            for (const key of inPlace) {
                const d = await hooks.diff("ami-0123456789abcdef0", base as never, { ...base, [key]: UNKNOWN } as never);
                assert.equal(opOf(d), "update", key);
            }
        });
    });

    describe("AmiCopy (its list under AmiCopy and AmiReplicaSet)", () => {
        const sentence = /- ((?:`\w+`,?\s+(?:and\s+)?)+)replace the copy; the rest update it in place/.exec(README);
        const replaces = sentence ? ticked(sentence[1]) : [];
        const base = {
            ...common,
            sourceAmiId: "ami-0123456789abcdef0",
            sourceAmiRegion: "us-east-1",
            encrypted: false,
            copyImageTags: false,
        };

        it("README lists what replaces a copy, and it is the kind's identity", () => {
            assert.ok(sentence, "README lost the sentence listing what replaces a copy");
            assert.deepEqual([...replaces].sort(), [...replaceKeys(amiCopy)].sort());
        });
        for (const key of replaces) {
            it(`${key} replaces`, async () => {
                const extra = key === "kmsKeyId" ? { encrypted: true } : {};
                assert.equal(await imageOp(amiCopy, { ...base, ...extra }, key), "replace");
            });
        }
        for (const key of [
            "description",
            "tags",
            "snapshotTags",
            "deprecationTime",
            "deregistrationProtection",
            "launchPermissions",
            "publish",
            ...TIME_LIMITS,
            "deleteSnapshotsOnDestroy",
        ]) {
            it(`${key} updates in place`, async () => assert.equal(await imageOp(amiCopy, base, key), "update"));
        }
        it("copyImageTags is read at create only: README says so, and a later change changes nothing", async () => {
            assert.match(README, /`copyImageTags` is read when the copy is made/);
            assert.equal(await imageOp(amiCopy, base, "copyImageTags"), "same");
        });
    });

    describe("GoldenImage's bake (What `pulumi up` does, step 1)", () => {
        const inputs = {
            pipeline: "p/s/web",
            builderOwner: "urn",
            baseImage: { imageId: "ami-0123456789abcdef0" },
            baseImageId: "ami-0123456789abcdef0",
            instanceType: "t3.small",
            userData: "#!/bin/bash\npoweroff\n",
            buildTimeoutMinutes: 30,
            namePrefix: "web",
            region: "us-east-1",
            tags: { App: "web" },
            deregistrationProtection: false,
            deleteSnapshotsOnDestroy: true,
        };
        const derived = (given: Record<string, unknown>) => deriveBakeInputs(given as never, given as never);
        const op = async (change: Record<string, unknown>) =>
            opOf(await planningHooks(bake as never).diff("ami-0", derived(inputs) as never, derived({ ...inputs, ...change }) as never));

        for (const [what, change] of Object.entries({
            baseImageId: { baseImageId: "ami-0fedcba9876543210" },
            userData: { userData: "#!/bin/bash\necho 2\npoweroff\n" },
            instanceType: { instanceType: "t3.large" },
            subnetId: { subnetId: "subnet-0123456789abcdef0" },
            securityGroupIds: { securityGroupIds: ["sg-0123456789abcdef0"] },
            iamInstanceProfile: { iamInstanceProfile: "builder" },
            rootVolumeSize: { rootVolumeSize: 20 },
            region: { region: "eu-west-1" },
        })) {
            it(`${what} replaces (a new build)`, async () => assert.equal(await op(change), "replace"));
        }
        for (const [what, change] of Object.entries({
            "image.tags": { tags: { App: "web", Team: "platform" } },
            "image.launchPermissions": { launchPermissions: { userIds: ["111122223333"] } },
            "image.deprecationTime": { deprecationTime: "2099-01-01T00:00:00.000Z" },
            "image.description": { description: "second" },
            "build.timeoutMinutes": { buildTimeoutMinutes: 31 },
            "publish.ssmParameter": { publishParameter: "/golden/web/latest" },
            "image tags and build.timeoutMinutes together (README's case)": {
                tags: { App: "web", Team: "platform" },
                buildTimeoutMinutes: 31,
            },
        })) {
            it(`${what} updates in place`, async () => assert.equal(await op(change), "update"));
        }
        it("README names the build inputs and the in-place ones so", () => {
            assert.match(
                README,
                /nothing else rebuilds \(tags, sharing, deprecation,\s+`timeoutMinutes`, the publish parameter update in place\)/,
            );
        });
    });

    describe("ManagedAmi (adopt an existing AMI)", () => {
        const base = { imageId: "ami-0123456789abcdef0", region: "us-east-1", tags: { App: "web" }, deleteOnRelease: false };
        const op = async (key: string) =>
            opOf(
                await managedDiff("ami-0123456789abcdef0", { ...base, name: "legacy" } as never, { ...base, [key]: CHANGED[key] } as never),
            );
        it("a new imageId replaces (adopts the new image, releases the old one)", async () => assert.equal(await op("imageId"), "replace"));
        for (const key of [
            "tags",
            "description",
            "deprecationTime",
            "deregistrationProtection",
            "launchPermissions",
            "snapshotTags",
            "deleteOnRelease",
        ]) {
            it(`${key} updates in place`, async () => assert.equal(await op(key), "update"));
        }
    });
});
