// Resource wiring with Pulumi's mocks: what the classes send to the engine.
import * as pulumi from "@pulumi/pulumi";
import assert from "node:assert/strict";

const registered: { type: string; name: string; inputs: Record<string, unknown> }[] = [];

pulumi.runtime.setMocks(
    {
        newResource: (args) => {
            registered.push({ type: args.type, name: args.name, inputs: args.inputs });
            // The engine's preview of a dynamic resource's in-place update: the id kept, the inputs as outputs.
            if (args.name.startsWith("updated-in-preview")) return { id: `ami-${args.name}`, state: args.inputs };
            // As the providers do: an image resource's id is its image id.
            return { id: `ami-${args.name}`, state: { ...args.inputs, imageId: `ami-${args.name}` } };
        },
        call: () => ({}),
    },
    "project",
    "stack",
    false,
);

// Loaded after the mocks are set, as Pulumi's docs ask.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const sdk = require("../../sdk") as typeof import("../../sdk");

function value<T>(o: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => o.apply(resolve));
}

describe("resource classes (Pulumi mocks)", () => {
    beforeEach(() => {
        registered.length = 0;
    });

    it("AmiFromInstance names the image after the resource, stable for the same inputs, new for a new source", async () => {
        const a = new sdk.AmiFromInstance("web", { sourceInstanceId: "i-0123456789abcdef0", region: "us-east-1" });
        const b = new sdk.AmiFromInstance("web2", { sourceInstanceId: "i-0123456789abcdef0", region: "us-east-1" });
        const nameA = await value(a.name);
        assert.match(nameA, /^web-[0-9a-f]{8}$/);
        const again = new sdk.AmiFromInstance("web", { sourceInstanceId: "i-0123456789abcdef0", region: "us-east-1" }, { aliases: [] });
        assert.equal(await value(again.name), nameA, "same resource, same inputs: same name (a re-run adopts)");
        const other = new sdk.AmiFromInstance("web", { sourceInstanceId: "i-0fedcba9876543210", region: "us-east-1" }, { aliases: [] });
        assert.notEqual(await value(other.name), nameA, "a new source: a new name (made beside the old one)");
        assert.match(await value(b.name), /^web2-/);
    });

    it("takes imageId from the resource id: known at preview of an in-place update, so a copy of it is not shown as replaced", async () => {
        const web = new sdk.AmiFromInstance("updated-in-preview", { sourceInstanceId: "i-0123456789abcdef0", region: "us-east-1" });
        assert.equal(await value(web.imageId), "ami-updated-in-preview");
        const copy = new sdk.AmiCopy("updated-in-preview-copy", {
            sourceAmiId: web.imageId,
            sourceAmiRegion: "us-east-1",
            region: "us-west-2",
        });
        await value(copy.imageId);
        assert.equal(registered.find((x) => x.name === "updated-in-preview-copy")!.inputs.sourceAmiId, "ami-updated-in-preview");
    });

    it("sends only the inputs given, plus the declared outputs", async () => {
        const r = new sdk.AmiFromInstance("lean", { sourceInstanceId: "i-0123456789abcdef0", region: "eu-west-1" });
        await value(r.imageId);
        const sent = registered.find((x) => x.name === "lean")!;
        assert.equal(sent.type, "pulumi-nodejs:dynamic/golden-ami:AmiFromInstance");
        for (const absent of ["description", "deprecationTime", "launchPermissions", "blockDeviceMappings"]) {
            assert.ok(!(absent in sent.inputs), `${absent} not sent`);
        }
        assert.equal(sent.inputs.region, "eu-west-1");
    });

    it("AmiReplicaSet makes one AmiCopy per region, named by region, with a key per region", async () => {
        const set = new sdk.AmiReplicaSet("web", {
            sourceAmiId: "ami-0123456789abcdef0",
            sourceAmiRegion: "us-east-1",
            regions: ["us-west-2", "eu-west-1"],
            encrypted: true,
            kmsKeyIds: { "us-west-2": "alias/dr" },
        });
        const ids = await value(set.imageIds);
        assert.deepEqual(Object.keys(ids).sort(), ["eu-west-1", "us-west-2"]);
        const copies = registered.filter((x) => x.type.endsWith(":AmiCopy"));
        assert.deepEqual(copies.map((c) => c.name).sort(), ["web-eu-west-1", "web-us-west-2"]);
        assert.equal(copies.find((c) => c.name === "web-us-west-2")!.inputs.kmsKeyId, "alias/dr");
        assert.ok(!("kmsKeyId" in copies.find((c) => c.name === "web-eu-west-1")!.inputs));
    });

    it("AmiReplicaSet refuses an empty region list", () => {
        assert.throws(
            () => new sdk.AmiReplicaSet("none", { sourceAmiId: "ami-0123456789abcdef0", sourceAmiRegion: "us-east-1", regions: [] }),
            /regions: is empty; give at least one destination region/,
        );
    });

    it("AmiReplicaSet refuses a region listed twice, naming it and the fix", () => {
        assert.throws(
            () =>
                new sdk.AmiReplicaSet("twice", {
                    sourceAmiId: "ami-0123456789abcdef0",
                    sourceAmiRegion: "us-east-1",
                    regions: ["us-west-2", "eu-west-1", "us-west-2"],
                }),
            /AmiReplicaSet twice: regions: repeats us-west-2; give each region once/,
        );
    });

    it("AmiReplicaSet refuses a KMS key for a region not in the set, naming it and the fix", () => {
        assert.throws(
            () =>
                new sdk.AmiReplicaSet("stray", {
                    sourceAmiId: "ami-0123456789abcdef0",
                    sourceAmiRegion: "us-east-1",
                    regions: ["us-west-2"],
                    encrypted: true,
                    kmsKeyIds: { "us-west-2": "alias/dr", "eu-west-3": "alias/dr" },
                }),
            /kmsKeyIds: has a key for "eu-west-3", not in regions \(us-west-2\); add that region to regions, or remove its key/,
        );
    });

    it("AmiRetentionPolicy defaults its regions to the stack's region", async () => {
        process.env.AWS_REGION = "ap-south-1";
        try {
            const p = new sdk.AmiRetentionPolicy("ret", { selector: { namePattern: "web-*" }, keepLatest: 2 });
            await value(p.urn);
            await new Promise((r) => setTimeout(r, 50));
            const sent = registered.find((x) => x.name === "ret")!;
            assert.deepEqual(sent.inputs.regions, ["ap-south-1"]);
        } finally {
            delete process.env.AWS_REGION;
        }
    });

    it("GoldenImage composes a bake, one copy per region, and a retention policy over this pipeline's images", async () => {
        const web = new sdk.GoldenImage("gold", {
            baseImage: { ssmParameter: "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64" },
            build: { instanceType: "t3.small", userData: "#!/bin/bash\npoweroff\n", timeoutMinutes: 20 },
            image: { tags: { App: "web" } },
            region: "us-east-1",
            regions: ["us-west-2"],
            publish: { ssmParameter: "/golden/web/latest" },
            keepLatest: 3,
        });
        const ids = await value(web.imageIds);
        assert.deepEqual(ids, { "us-east-1": "ami-gold", "us-west-2": "ami-gold-us-west-2" });
        await new Promise((r) => setTimeout(r, 50));
        const bake = registered.find((x) => x.type.endsWith(":GoldenImageBake"))!;
        assert.equal(bake.name, "gold");
        assert.equal(bake.inputs.instanceType, "t3.small");
        assert.equal(bake.inputs.buildTimeoutMinutes, 20);
        assert.equal(bake.inputs.publishParameter, "/golden/web/latest");
        assert.equal(bake.inputs.pipeline, "project/stack/gold");
        assert.equal(bake.inputs.namePrefix, "gold");
        assert.equal(bake.inputs.builderOwner, "urn:pulumi:stack::project::golden-ami:index:GoldenImage::gold");
        const copy = registered.find((x) => x.type.endsWith(":AmiCopy") && x.name === "gold-us-west-2")!;
        assert.equal(copy.inputs.sourceAmiId, "ami-gold");
        assert.equal((copy.inputs.tags as Record<string, string>)["golden-ami:pipeline"], "project/stack/gold");
        const policy = registered.find((x) => x.type.endsWith(":AmiRetentionPolicy"))!;
        assert.equal(policy.name, "gold-retention");
        assert.deepEqual(policy.inputs.regions, ["us-east-1", "us-west-2"]);
        assert.deepEqual(policy.inputs.selector, { tags: { "golden-ami:pipeline": "project/stack/gold" } });
        assert.equal(policy.inputs.keepLatest, 3);
        assert.deepEqual((policy.inputs.exclude as { imageIds: string[] }).imageIds, ["ami-gold", "ami-gold-us-west-2"]);
    });

    it("GoldenImage passes the test step, the KMS keys and publish.overwrite to the bake and the copies", async () => {
        const web = new sdk.GoldenImage("kms", {
            baseImage: { imageId: "ami-0123456789abcdef0" },
            build: { instanceType: "t3.small", instanceTypes: ["t3a.small"] },
            image: { kmsKeyId: "alias/golden", copyKmsKeyIds: { "us-west-2": "alias/golden-dr" } },
            test: { userData: "#!/bin/bash\npoweroff\n", instanceType: "t3.micro", timeoutMinutes: 12 },
            publish: { ssmParameter: "/golden/kms", overwrite: true },
            region: "us-east-1",
            regions: ["us-west-2"],
        });
        await value(web.imageIds);
        await new Promise((r) => setTimeout(r, 50));
        const bake = registered.find((x) => x.type.endsWith(":GoldenImageBake") && x.name === "kms")!;
        assert.equal(bake.inputs.kmsKeyId, "alias/golden");
        assert.deepEqual(bake.inputs.instanceTypes, ["t3a.small"]);
        assert.deepEqual(bake.inputs.test, { userData: "#!/bin/bash\npoweroff\n", instanceType: "t3.micro" });
        assert.equal(bake.inputs.testTimeoutMinutes, 12);
        assert.equal(bake.inputs.publishOverwrite, true);
        const copy = registered.find((x) => x.type.endsWith(":AmiCopy") && x.name === "kms-us-west-2")!;
        assert.equal(copy.inputs.encrypted, true);
        assert.equal(copy.inputs.kmsKeyId, "alias/golden-dr");
    });

    it("GoldenImage distribute: shares the image with each account and copies it there with the account's role, tagged, published, retired there", async () => {
        const role = { roleArn: "arn:aws:iam::111122223333:role/golden-ami", externalId: pulumi.secret("ext-1") };
        const web = new sdk.GoldenImage("dist", {
            baseImage: { imageId: "ami-0123456789abcdef0" },
            build: { instanceType: "t3.small" },
            image: { launchPermissions: { userIds: ["444455556666"] } },
            region: "us-east-1",
            keepLatest: 2,
            distribute: [
                {
                    assumeRole: role,
                    regions: ["us-east-1", "eu-west-1"],
                    kmsKeyId: "alias/golden",
                    publish: { ssmParameter: "/golden/dist/latest" },
                    launchPermissions: { organizationArns: ["arn:aws:organizations::111122223333:organization/o-exampleorgid"] },
                },
            ],
        });
        assert.deepEqual(await value(web.distributedImageIds), {
            "111122223333": { "us-east-1": "ami-dist-111122223333-us-east-1", "eu-west-1": "ami-dist-111122223333-eu-west-1" },
        });
        await new Promise((r) => setTimeout(r, 50));
        const bake = registered.find((x) => x.type.endsWith(":GoldenImageBake") && x.name === "dist")!;
        assert.deepEqual(bake.inputs.launchPermissions, { userIds: ["444455556666", "111122223333"] });
        for (const region of ["us-east-1", "eu-west-1"]) {
            const copy = registered.find((x) => x.type.endsWith(":AmiCopy") && x.name === `dist-111122223333-${region}`)!;
            assert.equal(copy.inputs.sourceAmiId, "ami-dist");
            assert.equal(copy.inputs.sourceAmiRegion, "us-east-1");
            assert.equal(copy.inputs.region, region);
            assert.equal(copy.inputs.encrypted, true);
            assert.equal(copy.inputs.kmsKeyId, "alias/golden");
            // Secret as a whole (the external id is a secret): never in state in plaintext.
            assert.equal((copy.inputs.assumeRole as { value: { roleArn: string } }).value.roleArn, role.roleArn);
            assert.equal((copy.inputs.tags as Record<string, string>)["golden-ami:pipeline"], "project/stack/dist");
            assert.equal((copy.inputs.publish as { ssmParameter: string }).ssmParameter, "/golden/dist/latest");
            assert.deepEqual(copy.inputs.launchPermissions, {
                organizationArns: ["arn:aws:organizations::111122223333:organization/o-exampleorgid"],
            });
        }
        const policy = registered.find((x) => x.type.endsWith(":AmiRetentionPolicy") && x.name === "dist-111122223333-retention")!;
        assert.deepEqual(policy.inputs.regions, ["us-east-1", "eu-west-1"]);
        assert.equal((policy.inputs.assumeRole as { value: { roleArn: string } }).value.roleArn, role.roleArn);
        assert.deepEqual((policy.inputs.exclude as { imageIds: string[] }).imageIds, [
            "ami-dist-111122223333-us-east-1",
            "ami-dist-111122223333-eu-west-1",
        ]);
        assert.deepEqual(Object.keys(web.distributions), ["111122223333"]);
    });

    it("GoldenImage keepLatest: the distribute accounts' shares do not keep an old image in the build account (copyOnlyAccounts), shares the user asked for do", async () => {
        const role = (account: string) => ({ roleArn: `arn:aws:iam::${account}:role/golden-ami` });
        const web = new sdk.GoldenImage("copyonly", {
            baseImage: { imageId: "ami-0123456789abcdef0" },
            build: { instanceType: "t3.small" },
            // 444455556666 launches from the image itself too: its share is a use.
            image: { launchPermissions: pulumi.output({ userIds: ["444455556666"] }) },
            region: "us-east-1",
            keepLatest: 2,
            retireShared: "when-unused",
            distribute: [
                { assumeRole: role("111122223333"), regions: ["us-east-1"] },
                { assumeRole: role("444455556666"), regions: ["eu-west-1"] },
            ],
        });
        await value(web.distributedImageIds);
        await new Promise((r) => setTimeout(r, 50));
        const policy = (name: string) => registered.find((x) => x.type.endsWith(":AmiRetentionPolicy") && x.name === name)!;
        assert.deepEqual(policy("copyonly-retention").inputs.copyOnlyAccounts, ["111122223333"]);
        assert.equal(policy("copyonly-retention").inputs.retireShared, "when-unused");
        for (const account of ["111122223333", "444455556666"]) {
            const there = policy(`copyonly-${account}-retention`);
            assert.equal(there.inputs.retireShared, "when-unused", "passed to the policy in each distribute account");
            assert.equal(there.inputs.copyOnlyAccounts, undefined, "the copies there are shared only as the target says");
        }

        registered.length = 0;
        const plain = new sdk.GoldenImage("nodist", {
            baseImage: { imageId: "ami-0123456789abcdef0" },
            build: { instanceType: "t3.small" },
            region: "us-east-1",
            keepLatest: 1,
        });
        await value(plain.imageId);
        await new Promise((r) => setTimeout(r, 50));
        const inputs = policy("nodist-retention").inputs;
        assert.ok(
            !("copyOnlyAccounts" in inputs) && !("retireShared" in inputs),
            "no new inputs without distribute: no diff for existing stacks",
        );
        assert.throws(
            () =>
                new sdk.GoldenImage("noretention", {
                    baseImage: { imageId: "ami-0123456789abcdef0" },
                    build: { instanceType: "t3.small" },
                    region: "us-east-1",
                    retireShared: true,
                }),
            /GoldenImage noretention: retireShared: applies to the retention policies keepLatest makes; set keepLatest too/,
        );
    });

    it("GoldenImage distribute refuses bad targets when the program runs, naming the property and the fix", () => {
        const make = (extra: Record<string, unknown>) => () =>
            new sdk.GoldenImage("bad-dist", {
                baseImage: { imageId: "ami-0123456789abcdef0" },
                build: { instanceType: "t3.small" },
                region: "us-east-1",
                ...extra,
            } as never);
        const role = (account = "111122223333") => ({ roleArn: `arn:aws:iam::${account}:role/golden-ami` });
        assert.throws(
            make({ distribute: [{ assumeRole: { roleArn: "arn:aws:iam::1111:role/x" }, regions: ["us-east-1"] }] }),
            /distribute\[0\]\.assumeRole: roleArn must be an IAM role ARN/,
        );
        assert.throws(make({ distribute: [{ assumeRole: role(), regions: [] }] }), /distribute\[0\]\.regions: is empty/);
        assert.throws(
            make({ distribute: [{ assumeRole: role(), regions: ["us-east-1", "us-east-1"] }] }),
            /distribute\[0\]\.regions: repeats us-east-1/,
        );
        assert.throws(
            make({
                distribute: [
                    { assumeRole: role(), regions: ["us-east-1"] },
                    { assumeRole: role(), regions: ["eu-west-1"] },
                ],
            }),
            /distribute\[1\]\.assumeRole: names account 111122223333 again/,
        );
        assert.throws(
            make({
                distribute: [
                    {
                        assumeRole: role(),
                        regions: ["us-east-1"],
                        kmsKeyId: "alias/aws/ebs",
                        launchPermissions: { userIds: ["444455556666"] },
                    },
                ],
            }),
            /distribute\[0\]\.kmsKeyId: is the AWS managed key alias\/aws\/ebs/,
        );
        assert.throws(
            make({
                distribute: [
                    {
                        assumeRole: role(),
                        regions: ["us-east-1", "eu-west-1"],
                        kmsKeyId: "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                    },
                ],
            }),
            /distribute\[0\]\.kmsKeyId: is a key ARN of us-east-1, but the copies are made in us-east-1, eu-west-1/,
        );
        assert.throws(
            make({ image: { kmsKeyId: "alias/aws/ebs" }, distribute: [{ assumeRole: role(), regions: ["us-east-1"] }] }),
            /image\.kmsKeyId: is the AWS managed key/,
        );
        assert.throws(
            make({ assumeRole: role(), distribute: [{ assumeRole: role(), regions: ["us-east-1"] }] }),
            /where the image is built/,
        );
        assert.throws(
            make({ distribute: [{ assumeRole: role(), regions: ["us-east-1"], publish: { ssmParameter: "/aws/x" } }] }),
            /distribute\[0\]\.publish\.ssmParameter/,
        );
        assert.throws(
            make({ distribute: [{ assumeRole: role(), regions: ["us-east-1"], region: "x" }] }),
            /distribute\[0\]\.region: is not a distribute setting/,
        );
        assert.ok(!registered.some((x) => x.name.startsWith("bad-dist")), "nothing registered");
    });

    it("GoldenImage without copies or keepLatest makes only the bake", async () => {
        const web = new sdk.GoldenImage("solo", {
            baseImage: { imageId: "ami-0123456789abcdef0" },
            build: { instanceType: "t3.small" },
            region: "eu-west-1",
        });
        assert.deepEqual(await value(web.imageIds), { "eu-west-1": "ami-solo" });
        assert.equal(web.replicas, undefined);
        assert.equal(web.retention, undefined);
        assert.ok(!registered.some((x) => x.name.startsWith("solo-")));
    });
});

describe("resource options, secrets and automatic names (Pulumi mocks)", () => {
    it("sends snapshotTags as a copy of tags (so a secret tag stays secret), the name as automatic, and customTimeouts as limits", async () => {
        const r = new sdk.AmiFromInstance(
            "opts",
            { sourceInstanceId: "i-0123456789abcdef0", region: "us-east-1", tags: { Token: pulumi.secret("t") } },
            { customTimeouts: { create: "2h", delete: "10m" }, replaceOnChanges: ["tags.Token"] },
        );
        await value(r.imageId);
        const sent = registered.find((x) => x.name === "opts")!;
        // Pulumi's wire form of a secret: the signature key, then the value.
        assert.deepEqual(sent.inputs.snapshotTags, {
            "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
            value: { Token: "t" },
        });
        assert.equal(sent.inputs.autoNamed, true);
        assert.equal(sent.inputs.createTimeoutMinutes, 120);
        assert.equal(sent.inputs.deleteTimeoutMinutes, 10);
        assert.deepEqual(sent.inputs.replaceOnChanges, ["tags"]);
    });

    it("refuses the import option on a kind that makes images, naming ManagedAmi; ManagedAmi takes it as imageId", async () => {
        assert.throws(
            () => new sdk.AmiCopy("imp", { sourceAmiId: "ami-0123456789abcdef0", sourceAmiRegion: "us-east-1" }, { import: "ami-1" }),
            /AmiCopy imp: the import resource option cannot work.*ManagedAmi/,
        );
        const m = new sdk.ManagedAmi("adopted", { region: "us-east-1" }, { import: "ami-0123456789abcdef0" });
        await value(m.imageId);
        assert.equal(registered.find((x) => x.name === "adopted")!.inputs.imageId, "ami-0123456789abcdef0");
    });

    it("GoldenImage marks a secret script, so its build hash is stretched", async () => {
        const g = new sdk.GoldenImage("sec", {
            baseImage: { imageId: "ami-0123456789abcdef0" },
            build: { instanceType: "t3.small", userData: pulumi.secret("#!/bin/sh\npoweroff") },
            region: "eu-west-1",
        });
        await value(g.imageId);
        const bake = registered.find((x) => x.name === "sec" && x.type.endsWith(":GoldenImageBake"))!;
        assert.equal(bake.inputs.secretBuild, true);
        assert.equal(bake.inputs.autoNamed, true);
    });
});

describe("a copy of a secret is a secret (Pulumi mocks)", () => {
    // Pulumi's wire form of a secret: the engine keeps the secret bit of the output of the same key in state.
    const SECRET_SIG = { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270" };
    const sentBy = async (r: { imageId: pulumi.Output<string> } | { id: pulumi.Output<string> }, name: string, type = "") => {
        await value("imageId" in r ? r.imageId : r.id);
        return registered.find((x) => x.name === name && x.type.endsWith(type))!.inputs;
    };

    it("sends publishedParameter as a secret on every kind whose publish.ssmParameter is one, and not at all otherwise", async () => {
        const publish = { ssmParameter: pulumi.secret("/team/secret-param") };
        const kinds = {
            "sec-fi": new sdk.AmiFromInstance("sec-fi", { sourceInstanceId: "i-0123456789abcdef0", region: "us-east-1", publish }),
            "sec-copy": new sdk.AmiCopy("sec-copy", { sourceAmiId: "ami-0123456789abcdef0", sourceAmiRegion: "us-east-1", publish }),
            "sec-snap": new sdk.AmiFromSnapshot("sec-snap", {
                region: "us-east-1",
                blockDeviceMappings: [{ deviceName: "/dev/xvda", ebs: { snapshotId: "snap-0123456789abcdef0" } }],
                publish,
            }),
            "sec-managed": new sdk.ManagedAmi("sec-managed", { imageId: "ami-0123456789abcdef0", region: "us-east-1", publish }),
        };
        for (const [name, r] of Object.entries(kinds)) {
            const sent = await sentBy(r, name);
            assert.deepEqual(sent.publishedParameter, { ...SECRET_SIG, value: "/team/secret-param" }, name);
        }
        const set = new sdk.AmiReplicaSet("sec-set", {
            sourceAmiId: "ami-0123456789abcdef0",
            sourceAmiRegion: "us-east-1",
            regions: ["us-west-2"],
            publish,
        });
        await value(set.imageIds);
        assert.deepEqual(registered.find((x) => x.name === "sec-set-us-west-2")!.inputs.publishedParameter, {
            ...SECRET_SIG,
            value: "/team/secret-param",
        });
        const plain = new sdk.AmiCopy("plain-copy", {
            sourceAmiId: "ami-0123456789abcdef0",
            sourceAmiRegion: "us-east-1",
            publish: { ssmParameter: "/team/plain" },
        });
        assert.equal((await sentBy(plain, "plain-copy")).publishedParameter, undefined, "not secret: not sent (the provider writes it)");
    });

    it("GoldenImage: a secret namePrefix makes the image name secret, a secret parameter the published one", async () => {
        const g = new sdk.GoldenImage("sec-golden", {
            baseImage: { imageId: "ami-0123456789abcdef0" },
            build: { instanceType: "t3.small" },
            image: { namePrefix: pulumi.secret("hush") },
            publish: { ssmParameter: pulumi.secret("/team/hush") },
            region: "eu-west-1",
        });
        const bake = await sentBy(g, "sec-golden", ":GoldenImageBake");
        assert.deepEqual(bake.name, { ...SECRET_SIG, value: "hush-00000000" }, "a placeholder: check makes the name");
        assert.deepEqual(bake.publishedParameter, { ...SECRET_SIG, value: "/team/hush" });
        const open = new sdk.GoldenImage("open-golden", {
            baseImage: { imageId: "ami-0123456789abcdef0" },
            build: { instanceType: "t3.small" },
            image: { namePrefix: "open" },
            region: "eu-west-1",
        });
        const plain = await sentBy(open, "open-golden", ":GoldenImageBake");
        assert.equal(plain.name, undefined);
        assert.equal(plain.publishedParameter, undefined);
    });

    it("AmiRetentionPolicy: a secret selector makes pending and lastRun secret", async () => {
        const p = new sdk.AmiRetentionPolicy("sec-retention", {
            regions: ["us-east-1"],
            selector: { tags: { App: pulumi.secret("hush") } },
            keepLatest: 2,
        });
        const sent = await sentBy(p, "sec-retention");
        assert.deepEqual(sent.pending, { ...SECRET_SIG, value: "at apply" });
        assert.deepEqual(sent.lastRun, { ...SECRET_SIG, value: "at apply" });
        const open = new sdk.AmiRetentionPolicy("open-retention", {
            regions: ["us-east-1"],
            selector: { namePattern: "web-*" },
            keepLatest: 2,
        });
        const plain = await sentBy(open, "open-retention");
        assert.equal(plain.pending, undefined);
    });
});

describe("publish and regions wiring (Pulumi mocks)", () => {
    it("sends publish with the resource that publishes, so its parameter carries that mark", async () => {
        const r = new sdk.AmiCopy("pub", {
            sourceAmiId: "ami-0123456789abcdef0",
            sourceAmiRegion: "us-east-1",
            region: "us-west-2",
            publish: { ssmParameter: pulumi.output("/golden/web/latest"), tier: "Advanced" },
        });
        await value(r.imageId);
        const sent = registered.find((x) => x.name === "pub")!;
        assert.deepEqual(sent.inputs.publish, {
            ssmParameter: "/golden/web/latest",
            tier: "Advanced",
            owner: "project/stack/AmiCopy/pub",
        });
        assert.ok("publishedParameter" in r);
    });

    it("AmiReplicaSet refuses regions known only later (children must be known when the program runs)", () => {
        assert.throws(
            () =>
                new sdk.AmiReplicaSet("late", {
                    sourceAmiId: "ami-0123456789abcdef0",
                    sourceAmiRegion: "us-east-1",
                    regions: pulumi.output(["us-west-2"]) as never,
                }),
            /regions: must be a list of region names known when the program runs/,
        );
    });
});
