// Image kinds are described once: identity, defaults and rules drive names,
// tokens, check and diff. These pin what must never move.
import {
    CreateTagsCommand,
    DeleteSnapshotCommand,
    DeleteTagsCommand,
    DeregisterImageCommand,
    DescribeImagesCommand,
    DescribeSnapshotsCommand,
    EC2Client,
    Image,
} from "@aws-sdk/client-ec2";
import { mockClient } from "aws-sdk-client-mock";
import fc from "fast-check";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import sinon from "sinon";
import { copyClientToken } from "../../dynamic-providers/ami-copy-hooks";
import { REPLACE_KEYS as FROM_INSTANCE_REPLACES } from "../../dynamic-providers/ami-from-instance-hooks";
import { describeImagesById } from "../../dynamic-providers/ec2/inventory";
import { REPLACE_KEYS as MANAGED_REPLACES } from "../../dynamic-providers/managed-ami-hooks";
import { descriptor as amiCopy } from "../../sdk/ami-copy";
import { descriptor as amiFromInstance } from "../../sdk/ami-from-instance";
import { applyInitialSettings, removeResourceImage, imageHooks } from "../../dynamic-providers/image-hooks";
import { sweepRegion } from "../../dynamic-providers/ec2/sweeper";
import { applyPlan } from "../../dynamic-providers/retention-retirement";
import { toRetentionImage } from "../../dynamic-providers/ec2/converters";
import { withImageDefaults } from "../../dynamic-providers/image-planning";
import { hooksModule, identityValues, ImageKind, snapshotsOwned } from "../../sdk/image-kind";
import { imageMark } from "../../sdk/ownership";
import type { ImageInputs } from "../../sdk/types";
import { IMAGE_KINDS } from "../../sdk/image-kind-registry";
import { checkImageKindInputs } from "../../sdk/rules/image";
import { runRules } from "../../sdk/rules/runner";
import { booleanRule } from "../../sdk/rules/primitives";
import { ec2Error } from "../support/aws-errors";
import { nothingUsesImages } from "../support/no-references";

describe("image kind descriptors", () => {
    it("keep AmiCopy's idempotency token as every earlier release computed it (a changed token would copy again)", () => {
        const before = (i: Record<string, unknown>, salt = "") =>
            `golden-ami-${createHash("sha256")
                .update(JSON.stringify([i.name, i.sourceAmiId, i.sourceAmiRegion, i.region, !!i.encrypted, i.kmsKeyId ?? "", salt]))
                .digest("hex")
                .slice(0, 52)}`;
        fc.assert(
            fc.property(
                fc.record({
                    name: fc.string({ minLength: 3 }),
                    sourceAmiId: fc.constantFrom("ami-0123456789abcdef0", "ami-12345678"),
                    sourceAmiRegion: fc.constantFrom("us-east-1", "eu-west-1"),
                    region: fc.constantFrom("us-west-2", "us-east-1"),
                    encrypted: fc.option(fc.boolean(), { nil: undefined }),
                    kmsKeyId: fc.option(fc.constantFrom("alias/dr", "mrk-0123456789abcdef0123456789abcdef"), { nil: undefined }),
                }),
                fc.string(),
                (inputs, salt) => {
                    assert.equal(copyClientToken(inputs as never, salt), before(inputs, salt));
                },
            ),
        );
    });

    it("hash the same identity for automatic names as before (a changed name would replace every image)", () => {
        const inputs = { sourceInstanceId: "i-0123456789abcdef0", region: "us-east-1", name: "ignored" };
        assert.deepEqual(identityValues(amiFromInstance, inputs), ["i-0123456789abcdef0", false, [], "us-east-1"]);
        const copy = { sourceAmiId: "ami-0123456789abcdef0", sourceAmiRegion: "us-east-1", region: "us-west-2" };
        assert.deepEqual(identityValues(amiCopy, copy), ["ami-0123456789abcdef0", "us-east-1", "us-west-2", false, ""]);
    });

    it("replace on exactly their identity", () => {
        assert.deepEqual(FROM_INSTANCE_REPLACES, ["sourceInstanceId", "name", "snapshotWithoutReboot", "blockDeviceMappings", "region"]);
        assert.deepEqual(MANAGED_REPLACES, ["imageId", "region"]);
    });
});

describe("rule runner", () => {
    const now = new Date();
    it("runs entries in order: required, field rules, relations skipped once their property failed", () => {
        const table = [
            { property: "a", rule: booleanRule, required: "is required" },
            { property: "b", rule: booleanRule },
            { property: "b", unlessFailed: true, relation: () => "never reached when b failed" },
            { property: "c", relation: ({ news }: { news: Record<string, unknown> }) => (news.c === 1 ? "is one" : undefined) },
        ];
        assert.deepEqual(
            runRules(table, { news: { b: "x", c: 1 }, olds: undefined, now }).map((f) => f.reason),
            ["a: is required", 'b: must be true or false, got "x"', "c: is one"],
        );
        assert.deepEqual(
            runRules(table, { news: { a: true, b: true }, olds: undefined, now }).map((f) => f.reason),
            ["b: never reached when b failed"],
        );
    });
});

describe("inventory re-check by id", () => {
    const ec2 = mockClient(EC2Client);
    beforeEach(() => ec2.reset());

    it("counts only not-found as gone: throttling while asking one by one fails the re-check", async () => {
        ec2.on(DescribeImagesCommand, { ImageIds: ["ami-0123456789abcdef0", "ami-0123456789abcdef1"] }).rejects(
            ec2Error("InvalidAMIID.NotFound"),
        );
        ec2.on(DescribeImagesCommand, { ImageIds: ["ami-0123456789abcdef0"] }).rejects(ec2Error("InvalidAMIID.NotFound"));
        ec2.on(DescribeImagesCommand, { ImageIds: ["ami-0123456789abcdef1"] }).rejects(ec2Error("RequestLimitExceeded"));
        await assert.rejects(
            describeImagesById(new EC2Client({ region: "us-east-1" }), "us-east-1", ["ami-0123456789abcdef0", "ami-0123456789abcdef1"]),
            /RequestLimitExceeded/,
        );
    });

    it("still skips an image EC2 does not know", async () => {
        ec2.on(DescribeImagesCommand, { ImageIds: ["ami-0123456789abcdef0", "ami-0123456789abcdef1"] }).rejects(
            ec2Error("InvalidAMIID.NotFound"),
        );
        ec2.on(DescribeImagesCommand, { ImageIds: ["ami-0123456789abcdef0"] }).rejects(ec2Error("InvalidAMIID.NotFound"));
        ec2.on(DescribeImagesCommand, { ImageIds: ["ami-0123456789abcdef1"] }).resolves({
            Images: [{ ImageId: "ami-0123456789abcdef1", State: "available", Name: "web" }],
        });
        const found = await describeImagesById(new EC2Client({ region: "us-east-1" }), "us-east-1", [
            "ami-0123456789abcdef0",
            "ami-0123456789abcdef1",
        ]);
        assert.deepEqual([...found.keys()], ["ami-0123456789abcdef1"]);
    });
});

const ROOT = path.join(__dirname, "..", "..");

describe("the registry of image kinds", () => {
    it("lists every kind that has a provider object (sdk/providers/*), each once", () => {
        const withProvider = fs
            .readdirSync(path.join(ROOT, "sdk", "providers"))
            .map((f) => /imageProvider\("([^"]+)"\)/.exec(fs.readFileSync(path.join(ROOT, "sdk", "providers", f), "utf8"))?.[1])
            .filter((m): m is string => !!m)
            .sort();
        assert.deepEqual(
            IMAGE_KINDS.map((k) => k.module)
                .filter((m) => withProvider.includes(m))
                .sort(),
            withProvider,
        );
        assert.equal(new Set(IMAGE_KINDS.map((k) => k.type)).size, IMAGE_KINDS.length);
        assert.equal(new Set(IMAGE_KINDS.map((k) => k.module)).size, IMAGE_KINDS.length);
    });

    for (const kind of IMAGE_KINDS) {
        describe(kind.type, () => {
            it(`lives where its module says: sdk/${kind.module}.ts (descriptor), sdk/providers/${kind.module}.ts (provider object), dynamic-providers/${kind.module}-hooks.ts (create, read, update, delete)`, () => {
                // eslint-disable-next-line @typescript-eslint/no-require-imports
                assert.equal(require(path.join(ROOT, "sdk", kind.module)).descriptor, kind);
                // eslint-disable-next-line @typescript-eslint/no-require-imports
                const provider = require(path.join(ROOT, "sdk", "providers", kind.module));
                for (const hook of ["check", "diff", "create", "read", "update", "delete"])
                    assert.equal(typeof provider[hook], "function", hook);
                // eslint-disable-next-line @typescript-eslint/no-require-imports
                const impl = require(path.join(ROOT, "dynamic-providers", hooksModule(kind.module)));
                for (const hook of ["create", "read", "update", "delete"]) assert.equal(typeof impl[hook], "function", hook);
            });

            it("has an example that passes its own and the shared check rules", () => {
                assert.deepEqual(checkImageKindInputs(kind, { ...kind.example } as never, undefined), []);
            });

            it("writes each identity input once, and each default once (the kind's defaults, not again in the identity)", () => {
                const keys = kind.identity.map((i) => i.key);
                assert.equal(new Set(keys).size, keys.length);
                const defaults = kind.defaults as Record<string, unknown>;
                assert.deepEqual(
                    kind.identity.filter((i) => i.default !== undefined && i.key in defaults).map((i) => i.key),
                    [],
                );
            });

            it(`${kind.ownsSnapshots ? "owns" : "does not own"} its snapshots: snapshot tags follow the image's only when owned, destroy deletes them only when owned`, () => {
                const inputs: Partial<ImageInputs> = withImageDefaults<Partial<ImageInputs>>(
                    { region: "us-east-1", tags: { App: "web" } },
                    kind,
                );
                assert.equal(inputs.deleteSnapshotsOnDestroy, kind.ownsSnapshots);
                assert.deepEqual(inputs.snapshotTags, kind.ownsSnapshots ? { App: "web" } : undefined);
                const given = withImageDefaults<Partial<ImageInputs>>(
                    { region: "us-east-1", tags: { App: "web" }, deleteSnapshotsOnDestroy: true },
                    kind,
                );
                assert.deepEqual(given.snapshotTags, { App: "web" }, "deleteSnapshotsOnDestroy: true makes them the resource's own");
            });
        });
    }
});

describe("snapshot ownership on every path, per kind", () => {
    const ec2 = mockClient(EC2Client);
    const IMAGE = "ami-0123456789abcdef0";
    const SNAP = "snap-0123456789abcdef0";
    const image: Image = {
        ImageId: IMAGE,
        Name: "web-1",
        State: "available",
        OwnerId: "111122223333",
        CreationDate: "2026-01-01T00:00:00.000Z",
        RootDeviceName: "/dev/xvda",
        BlockDeviceMappings: [{ DeviceName: "/dev/xvda", Ebs: { SnapshotId: SNAP } }],
        Tags: [{ Key: "App", Value: "web" }],
    };
    let log: sinon.SinonStub;
    beforeEach(() => {
        ec2.reset();
        nothingUsesImages(ec2);
        log = sinon.stub(console, "log");
    });
    afterEach(() => log.restore());

    const state = (kind: ImageKind<any>, extra: Record<string, unknown> = {}) =>
        ({
            ...withImageDefaults({ region: "us-east-1", name: "web-1", tags: { App: "web" }, ...extra }, kind),
            imageId: IMAGE,
            snapshotIds: [SNAP],
        }) as never;

    for (const kind of IMAGE_KINDS) {
        it(`${kind.type}: destroy ${kind.ownsSnapshots ? "deletes" : "keeps"} the snapshots by default`, async () => {
            ec2.on(DeregisterImageCommand).resolves({});
            ec2.on(DeleteSnapshotCommand).resolves({});
            await removeResourceImage(IMAGE, state(kind), kind);
            assert.equal(ec2.commandCalls(DeregisterImageCommand).length, 1);
            assert.equal(ec2.commandCalls(DeleteSnapshotCommand).length, kind.ownsSnapshots ? 1 : 0);
        });

        it(`${kind.type}: update ${kind.ownsSnapshots ? "retags" : "never retags"} the snapshots when the snapshot tags change`, async () => {
            ec2.on(DescribeImagesCommand).resolves({ Images: [image] });
            ec2.on(DescribeSnapshotsCommand).resolves({ Snapshots: [{ SnapshotId: SNAP, Tags: [{ Key: "Owner", Value: "me" }] }] });
            ec2.on(CreateTagsCommand).resolves({});
            ec2.on(DeleteTagsCommand).resolves({});
            const olds = state(kind, { snapshotTags: { App: "web" } });
            const news = { ...(olds as object), snapshotTags: { App: "web2" } } as never;
            const update = imageHooks(kind, async () => ({ id: IMAGE })).update;
            await update(IMAGE, olds, news);
            const snapshotCalls = [...ec2.commandCalls(CreateTagsCommand), ...ec2.commandCalls(DeleteTagsCommand)].filter((c) =>
                c.args[0].input.Resources?.includes(SNAP),
            );
            assert.equal(snapshotCalls.length > 0, snapshotsOwned(kind, news));
        });
    }
});

describe("snapshot ownership when retention or the sweeper retires an image, per kind", () => {
    const ec2 = mockClient(EC2Client);
    const client = new EC2Client({ region: "us-east-1" });
    const IMAGE = "ami-0123456789abcdef1";
    const SNAP = "snap-0123456789abcdef1";
    let log: sinon.SinonStub;
    beforeEach(() => {
        ec2.reset();
        nothingUsesImages(ec2);
        log = sinon.stub(console, "log");
    });
    afterEach(() => log.restore());

    /** What the kind's create leaves in EC2: the image's and its snapshot's tags, as applyInitialSettings sets them. */
    async function madeBy(kind: ImageKind<any>, deleteSnapshotsOnDestroy: boolean | undefined): Promise<Image> {
        const inputs = withImageDefaults(
            {
                region: "us-east-1",
                name: "web-1",
                tags: { App: "web" },
                // The mark: every kind that creates its image (sdk/image-args.ts); an adopted image (ManagedAmi) never gets one.
                ...(kind.name === "input" ? { owner: `p/s/${kind.type}/web` } : {}),
                ...(deleteSnapshotsOnDestroy === undefined ? {} : { deleteSnapshotsOnDestroy }),
            },
            kind,
        ) as ImageInputs;
        const made: Image = {
            ImageId: IMAGE,
            State: "available",
            BlockDeviceMappings: [{ DeviceName: "/dev/xvda", Ebs: { SnapshotId: SNAP } }],
        };
        const tags = new Map<string, { Key: string; Value: string }[]>([
            [IMAGE, [{ Key: "App", Value: "web" }]],
            [SNAP, [{ Key: "Owner", Value: "me" }]],
        ]);
        ec2.on(CreateTagsCommand).callsFake((input) => {
            for (const id of input.Resources)
                for (const tag of input.Tags) tags.set(id, [...(tags.get(id) ?? []).filter((x) => x.Key !== tag.Key), tag]);
            return {};
        });
        if (kind.name === "input")
            await applyInitialSettings(client, { ...made, Tags: tags.get(IMAGE) }, inputs, snapshotsOwned(kind, inputs));
        ec2.reset();
        nothingUsesImages(ec2);
        ec2.on(DescribeSnapshotsCommand).resolves({ Snapshots: [{ SnapshotId: SNAP, Tags: tags.get(SNAP) }] });
        // As moto answers: no DeleteSnapshotResults, so each snapshot is deleted by its own call.
        ec2.on(DeregisterImageCommand).resolves({});
        ec2.on(DeleteSnapshotCommand).resolves({});
        return { ...made, Name: "web-1", CreationDate: "2026-01-01T00:00:00.000Z", OwnerId: "111122223333", Tags: tags.get(IMAGE) };
    }

    for (const kind of IMAGE_KINDS) {
        for (const deleteSnapshotsOnDestroy of kind.ownsSnapshots ? [undefined] : [undefined, true]) {
            const given = deleteSnapshotsOnDestroy === undefined ? "" : ` with deleteSnapshotsOnDestroy: ${deleteSnapshotsOnDestroy}`;
            const owned = kind.name === "image" || snapshotsOwned(kind, { deleteSnapshotsOnDestroy });
            const verdict =
                kind.name === "image"
                    ? "deletes its snapshots (an adopted image carries no mark: it is the user's own, and deleteSnapshots decides)"
                    : owned
                      ? "deletes the snapshots its create made and marked"
                      : "keeps the user's snapshot and reports it kept";
            it(`${kind.type}${given}: retention ${verdict}`, async () => {
                const image = toRetentionImage(await madeBy(kind, deleteSnapshotsOnDestroy), "us-east-1");
                const planned = [
                    { imageId: IMAGE, region: "us-east-1", name: "web-1", creationDate: image.creationDate, group: "g", reason: "older" },
                ];
                const policy = {
                    regions: ["us-east-1"],
                    selector: { tags: { App: "web" } },
                    keepLatest: 1,
                    action: "deregister" as const,
                    deleteSnapshots: true,
                    exclude: { inUse: true },
                    dryRun: false,
                    retireShared: true,
                    pending: undefined as never,
                };
                const facts = {
                    facts: new Map([[`us-east-1/${IMAGE}`, image]]),
                    readAt: Date.now(),
                    references: new Map([["us-east-1", new Map()]]),
                };
                const run = await applyPlan(planned as never, policy, new Date(), false, facts);
                assert.equal(run.counts.retired, 1);
                assert.equal(ec2.commandCalls(DeleteSnapshotCommand).length, owned ? 1 : 0);
                assert.deepEqual(run.snapshotsDeleted, owned ? [SNAP] : []);
                assert.deepEqual(
                    run.snapshotsKept.map((k) => k.snapshotId),
                    owned ? [] : [SNAP],
                );
                if (!owned) assert.match(run.snapshotsKept[0].reason, /not the image's own/);
                // DeleteAssociatedSnapshots would take the user's snapshot with the image: asked only when every snapshot goes.
                const associated = ec2.commandCalls(DeregisterImageCommand).map((c) => c.args[0].input.DeleteAssociatedSnapshots === true);
                assert.deepEqual(associated, [owned]);
            });

            if (kind.name === "input") {
                it(`${kind.type}${given}: the sweeper ${owned ? "deletes its snapshots with it" : "keeps the user's snapshot"}`, async () => {
                    const image = await madeBy(kind, deleteSnapshotsOnDestroy);
                    assert.ok(
                        imageMark(Object.fromEntries(image.Tags!.map((x) => [x.Key!, x.Value!]))),
                        "the sweeper selects marked images only",
                    );
                    ec2.on(DescribeImagesCommand).resolves({ Images: [image] });
                    const r = await sweepRegion(client, "us-east-1", { tags: { App: "web" }, delete: true });
                    assert.deepEqual(r.failed, []);
                    assert.equal(ec2.commandCalls(DeleteSnapshotCommand).length, owned ? 1 : 0);
                    assert.deepEqual(
                        r.kept.map((k) => k.id),
                        owned ? [] : [SNAP],
                    );
                });
            }
        }
    }
});
