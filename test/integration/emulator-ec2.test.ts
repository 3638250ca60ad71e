// The emulator's models of real EC2 behaviour (emulator/ec2-proxy.ts and its
// modules), each through the real AWS SDK against the proxy in front of moto:
// request validation against the EC2 API model, unknown regions, eventual
// consistency, the deregistration-protection cooldown, ClientToken semantics,
// CreateImage's block-device rules, DeleteAssociatedSnapshots, the documented
// token buckets, and the hook for extra action handlers.
import {
    CopyImageCommand,
    CreateImageCommand,
    CreateTagsCommand,
    DeleteSnapshotCommand,
    DeleteVolumeCommand,
    DeregisterImageCommand,
    DescribeImageAttributeCommand,
    DescribeImageReferencesCommand,
    DescribeImagesCommand,
    DescribeInstancesCommand,
    DescribeSnapshotsCommand,
    DisableImageDeregistrationProtectionCommand,
    EC2Client,
    EnableImageDeregistrationProtectionCommand,
    Image,
    ModifyImageAttributeCommand,
    TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import assert from "node:assert/strict";
import { Ec2Proxy, ProxyOptions, startEc2Proxy } from "../../emulator/ec2-proxy";
import { sharedSnapshots } from "../../emulator/image-rules";
import { ec2Success } from "../../emulator/ec2-xml";
import { bucketFor } from "../../emulator/throttling";
import { currentMoto } from "../support/moto-hooks";
import { createSourceInstance, inventory, leftBehind } from "../../scripts/lib/ec2-fixtures";

const REGION = "us-east-1";
const OTHER_REGION = "us-west-2";
const DAY_MS = 24 * 60 * 60 * 1000;

type SdkError = Error & { $metadata?: { httpStatusCode?: number } };

describe("emulator: real EC2 behaviour through the SDK", () => {
    let direct: EC2Client; // straight to moto: setup and cleanup, never through the proxy
    let directOther: EC2Client;
    let source: { instanceId: string; baseImageId: string; baseSnapshotId: string };
    let before0: Awaited<ReturnType<typeof inventory>>;
    let before1: Awaited<ReturnType<typeof inventory>>;
    let proxy: Ec2Proxy | undefined;
    const clients: EC2Client[] = [];
    const madeImages: { imageId: string; region: string; snapshotIds: string[] }[] = [];
    let run = 0;

    before(async () => {
        direct = new EC2Client({ region: REGION });
        directOther = new EC2Client({ region: OTHER_REGION });
        before0 = await inventory(REGION);
        before1 = await inventory(OTHER_REGION);
        const made = await createSourceInstance(REGION, { name: "emulator-test-base" });
        source = { instanceId: made.instanceId!, baseImageId: made.baseImageId!, baseSnapshotId: made.baseSnapshotId! };
    });

    after(async () => {
        const snap = (await direct.send(new DescribeSnapshotsCommand({ SnapshotIds: [source.baseSnapshotId] }))).Snapshots![0];
        const baseImageSnapshots = snapshotsOf(await describe1(direct, source.baseImageId));
        await direct.send(new TerminateInstancesCommand({ InstanceIds: [source.instanceId] }));
        await direct.send(new DeregisterImageCommand({ ImageId: source.baseImageId }));
        for (const snapshotId of new Set([source.baseSnapshotId, ...baseImageSnapshots])) {
            await direct.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId }));
        }
        if (snap.VolumeId) await direct.send(new DeleteVolumeCommand({ VolumeId: snap.VolumeId }));
        const left = [leftBehind(before0, await inventory(REGION)), leftBehind(before1, await inventory(OTHER_REGION))];
        direct.destroy();
        directOther.destroy();
        assert.deepEqual(
            left,
            [
                { images: [], snapshots: [] },
                { images: [], snapshots: [] },
            ],
            "the emulator tests leave nothing behind",
        );
    });

    afterEach(async () => {
        for (const c of clients.splice(0)) c.destroy();
        await proxy?.stop();
        proxy = undefined;
        // Directly at moto, past anything the proxy emulates; a test may have done part of it.
        for (const { imageId, region, snapshotIds } of madeImages.splice(0)) {
            const ec2 = region === REGION ? direct : directOther;
            await ec2.send(new DeregisterImageCommand({ ImageId: imageId })).catch(() => undefined);
            for (const snapshotId of snapshotIds) {
                await ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId })).catch(() => undefined);
            }
        }
    });

    async function through(options: Omit<ProxyOptions, "target"> = {}, region = REGION, maxAttempts = 1) {
        proxy = await startEc2Proxy({ target: currentMoto().endpoint, ...options });
        return { proxy, ec2: clientFor(region, maxAttempts) };
    }

    function clientFor(region: string, maxAttempts = 1): EC2Client {
        const ec2 = new EC2Client({ region, endpoint: proxy!.endpoint, maxAttempts });
        clients.push(ec2);
        return ec2;
    }

    function uniqueName(label: string): string {
        return `emu-${label}-${process.pid}-${Date.now()}-${++run}`;
    }

    /** Records an image for cleanup, with the snapshots moto gives it. */
    async function track(imageId: string, region = REGION): Promise<string> {
        const ec2 = region === REGION ? direct : directOther;
        madeImages.push({ imageId, region, snapshotIds: snapshotsOf(await describe1(ec2, imageId)) });
        return imageId;
    }

    async function bake(name = uniqueName("bake")): Promise<string> {
        // directly at moto: the tests look at what the proxy does with an existing image
        const { ImageId } = await direct.send(new CreateImageCommand({ InstanceId: source.instanceId, Name: name }));
        return track(ImageId!);
    }

    async function describe1(ec2: EC2Client, imageId: string): Promise<Image> {
        return (await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images![0];
    }

    function snapshotsOf(image: Image | undefined): string[] {
        return (image?.BlockDeviceMappings ?? []).map((m) => m.Ebs?.SnapshotId).filter((s): s is string => !!s);
    }

    /** The rejected call's EC2 error code and HTTP status. */
    async function rejection(call: Promise<unknown>): Promise<{ code: string; status?: number; message: string }> {
        try {
            await call;
        } catch (e) {
            return { code: (e as SdkError).name, status: (e as SdkError).$metadata?.httpStatusCode, message: (e as Error).message };
        }
        assert.fail("expected the call to fail");
    }

    /** An SDK client whose requests get `edit` applied to their form body after serialization. */
    function editedClient(edit: (body: URLSearchParams) => void): EC2Client {
        const ec2 = clientFor(REGION);
        ec2.middlewareStack.add(
            (next) => async (args) => {
                const request = args.request as { body?: string };
                const body = new URLSearchParams(request.body ?? "");
                edit(body);
                request.body = body.toString();
                const headers = (args.request as { headers: Record<string, string> }).headers;
                headers["content-length"] = String(Buffer.byteLength(request.body));
                return next(args);
            },
            { step: "build", name: "editQueryBody" },
        );
        return ec2;
    }

    describe("request validation against the EC2 API model (on by default)", () => {
        it("refuses an unknown parameter with UnknownParameter, HTTP 400, and forwards nothing", async () => {
            await through();
            const ec2 = editedClient((body) => body.set("Colour", "blue"));
            const name = uniqueName("unknown");
            const refused = await rejection(ec2.send(new CreateImageCommand({ InstanceId: source.instanceId, Name: name })));
            assert.deepEqual([refused.code, refused.status], ["UnknownParameter", 400]);
            assert.match(refused.message, /Colour/);
            const made = await direct.send(new DescribeImagesCommand({ Owners: ["self"], Filters: [{ Name: "name", Values: [name] }] }));
            assert.deepEqual(made.Images, [], "the refused CreateImage made no image");
        });

        it("refuses a nested unknown member of a list of structures", async () => {
            await through();
            const ec2 = editedClient((body) => body.set("BlockDeviceMapping.1.Ebs.Colour", "blue"));
            const refused = await rejection(
                ec2.send(
                    new CreateImageCommand({
                        InstanceId: source.instanceId,
                        Name: uniqueName("nested"),
                        BlockDeviceMappings: [{ DeviceName: "/dev/xvda", Ebs: { DeleteOnTermination: true } }],
                    }),
                ),
            );
            assert.deepEqual(
                [refused.code, refused.message],
                ["UnknownParameter", "The parameter BlockDeviceMapping.1.Ebs.Colour is not recognized"],
            );
        });

        it("refuses a missing required parameter with MissingParameter (moto would accept it)", async () => {
            const { ec2, proxy } = await through();
            const refused = await rejection(ec2.send(new CreateImageCommand({ InstanceId: source.instanceId } as never)));
            assert.deepEqual(
                [refused.code, refused.status, refused.message],
                ["MissingParameter", 400, "The request must contain the parameter Name"],
            );
            proxy.setOptions({ validation: false });
            const accepted = await ec2.send(new CreateImageCommand({ InstanceId: source.instanceId } as never));
            await track(accepted.ImageId!);
            assert.match(accepted.ImageId!, /^ami-/, "moto alone makes an image without a name");
        });

        it("refuses a value outside the model's enum with InvalidParameterValue", async () => {
            const { ec2 } = await through();
            const refused = await rejection(
                ec2.send(new DescribeImageAttributeCommand({ ImageId: source.baseImageId, Attribute: "colour" as never })),
            );
            assert.deepEqual([refused.code, refused.status], ["InvalidParameterValue", 400]);
            assert.match(refused.message, /Value \(colour\) for parameter Attribute is invalid/);
        });

        it("refuses an action the API does not have with InvalidAction", async () => {
            await through();
            const ec2 = editedClient((body) => body.set("Action", "DescribeImagez"));
            const refused = await rejection(ec2.send(new DescribeImagesCommand({ Owners: ["self"] })));
            assert.deepEqual([refused.code, refused.status], ["InvalidAction", 400]);
        });

        it("counts refusals by code, accepts valid requests, and passes everything through with validation: false", async () => {
            const { proxy } = await through();
            const ec2 = editedClient((body) => body.set("Colour", "blue"));
            await rejection(ec2.send(new DescribeImagesCommand({ ImageIds: [source.baseImageId] })));
            assert.deepEqual(proxy.stats().refusedByCode, { UnknownParameter: 1 });
            proxy.setOptions({ validation: false });
            const out = await ec2.send(new DescribeImagesCommand({ ImageIds: [source.baseImageId] }));
            assert.equal(out.Images![0].ImageId, source.baseImageId, "moto ignores the unknown parameter");
        });

        it("refuses a region that does not exist with AuthFailure (401), and serves real ones", async () => {
            await through();
            const refused = await rejection(clientFor("eu-nowhere-9").send(new DescribeImagesCommand({ Owners: ["self"] })));
            assert.deepEqual([refused.code, refused.status], ["AuthFailure", 401]);
            assert.match(refused.message, /eu-nowhere-9/);
            for (const region of ["us-west-2", "eu-central-1", "ap-southeast-2"]) {
                await clientFor(region).send(new DescribeImagesCommand({ Owners: ["self"] }));
            }
        });
    });

    describe("eventual consistency", () => {
        it("a new image answers InvalidAMIID.NotFound for 1..notFoundReads reads (seeded), then is there", async () => {
            async function hiddenReads(seed: number): Promise<number> {
                const { ec2 } = await through({ eventualConsistency: { notFoundReads: 4 }, seed });
                const { ImageId } = await ec2.send(new CreateImageCommand({ InstanceId: source.instanceId, Name: uniqueName("ec") }));
                await track(ImageId!);
                let misses = 0;
                for (;;) {
                    try {
                        // describes by id, attribute reads and changes all miss the image for a while
                        if (misses % 3 === 1) await ec2.send(new DescribeImageAttributeCommand({ ImageId, Attribute: "description" }));
                        else if (misses % 3 === 2)
                            await ec2.send(new CreateTagsCommand({ Resources: [ImageId!], Tags: [{ Key: "k", Value: "v" }] }));
                        else assert.equal((await describe1(ec2, ImageId!)).ImageId, ImageId);
                        break;
                    } catch (e) {
                        assert.equal((e as Error).name, "InvalidAMIID.NotFound");
                        misses++;
                        assert.ok(misses <= 4, "visible after at most notFoundReads reads");
                    }
                }
                assert.equal((await describe1(ec2, ImageId!)).ImageId, ImageId, "and stays visible");
                await proxy!.stop();
                return misses;
            }
            const counts = [await hiddenReads(3), await hiddenReads(3), await hiddenReads(11), await hiddenReads(12)];
            assert.ok(
                counts.every((n) => n >= 1 && n <= 4),
                `1..4 hidden reads: ${counts}`,
            );
            assert.equal(counts[0], counts[1], "the same seed hides the image for as many reads");
        });

        it("after CreateTags and ModifyImageAttribute, describes answer the previous values for 1..staleReads reads", async () => {
            const { ec2 } = await through({ eventualConsistency: { staleReads: 3 }, seed: 5 });
            const id = await bake();
            await ec2.send(new CreateTagsCommand({ Resources: [id], Tags: [{ Key: "stage", Value: "new" }] }));
            const tagReads: (string | undefined)[] = [];
            for (let i = 0; i < 5; i++) tagReads.push((await describe1(ec2, id)).Tags?.find((t) => t.Key === "stage")?.Value);
            const stale = tagReads.indexOf("new");
            assert.ok(stale >= 1 && stale <= 3, `old tags for 1..3 reads: ${tagReads}`);
            assert.deepEqual(tagReads.slice(stale), Array(5 - stale).fill("new"), "then the new ones, for good");

            await ec2.send(new ModifyImageAttributeCommand({ ImageId: id, LaunchPermission: { Add: [{ UserId: "123456789012" }] } }));
            const permissionReads: number[] = [];
            for (let i = 0; i < 5; i++) {
                const attr = await ec2.send(new DescribeImageAttributeCommand({ ImageId: id, Attribute: "launchPermission" }));
                permissionReads.push(attr.LaunchPermissions?.length ?? 0);
            }
            const fresh = permissionReads.indexOf(1);
            assert.ok(fresh >= 1 && fresh <= 3, `the old launch permissions for 1..3 reads: ${permissionReads}`);
        });
    });

    describe("deregistration protection cooldown", () => {
        it("protection enabled with cooldown stays in force 24 hours after it is disabled, reported as disabled-after", async () => {
            const { ec2, proxy } = await through({ protectionCooldown: true });
            const id = await bake();
            await ec2.send(new EnableImageDeregistrationProtectionCommand({ ImageId: id, WithCooldown: true }));
            assert.equal((await describe1(ec2, id)).DeregistrationProtection, "enabled-with-cooldown");
            const disabledAt = Date.now();
            await ec2.send(new DisableImageDeregistrationProtectionCommand({ ImageId: id }));
            const text = (await describe1(ec2, id)).DeregistrationProtection ?? "";
            const m = /^disabled-after (.+)$/.exec(text);
            assert.ok(m, `reported as disabled-after <time>: ${text}`);
            assert.ok(Math.abs(Date.parse(m[1]) - (disabledAt + DAY_MS)) < 60_000, "24 hours after it was disabled");
            assert.equal((await rejection(ec2.send(new DeregisterImageCommand({ ImageId: id })))).code, "InvalidParameterValue");
            proxy.advanceClock(DAY_MS - 60_000);
            assert.equal(
                (await rejection(ec2.send(new DeregisterImageCommand({ ImageId: id })))).code,
                "InvalidParameterValue",
                "still in cooldown a minute before",
            );
            proxy.advanceClock(2 * 60_000);
            assert.equal((await describe1(ec2, id)).DeregistrationProtection, "disabled");
            await ec2.send(new DeregisterImageCommand({ ImageId: id }));
        });

        it("protection enabled without cooldown can be deregistered as soon as it is disabled", async () => {
            const { ec2 } = await through({ protectionCooldown: true });
            const id = await bake();
            await ec2.send(new EnableImageDeregistrationProtectionCommand({ ImageId: id, WithCooldown: false }));
            await ec2.send(new DisableImageDeregistrationProtectionCommand({ ImageId: id }));
            assert.equal((await describe1(ec2, id)).DeregistrationProtection, "disabled");
            await ec2.send(new DeregisterImageCommand({ ImageId: id }));
        });
    });

    describe("CopyImage ClientToken", () => {
        it("same token and parameters give the same copy, also after it was deregistered; changed parameters fail IdempotentParameterMismatch; another region copies anew", async () => {
            await through({ idempotentParameterMismatch: true });
            const copyTo = clientFor(OTHER_REGION);
            const sourceId = await bake();
            const token = `emu-token-${process.pid}-${Date.now()}`;
            const request = { SourceImageId: sourceId, SourceRegion: REGION, Name: uniqueName("copy"), ClientToken: token };
            const first = (await copyTo.send(new CopyImageCommand(request))).ImageId!;
            await track(first, OTHER_REGION);
            assert.equal((await copyTo.send(new CopyImageCommand(request))).ImageId, first);
            const changed = await rejection(copyTo.send(new CopyImageCommand({ ...request, Name: `${request.Name}-x` })));
            assert.deepEqual([changed.code, changed.status], ["IdempotentParameterMismatch", 400]);
            await copyTo.send(new DeregisterImageCommand({ ImageId: first }));
            assert.equal((await copyTo.send(new CopyImageCommand(request))).ImageId, first, "the token still names the (gone) first copy");
            const elsewhere = (await clientFor("eu-west-1").send(new CopyImageCommand(request))).ImageId!;
            await directOtherRegionCleanup("eu-west-1", elsewhere);
            assert.notEqual(elsewhere, first, "a token is per region");
        });
    });

    /** Deregisters a copy made in a third region, directly at moto, with its snapshots. */
    async function directOtherRegionCleanup(region: string, imageId: string): Promise<void> {
        const ec2 = new EC2Client({ region });
        try {
            const snapshots = snapshotsOf(await describe1(ec2, imageId));
            await ec2.send(new DeregisterImageCommand({ ImageId: imageId }));
            for (const snapshotId of snapshots) await ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId }));
        } finally {
            ec2.destroy();
        }
    }

    describe("CreateImage block device rules", () => {
        it("for the instance's existing volume only DeleteOnTermination may change: size, type and encryption are refused", async () => {
            const { ec2 } = await through({ createImageBlockDeviceRules: true });
            const instance = (await direct.send(new DescribeInstancesCommand({ InstanceIds: [source.instanceId] }))).Reservations![0]
                .Instances![0];
            const root = instance.BlockDeviceMappings![0].DeviceName!;
            const create = (ebs: Record<string, unknown>) =>
                ec2.send(
                    new CreateImageCommand({
                        InstanceId: source.instanceId,
                        Name: uniqueName("bdm"),
                        BlockDeviceMappings: [{ DeviceName: root, Ebs: ebs }],
                    }),
                );
            for (const change of [
                { VolumeSize: 1 },
                { VolumeSize: 500 },
                { VolumeType: "io2", Iops: 3000 },
                { Encrypted: true },
                { KmsKeyId: "alias/other" },
            ]) {
                const refused = await rejection(create(change));
                assert.deepEqual([refused.code, refused.status], ["InvalidBlockDeviceMapping", 400], JSON.stringify(change));
            }
            const { ImageId } = await create({ DeleteOnTermination: false });
            await track(ImageId!);
            const omitted = await ec2.send(
                new CreateImageCommand({
                    InstanceId: source.instanceId,
                    Name: uniqueName("nodev"),
                    BlockDeviceMappings: [{ DeviceName: root, NoDevice: "" }],
                }),
            );
            await track(omitted.ImageId!);
        });
    });

    describe("DeregisterImage DeleteAssociatedSnapshots", () => {
        it("deregisters the image, deletes its snapshots and reports each in DeleteSnapshotResults (moto ignores the flag)", async () => {
            const { ec2 } = await through({ deleteAssociatedSnapshots: true });
            const alone = await bake();
            const [snapAlone] = snapshotsOf(await describe1(direct, alone));
            const out = await ec2.send(new DeregisterImageCommand({ ImageId: alone, DeleteAssociatedSnapshots: true }));
            assert.deepEqual(out.DeleteSnapshotResults, [{ SnapshotId: snapAlone, ReturnCode: "success" }]);
            const left = new Set(
                ((await direct.send(new DescribeSnapshotsCommand({ OwnerIds: ["self"] }))).Snapshots ?? []).map((s) => s.SnapshotId),
            );
            assert.ok(!left.has(snapAlone), "the snapshot is deleted");
            const images = new Set(
                ((await direct.send(new DescribeImagesCommand({ Owners: ["self"] }))).Images ?? []).map((i) => i.ImageId),
            );
            assert.ok(!images.has(alone), "the image is deregistered");

            const kept = await bake();
            const [snapKept] = snapshotsOf(await describe1(direct, kept));
            proxy!.setOptions({ deleteAssociatedSnapshots: false });
            const plain = await ec2.send(new DeregisterImageCommand({ ImageId: kept, DeleteAssociatedSnapshots: true }));
            assert.equal(plain.DeleteSnapshotResults, undefined, "switched off, moto's answer passes through");
            const still = ((await direct.send(new DescribeSnapshotsCommand({ OwnerIds: ["self"] }))).Snapshots ?? []).map(
                (s) => s.SnapshotId,
            );
            assert.ok(still.includes(snapKept), "and moto kept the snapshot");
        });

        it("keeps (skipped) a snapshot another live image uses; a deregistered one does not count", () => {
            // moto gives every image a snapshot of its own, so shared snapshots are checked on DescribeImages items
            const item = (id: string, state: string, snaps: string[]) =>
                `<item><imageId>${id}</imageId><imageState>${state}</imageState><blockDeviceMapping>${snaps
                    .map((s) => `<item><ebs><snapshotId>${s}</snapshotId></ebs></item>`)
                    .join("")}</blockDeviceMapping></item>`;
            const images = [
                item("ami-a", "available", ["snap-1", "snap-2"]),
                item("ami-b", "available", ["snap-2"]),
                item("ami-c", "deregistered", ["snap-1"]),
            ];
            assert.deepEqual(sharedSnapshots("ami-a", ["snap-1", "snap-2"], images), [
                { snapshotId: "snap-1", usedElsewhere: false },
                { snapshotId: "snap-2", usedElsewhere: true },
            ]);
        });
    });

    describe("token buckets", () => {
        it("the documented table: DescribeImages 100/20, CopyImage 100/1, CreateImage 50/5, unfiltered DescribeInstances 50/10", () => {
            assert.deepEqual(bucketFor("DescribeImages"), { category: "non-mutating", capacity: 100, refillPerSecond: 20 });
            assert.deepEqual(bucketFor("CopyImage"), { category: "uncategorized", capacity: 100, refillPerSecond: 1 });
            assert.deepEqual(bucketFor("CreateImage"), { category: "mutating", capacity: 50, refillPerSecond: 5 });
            assert.deepEqual(bucketFor("DescribeInstances"), {
                category: "unfiltered-unpaginated-non-mutating",
                capacity: 50,
                refillPerSecond: 10,
            });
            assert.equal(bucketFor("DescribeInstances", [["MaxResults", "5"]]).category, "non-mutating");
        });

        it("an empty bucket answers 503 RequestLimitExceeded per region and action, refills at the documented rate × refillScale", async () => {
            let clock = Date.parse("2030-01-01T00:00:00Z");
            const { ec2, proxy } = await through({ tokenBuckets: { refillScale: 1 }, now: () => clock });
            const unfiltered = () => ec2.send(new DescribeInstancesCommand({}));
            for (let i = 0; i < 50; i++) await unfiltered();
            const refused = await rejection(unfiltered());
            assert.deepEqual([refused.code, refused.status], ["RequestLimitExceeded", 503]);
            // a filtered call draws from the larger standard bucket, another region from its own
            await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: "instance-state-name", Values: ["running"] }] }));
            await clientFor(OTHER_REGION).send(new DescribeInstancesCommand({}));
            clock += 1000; // refill 10 per second
            for (let i = 0; i < 10; i++) await unfiltered();
            await rejection(unfiltered());
            assert.equal(proxy.stats().throttled, 2);
            assert.deepEqual(proxy.stats().throttledByAction, { DescribeInstances: 2 });

            proxy.setOptions({ tokenBuckets: { refillScale: 5 } }); // fresh, full buckets, five times the refill
            for (let i = 0; i < 50; i++) await unfiltered();
            await rejection(unfiltered());
            clock += 1000;
            for (let i = 0; i < 50; i++) await unfiltered();
            assert.equal((await rejection(unfiltered())).code, "RequestLimitExceeded");
        });
    });

    describe("extra action handlers", () => {
        it("a handler answers before the built-ins, gets the signed region, and passes on what it does not handle", async () => {
            const seen: string[] = [];
            const { ec2 } = await through({
                handlers: [
                    async (ctx) => {
                        seen.push(`${ctx.action}@${ctx.region}`);
                        if (ctx.action !== "DescribeImageReferences") return undefined;
                        const imageId = ctx.params.get("ImageId.1") ?? "";
                        return ec2Success(
                            "DescribeImageReferences",
                            `<imageReferenceSet><item><imageId>${imageId}</imageId><resourceType>ec2:Instance</resourceType><arn>arn:aws:ec2:${ctx.region}:123456789012:instance/i-1</arn></item></imageReferenceSet>`,
                        );
                    },
                ],
            });
            const refs = await ec2.send(new DescribeImageReferencesCommand({ ImageIds: [source.baseImageId] }));
            assert.deepEqual(refs.ImageReferences, [
                { ImageId: source.baseImageId, ResourceType: "ec2:Instance", Arn: `arn:aws:ec2:${REGION}:123456789012:instance/i-1` },
            ]);
            assert.equal((await describe1(ec2, source.baseImageId)).ImageId, source.baseImageId);
            assert.deepEqual(seen, [`DescribeImageReferences@${REGION}`, `DescribeImages@${REGION}`]);
        });
    });
});
