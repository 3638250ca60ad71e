import {
    CopyImageCommand,
    CreateTagsCommand,
    DeleteSnapshotCommand,
    DeleteTagsCommand,
    DeregisterImageCommand,
    DescribeImagesCommand,
    EC2Client,
    Image,
    ModifyImageAttributeCommand,
} from "@aws-sdk/client-ec2";
import { mockClient } from "aws-sdk-client-mock";
import fc from "fast-check";
import assert from "node:assert/strict";
import * as sinon from "sinon";
import * as hooks from "../../dynamic-providers/ami-copy-hooks";
import { checkAmiCopyInputs } from "../../sdk/validation";
import { ec2Error } from "../support/aws-errors";
import { nothingUsesImages } from "../support/no-references";

// Moto ignores CopyImage's ClientToken, Encrypted/KmsKeyId and CopyImageTags,
// and never fails a copy: those paths are covered here.
const ec2 = mockClient(EC2Client);
const COPY = "ami-0aaaaaaaaaaaaaaa1";
const SOURCE = "ami-0bbbbbbbbbbbbbbb2";
const SNAP = "snap-0ccccccccccccccc3";

const inputs = {
    sourceAmiId: SOURCE,
    sourceAmiRegion: "us-east-1",
    region: "us-west-2",
    name: "web-dr",
    encrypted: false,
    copyImageTags: false,
    tags: { App: "web" },
    snapshotTags: { App: "web" },
    deleteSnapshotsOnDestroy: true,
    deregistrationProtection: false,
};

function image(overrides: Partial<Image> = {}): Image {
    return {
        ImageId: COPY,
        Name: "web-dr",
        State: "available",
        OwnerId: "111122223333",
        RootDeviceName: "/dev/xvda",
        BlockDeviceMappings: [{ DeviceName: "/dev/xvda", Ebs: { SnapshotId: SNAP } }],
        Tags: [{ Key: "App", Value: "web" }],
        ...overrides,
    };
}

describe("AmiCopy provider hooks", () => {
    let log: sinon.SinonStub;
    before(() => {
        process.env.GOLDEN_AMI_POLL_SCALE = "0.001";
    });
    after(() => {
        delete process.env.GOLDEN_AMI_POLL_SCALE;
    });
    beforeEach(() => {
        ec2.reset();
        nothingUsesImages(ec2);
        log = sinon.stub(console, "log");
    });
    afterEach(() => log.restore());

    describe("check", () => {
        it("refuses kmsKeyId without encrypted: true, saying how to fix it", () => {
            const f = checkAmiCopyInputs({ ...inputs, kmsKeyId: "alias/dr" });
            assert.deepEqual(
                f.map((x) => x.property),
                ["kmsKeyId"],
            );
            assert.match(f[0].reason, /set encrypted: true/);
            assert.deepEqual(checkAmiCopyInputs({ ...inputs, encrypted: true, kmsKeyId: "alias/dr" }), []);
        });
        it("refuses a malformed source AMI id, a missing source region and a malformed key", () => {
            const f = checkAmiCopyInputs({
                ...inputs,
                sourceAmiId: "web",
                sourceAmiRegion: undefined,
                encrypted: true,
                kmsKeyId: "my key",
            });
            assert.deepEqual(f.map((x) => x.property).sort(), ["kmsKeyId", "sourceAmiId", "sourceAmiRegion"]);
        });
        it("refuses a copy into the source region under the source's own name", async () => {
            ec2.on(DescribeImagesCommand).resolves({ Images: [image({ ImageId: SOURCE, Name: "web-dr" })] });
            const r = await hooks.check({}, { ...inputs, region: "us-east-1" });
            assert.equal(r.failures?.[0].property, "name");
            assert.match(r.failures![0].reason, /name of the source AMI/);
        });
        it("reads a new source at preview and refuses one that does not exist, naming sourceAmiId and the fix", async () => {
            ec2.on(DescribeImagesCommand).rejects(ec2Error("InvalidAMIID.NotFound"));
            const r = await hooks.check({}, inputs);
            assert.deepEqual(
                r.failures?.map((f) => f.property),
                ["sourceAmiId"],
            );
            assert.match(r.failures![0].reason, /does not exist in us-east-1.*set sourceAmiId to an available AMI/);
        });
        it("with assumeRole, says the source may be another account's not shared with the role's account", async () => {
            ec2.on(DescribeImagesCommand).rejects(ec2Error("InvalidAMIID.NotFound"));
            const r = await hooks.check({}, { ...inputs, assumeRole: { roleArn: "arn:aws:iam::111122223333:role/golden-ami" } });
            assert.match(r.failures![0].reason, /not shared with account 111122223333.*add a launch permission for this account/);
        });
        it("accepts an existing source, and leaves an unreachable EC2 for up to report", async () => {
            ec2.on(DescribeImagesCommand).resolves({ Images: [image({ ImageId: SOURCE, Name: "web" })] });
            assert.deepEqual((await hooks.check({}, inputs)).failures, []);
            ec2.reset();
            ec2.on(DescribeImagesCommand).rejects(ec2Error("UnauthorizedOperation"));
            assert.deepEqual((await hooks.check({}, inputs)).failures, []);
        });
        it("makes no EC2 call for an unchanged copy to another region (preview of a steady stack)", async () => {
            const r = await hooks.check(inputs, inputs);
            assert.deepEqual(r.failures, []);
            assert.equal(ec2.calls().length, 0);
        });
        it("makes no EC2 call for an unchanged copy in the source's region: a source no longer shared does not break the stack", async () => {
            ec2.on(DescribeImagesCommand).rejects(ec2Error("InvalidAMIID.NotFound"));
            const same = { ...inputs, region: "us-east-1", assumeRole: { roleArn: "arn:aws:iam::111122223333:role/golden-ami" } };
            assert.deepEqual((await hooks.check(same, same)).failures, []);
            assert.equal(ec2.calls().length, 0);
            // A new name in the source's region is still read against the source's name.
            await hooks.check(same, { ...same, name: "web-dr-2" });
            assert.equal(ec2.calls().length > 0, true);
        });
    });

    describe("idempotency token", () => {
        it("is the same for the same resource and inputs, and fits EC2's 64 characters", () => {
            fc.assert(
                fc.property(fc.string(), fc.string(), fc.boolean(), (name, kms, encrypted) => {
                    const a = hooks.copyClientToken({ ...inputs, name, kmsKeyId: kms, encrypted });
                    const b = hooks.copyClientToken({ ...inputs, name, kmsKeyId: kms, encrypted });
                    return a === b && a.length <= 64;
                }),
            );
        });
        it("differs when an identity input differs", () => {
            const base = hooks.copyClientToken(inputs);
            for (const change of [
                { name: "other" },
                { region: "eu-west-1" },
                { sourceAmiId: "ami-0ddddddddddddddd4" },
                { encrypted: true },
            ]) {
                assert.notEqual(hooks.copyClientToken({ ...inputs, ...change }), base, JSON.stringify(change));
            }
        });
        it("is what CopyImage is called with, so a re-run asks for the same copy", async () => {
            ec2.on(CopyImageCommand).resolves({ ImageId: COPY });
            ec2.on(DescribeImagesCommand).resolves({ Images: [image()] });
            await hooks.create(inputs);
            await hooks.create(inputs);
            const tokens = ec2.commandCalls(CopyImageCommand).map((c) => c.args[0].input.ClientToken);
            assert.equal(tokens.length, 2);
            assert.equal(tokens[0], tokens[1]);
            assert.equal(tokens[0], hooks.copyClientToken(inputs));
        });
        it("reads a copy available at first sight once: CopyImage and one DescribeImages", async () => {
            ec2.on(CopyImageCommand).resolves({ ImageId: COPY });
            ec2.on(DescribeImagesCommand).resolves({ Images: [image()] });
            const r = await hooks.create(inputs);
            assert.equal(r.id, COPY);
            assert.equal(ec2.commandCalls(CopyImageCommand).length, 1);
            assert.equal(ec2.commandCalls(DescribeImagesCommand).length, 1);
        });
        it("asks for a new copy when the token's earlier copy was destroyed", async () => {
            ec2.on(CopyImageCommand, { ClientToken: hooks.copyClientToken(inputs) } as never).resolves({
                ImageId: "ami-0eeeeeeeeeeeeeee5",
            });
            ec2.on(CopyImageCommand, { ClientToken: hooks.copyClientToken(inputs, "ami-0eeeeeeeeeeeeeee5") } as never).resolves({
                ImageId: COPY,
            });
            ec2.on(DescribeImagesCommand, { ImageIds: ["ami-0eeeeeeeeeeeeeee5"] } as never).resolves({
                Images: [image({ ImageId: "ami-0eeeeeeeeeeeeeee5", State: "deregistered" })],
            });
            ec2.on(DescribeImagesCommand, { ImageIds: [COPY] } as never).resolves({ Images: [image()] });
            const r = await hooks.create(inputs);
            assert.equal(r.id, COPY);
        });
    });

    describe("exactly one copy", () => {
        const GONE = "ami-0eeeeeeeeeeeeeee5";
        const GONE2 = "ami-0fffffffffffffff6";
        const copies = () => ec2.commandCalls(CopyImageCommand).map((c) => c.args[0].input.ClientToken);
        it("waits out InvalidAMIID.NotFound right after CopyImage instead of copying again", async () => {
            ec2.on(CopyImageCommand).resolves({ ImageId: COPY });
            ec2.on(DescribeImagesCommand)
                .rejectsOnce(ec2Error("InvalidAMIID.NotFound"))
                .rejectsOnce(ec2Error("InvalidAMIID.NotFound"))
                .resolvesOnce({ Images: [] })
                .resolves({ Images: [image()] });
            const r = await hooks.create(inputs);
            assert.equal(r.id, COPY);
            assert.deepEqual(copies(), [hooks.copyClientToken(inputs)]);
        });
        it("walks past every destroyed copy its tokens hand back, so a token is never stuck", async () => {
            const t0 = hooks.copyClientToken(inputs);
            const t1 = hooks.copyClientToken(inputs, GONE);
            const t2 = hooks.copyClientToken(inputs, GONE2);
            ec2.on(CopyImageCommand, { ClientToken: t0 } as never).resolves({ ImageId: GONE });
            ec2.on(CopyImageCommand, { ClientToken: t1 } as never).resolves({ ImageId: GONE2 });
            ec2.on(CopyImageCommand, { ClientToken: t2 } as never).resolves({ ImageId: COPY });
            // the first destroyed copy is long forgotten (not found past the window), the second still answers deregistered
            ec2.on(DescribeImagesCommand, { ImageIds: [GONE] } as never).rejects(ec2Error("InvalidAMIID.NotFound"));
            ec2.on(DescribeImagesCommand, { ImageIds: [GONE2] } as never).resolves({
                Images: [image({ ImageId: GONE2, State: "deregistered" })],
            });
            ec2.on(DescribeImagesCommand, { ImageIds: [COPY] } as never).resolves({ Images: [image()] });
            const r = await hooks.create(inputs);
            assert.equal(r.id, COPY);
            assert.deepEqual(copies(), [t0, t1, t2]);
            assert.equal(new Set([t0, t1, t2]).size, 3);
        });
        it("copies again when a stale read showed the token's destroyed copy available and its snapshots are gone", async () => {
            const t0 = hooks.copyClientToken(inputs);
            const t1 = hooks.copyClientToken(inputs, GONE);
            const GONE_SNAP = "snap-0ddddddddddddddd4";
            ec2.on(CopyImageCommand, { ClientToken: t0 } as never).resolves({ ImageId: GONE });
            ec2.on(CopyImageCommand, { ClientToken: t1 } as never).resolves({ ImageId: COPY });
            // A read from before the deregistration first, then the truth.
            ec2.on(DescribeImagesCommand, { ImageIds: [GONE] } as never)
                .resolvesOnce({
                    Images: [image({ ImageId: GONE, BlockDeviceMappings: [{ DeviceName: "/dev/xvda", Ebs: { SnapshotId: GONE_SNAP } }] })],
                })
                .resolves({ Images: [image({ ImageId: GONE, State: "deregistered" })] });
            ec2.on(DescribeImagesCommand, { ImageIds: [COPY] } as never).resolves({ Images: [image()] });
            ec2.on(CreateTagsCommand).callsFake((input: { Resources?: string[] }) => {
                if (input.Resources?.includes(GONE_SNAP)) throw ec2Error("InvalidSnapshot.NotFound");
                return {};
            });
            const r = await hooks.create(inputs);
            assert.equal(r.id, COPY);
            assert.deepEqual(copies(), [t0, t1]);
        });
        it("keeps a copy whose snapshots a tag call cannot find while EC2 still says it is alive (the error stands)", async () => {
            ec2.on(CopyImageCommand).resolves({ ImageId: COPY });
            ec2.on(DescribeImagesCommand).resolves({ Images: [image()] });
            ec2.on(CreateTagsCommand).callsFake((input: { Resources?: string[] }) => {
                if (input.Resources?.includes(SNAP)) throw ec2Error("InvalidSnapshot.NotFound");
                return {};
            });
            await assert.rejects(hooks.create(inputs), /InvalidSnapshot\.NotFound/);
            assert.equal(ec2.commandCalls(CopyImageCommand).length, 1, "no second copy while the first is alive");
        });
        it("finishes a copy taken for destroyed that was only slow to appear, instead of leaving it out of state", async () => {
            const t0 = hooks.copyClientToken(inputs);
            ec2.on(CopyImageCommand, { ClientToken: t0 } as never).resolves({ ImageId: COPY });
            ec2.on(CopyImageCommand, { ClientToken: hooks.copyClientToken(inputs, COPY) } as never).rejects(
                ec2Error("InvalidAMIName.Duplicate"),
            );
            // invisible for the whole window, then there under its name
            ec2.on(DescribeImagesCommand, { ImageIds: [COPY] } as never)
                .rejectsOnce(ec2Error("InvalidAMIID.NotFound"))
                .rejects(ec2Error("InvalidAMIID.NotFound"));
            ec2.on(DescribeImagesCommand, { Owners: ["self"] } as never).callsFake(() => {
                ec2.on(DescribeImagesCommand, { ImageIds: [COPY] } as never).resolves({ Images: [image()] });
                return { Images: [image()] };
            });
            const r = await hooks.create(inputs);
            assert.equal(r.id, COPY);
            assert.equal(copies().length, 2, "no third copy");
        });
        it("moves to the next token on IdempotentParameterMismatch when no copy of that name is alive, and makes one copy", async () => {
            const t0 = hooks.copyClientToken(inputs);
            ec2.on(CopyImageCommand, { ClientToken: t0 } as never).rejects(ec2Error("IdempotentParameterMismatch"));
            ec2.on(CopyImageCommand, { ClientToken: hooks.copyClientToken(inputs, `IdempotentParameterMismatch:${t0}`) } as never).resolves(
                {
                    ImageId: COPY,
                },
            );
            ec2.on(DescribeImagesCommand, { Owners: ["self"] } as never).resolves({ Images: [] });
            ec2.on(DescribeImagesCommand, { ImageIds: [COPY] } as never).resolves({ Images: [image()] });
            const r = await hooks.create(inputs);
            assert.equal(r.id, COPY);
            assert.equal(copies().length, 2);
            // a re-run takes the same path to the same copy
            ec2.resetHistory();
            assert.equal((await hooks.create(inputs)).id, COPY);
            assert.deepEqual(copies()[1], hooks.copyClientToken(inputs, `IdempotentParameterMismatch:${t0}`));
        });
        it("adopts the live copy an interrupted run made when the inputs changed since (IdempotentParameterMismatch), never a second", async () => {
            ec2.on(CopyImageCommand).rejects(ec2Error("IdempotentParameterMismatch"));
            ec2.on(DescribeImagesCommand, { Owners: ["self"] } as never).resolves({
                Images: [image({ SourceImageId: SOURCE, Description: "old", Tags: [{ Key: "App", Value: "old" }] })],
            });
            ec2.on(DescribeImagesCommand, { ImageIds: [COPY] } as never).resolves({ Images: [image({ Description: "old" })] });
            ec2.on(ModifyImageAttributeCommand).resolves({});
            ec2.on(CreateTagsCommand).resolves({});
            const r = await hooks.create({ ...inputs, description: "new" });
            assert.equal(r.id, COPY);
            assert.equal(copies().length, 1, "no second CopyImage");
            assert.equal(ec2.commandCalls(ModifyImageAttributeCommand)[0].args[0].input.Description?.Value, "new");
            // a copy of another source under the name is not ours
            ec2.reset();
            ec2.on(CopyImageCommand).rejects(ec2Error("IdempotentParameterMismatch"));
            ec2.on(DescribeImagesCommand, { Owners: ["self"] } as never).resolves({
                Images: [image({ SourceImageId: "ami-0ddddddddddddddd4" })],
            });
            await assert.rejects(hooks.create(inputs), /IdempotentParameterMismatch/);
        });
        it("fails with the fix when every token in a row mismatches", async () => {
            ec2.on(CopyImageCommand).rejects(ec2Error("IdempotentParameterMismatch"));
            ec2.on(DescribeImagesCommand).resolves({ Images: [] });
            await assert.rejects(
                hooks.create(inputs),
                /client tokens in a row were used before with other parameters.*change the copy's description or name.*IdempotentParameterMismatch/,
            );
            assert.equal(copies().length, 4);
        });
        it("keeps the token when only in-place inputs change (description, tags), so an upgrade or an update never copies again", () => {
            const base = hooks.copyClientToken(inputs);
            for (const change of [{ description: "other" }, { copyImageTags: true }, { tags: { App: "api" } }]) {
                assert.equal(hooks.copyClientToken({ ...inputs, ...change }), base, JSON.stringify(change));
            }
        });
    });

    describe("create", () => {
        it("copies with encryption and the key, in the destination region", async () => {
            ec2.on(CopyImageCommand).resolves({ ImageId: COPY });
            ec2.on(DescribeImagesCommand).resolves({ Images: [image()] });
            const r = await hooks.create({ ...inputs, encrypted: true, kmsKeyId: "alias/dr" });
            const req = ec2.commandCalls(CopyImageCommand)[0].args[0].input;
            assert.equal(req.Encrypted, true);
            assert.equal(req.KmsKeyId, "alias/dr");
            assert.equal(req.SourceRegion, "us-east-1");
            assert.equal(await ec2.commandCalls(CopyImageCommand)[0].thisValue.config.region(), "us-west-2");
            assert.equal(r.outs.sourceAmiId, SOURCE);
            assert.equal(r.outs.arn, `arn:aws:ec2:us-west-2::image/${COPY}`);
        });
        it("removes a copy that failed on an unusable KMS key and reports EC2's reason", async () => {
            ec2.on(CopyImageCommand).resolves({ ImageId: COPY });
            ec2.on(DescribeImagesCommand).resolves({
                Images: [
                    image({
                        State: "failed",
                        StateReason: {
                            Code: "Client.InvalidKMSKey.InvalidState",
                            Message: "The KMS key provided is in an incorrect state",
                        },
                    }),
                ],
            });
            ec2.on(DeregisterImageCommand).resolves({});
            ec2.on(DeleteSnapshotCommand).resolves({});
            await assert.rejects(hooks.create({ ...inputs, encrypted: true, kmsKeyId: "alias/disabled" }), (e: Error & { id?: string }) => {
                assert.match(
                    e.message,
                    /copying AMI ami-0bbbbbbbbbbbbbbb2 \(us-east-1\) to us-west-2 as \(web-dr\): waiting for completion/,
                );
                assert.match(e.message, /KMS key provided is in an incorrect state/);
                assert.equal(e.id, undefined, "nothing recorded in state");
                return true;
            });
            assert.equal(ec2.commandCalls(DeregisterImageCommand).length, 1);
        });
        it("prints progress while a long copy is pending", async () => {
            process.env.GOLDEN_AMI_POLL_SCALE = "0.0001";
            try {
                ec2.on(CopyImageCommand).resolves({ ImageId: COPY });
                const pending = { Images: [image({ State: "pending" })] };
                ec2.on(DescribeImagesCommand)
                    .resolvesOnce({ Images: [image({ State: "pending" })] })
                    .resolvesOnce(pending)
                    .resolvesOnce(pending)
                    .resolvesOnce(pending)
                    .resolvesOnce(pending)
                    .resolves({ Images: [image()] });
                await hooks.create(inputs);
            } finally {
                process.env.GOLDEN_AMI_POLL_SCALE = "0.001";
            }
            assert.ok(
                log.getCalls().some((c) => /copying AMI .*: ami-0aaaaaaaaaaaaaaa1 pending for \d+s/.test(String(c.args[0]))),
                log
                    .getCalls()
                    .map((c) => c.args[0])
                    .join("\n"),
            );
        });
        it("keeps the source's tags when copyImageTags is set, with tags on top, and shows no diff afterwards", async () => {
            ec2.on(DescribeImagesCommand, { ImageIds: [SOURCE] } as never).resolves({
                Images: [
                    image({
                        ImageId: SOURCE,
                        Tags: [
                            { Key: "Team", Value: "core" },
                            { Key: "App", Value: "old" },
                        ],
                    }),
                ],
            });
            ec2.on(CopyImageCommand).resolves({ ImageId: COPY });
            ec2.on(DescribeImagesCommand, { ImageIds: [COPY] } as never).resolves({ Images: [image({ Tags: [] })] });
            ec2.on(CreateTagsCommand).resolves({});
            const r = await hooks.create({ ...inputs, copyImageTags: true });
            assert.deepEqual(r.outs.tags, { Team: "core", App: "web" });
            assert.deepEqual(ec2.commandCalls(CreateTagsCommand)[0].args[0].input.Tags, [
                { Key: "Team", Value: "core" },
                { Key: "App", Value: "web" },
            ]);
            assert.equal(ec2.commandCalls(DeleteTagsCommand).length, 0);
            const d = await hooks.diff(COPY, r.outs as never, { ...inputs, copyImageTags: true });
            assert.equal(d.changes, false);
        });
    });

    describe("diff", () => {
        const olds = { ...inputs, imageId: COPY, snapshotIds: [SNAP] } as never;
        for (const [key, value] of [
            ["sourceAmiId", "ami-0ddddddddddddddd4"],
            ["sourceAmiRegion", "eu-west-1"],
            ["region", "eu-central-1"],
            ["name", "web-dr-2"],
            ["encrypted", true],
            ["kmsKeyId", "alias/dr"],
        ] as const) {
            it(`replaces the copy when ${key} changes`, async () => {
                const d = await hooks.diff(COPY, olds, { ...inputs, [key]: value });
                assert.deepEqual(d.replaces, [key]);
            });
        }
        for (const [key, value] of [
            ["tags", { App: "api" }],
            ["description", "dr copy"],
            ["deprecationTime", "2030-01-01T00:00:00Z"],
            ["deregistrationProtection", true],
            ["launchPermissions", { userIds: ["111122223333"] }],
        ] as const) {
            it(`updates the copy in place when ${key} changes`, async () => {
                const d = await hooks.diff(COPY, olds, { ...inputs, [key]: value });
                assert.equal(d.changes, true);
                assert.deepEqual(d.replaces, []);
            });
        }
    });
});
