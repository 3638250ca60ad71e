// The EC2 test proxy (emulator/ec2-proxy.ts) through the real AWS SDK
// against moto: what a test that puts the proxy between golden-ami and moto
// can rely on.
import {
    CreateImageCommand,
    DeleteSnapshotCommand,
    DeleteVolumeCommand,
    DeregisterImageCommand,
    DescribeImagesCommand,
    DescribeSnapshotsCommand,
    DisableImageDeprecationCommand,
    DisableImageDeregistrationProtectionCommand,
    EC2Client,
    EnableImageDeprecationCommand,
    EnableImageDeregistrationProtectionCommand,
    Image,
    paginateDescribeImages,
    TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import assert from "node:assert/strict";
import { Ec2Proxy, ProxyOptions, startEc2Proxy } from "../../emulator/ec2-proxy";
import { currentMoto } from "../support/moto-hooks";
import { createSourceInstance, inventory, leftBehind } from "../../scripts/lib/ec2-fixtures";

const REGION = "us-east-1";

describe("EC2 test proxy in front of moto", () => {
    let direct: EC2Client; // straight to moto: setup and cleanup, never through the proxy
    let source: { instanceId: string; baseImageId: string; baseSnapshotId: string };
    let before0: Awaited<ReturnType<typeof inventory>>;
    let proxy: Ec2Proxy | undefined;
    const clients: EC2Client[] = [];
    const madeImages: { imageId: string; snapshotIds: string[] }[] = [];
    let run = 0;

    before(async () => {
        direct = new EC2Client({ region: REGION });
        before0 = await inventory(REGION);
        const made = await createSourceInstance(REGION, { name: "proxy-test-base" });
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
        const left = leftBehind(before0, await inventory(REGION));
        direct.destroy();
        assert.deepEqual(left, { images: [], snapshots: [] }, "the proxy tests leave no image or snapshot behind");
    });

    afterEach(async () => {
        for (const c of clients.splice(0)) c.destroy();
        await proxy?.stop();
        proxy = undefined;
        // Deregister what the test made and delete its snapshots, directly at
        // moto (past any protection the proxy emulates); a test may have done
        // part of it already.
        for (const { imageId, snapshotIds } of madeImages.splice(0)) {
            await direct.send(new DeregisterImageCommand({ ImageId: imageId })).catch(() => undefined);
            for (const snapshotId of snapshotIds) {
                await direct.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId })).catch(() => undefined);
            }
        }
    });

    /** A proxy in front of this run's moto, and an SDK client that talks to it. */
    async function through(options: Omit<ProxyOptions, "target"> = {}, maxAttempts = 3) {
        proxy = await startEc2Proxy({ target: currentMoto().endpoint, ...options });
        const ec2 = new EC2Client({ region: REGION, endpoint: proxy.endpoint, maxAttempts });
        clients.push(ec2);
        return { proxy, ec2 };
    }

    function uniqueName(label: string): string {
        return `proxy-${label}-${process.pid}-${Date.now()}-${++run}`;
    }

    async function bake(ec2: EC2Client, name: string): Promise<string> {
        const { ImageId } = await ec2.send(new CreateImageCommand({ InstanceId: source.instanceId, Name: name }));
        madeImages.push({ imageId: ImageId!, snapshotIds: snapshotsOf(await describe1(direct, ImageId!)) });
        return ImageId!;
    }

    async function describe1(ec2: EC2Client, imageId: string): Promise<Image> {
        return (await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images![0];
    }

    function snapshotsOf(image: Image | undefined): string[] {
        return (image?.BlockDeviceMappings ?? []).map((m) => m.Ebs?.SnapshotId).filter((s): s is string => !!s);
    }

    /** The error code of a rejected SDK call. */
    async function rejection(call: Promise<unknown>): Promise<string> {
        try {
            await call;
        } catch (e) {
            return (e as Error).name;
        }
        assert.fail("expected the call to fail");
    }

    describe("faults", () => {
        it("injected throttling is retried by the SDK, the calls succeed, and the stats count the faults", async () => {
            const { proxy, ec2 } = await through({ faultRate: 0.3, faults: ["throttle"], seed: 7 }, 10);
            for (let i = 0; i < 8; i++) {
                const out = await ec2.send(new DescribeImagesCommand({ ImageIds: [source.baseImageId] }));
                assert.equal(out.Images![0].ImageId, source.baseImageId);
            }
            const stats = proxy.stats();
            assert.ok(stats.faultsByKind.throttle > 0, `some requests were throttled: ${JSON.stringify(stats)}`);
            assert.equal(stats.faultsInjected, stats.faultsByKind.throttle);
            assert.equal(stats.byAction.DescribeImages, 8 + stats.faultsInjected, "every throttled request was retried once more");
        });

        it("a call fails with InternalError when every attempt gets a 500, and none reaches moto", async () => {
            const { proxy, ec2 } = await through({ faultRate: 1, faults: ["500"] }, 3);
            const name = uniqueName("never");
            await assert.rejects(
                ec2.send(new CreateImageCommand({ InstanceId: source.instanceId, Name: name })),
                (e: Error & { $metadata?: { httpStatusCode?: number; attempts?: number } }) => {
                    assert.equal(e.name, "InternalError");
                    assert.equal(e.$metadata?.httpStatusCode, 500);
                    assert.equal(e.$metadata?.attempts, 3);
                    return true;
                },
            );
            assert.deepEqual(proxy.stats().faultsByKind, { "500": 3 });
            const made = await direct.send(new DescribeImagesCommand({ Owners: ["self"], Filters: [{ Name: "name", Values: [name] }] }));
            assert.deepEqual(made.Images, [], "a faulted CreateImage never half-happens");
        });

        it("the same seed gives the same sequence of injected faults, another seed a different one", async () => {
            async function outcomes(seed: number): Promise<string[]> {
                const { ec2 } = await through({ faultRate: 0.5, seed }, 1);
                const seen: string[] = [];
                for (let i = 0; i < 16; i++) {
                    try {
                        await ec2.send(new DescribeImagesCommand({ ImageIds: [source.baseImageId] }));
                        seen.push("ok");
                    } catch (e) {
                        const err = e as { name?: string; code?: string };
                        seen.push(err.code ?? err.name ?? "?");
                    }
                }
                await proxy!.stop();
                return seen;
            }
            const first = await outcomes(42);
            assert.ok(first.includes("ok") && first.some((o) => o !== "ok"), `a mix of faults and successes: ${first}`);
            assert.deepEqual(await outcomes(42), first);
            assert.notDeepEqual(await outcomes(43), first);
        });

        it("latency delays every call by at least latencyMs", async () => {
            const { ec2 } = await through({ latencyMs: 300 });
            const started = Date.now();
            await ec2.send(new DescribeImagesCommand({ ImageIds: [source.baseImageId] }));
            assert.ok(Date.now() - started >= 300, `took ${Date.now() - started} ms`);
        });
    });

    describe("image lifecycle", () => {
        it("a new image reports pending for pendingPolls DescribeImages calls, then available", async () => {
            const { ec2 } = await through({ pendingPolls: 2 });
            const id = await bake(ec2, uniqueName("pending"));
            const states = [];
            for (let i = 0; i < 4; i++) states.push((await describe1(ec2, id)).State);
            assert.deepEqual(states, ["pending", "pending", "available", "available"]);
        });

        it("with failImages a new image ends failed with that state reason after its pending polls", async () => {
            const { ec2 } = await through({
                pendingPolls: 1,
                failImages: { reason: "Key alias/dr is disabled", code: "Client.InvalidKMSKey.InvalidState" },
            });
            const id = await bake(ec2, uniqueName("failed"));
            assert.equal((await describe1(ec2, id)).State, "pending");
            const failed = await describe1(ec2, id);
            assert.equal(failed.State, "failed");
            assert.deepEqual(failed.StateReason, { Code: "Client.InvalidKMSKey.InvalidState", Message: "Key alias/dr is disabled" });
            assert.equal((await describe1(ec2, id)).State, "failed", "failed stays failed");
        });

        it("after DeregisterImage, DeleteSnapshot of its snapshots fails InvalidSnapshot.InUse snapshotInUseCalls times, then succeeds", async () => {
            const { ec2 } = await through({ snapshotInUseCalls: 2 });
            const id = await bake(ec2, uniqueName("inuse"));
            const [snapshotId] = snapshotsOf(await describe1(ec2, id));
            await ec2.send(new DeregisterImageCommand({ ImageId: id }));
            assert.equal(await rejection(ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId }))), "InvalidSnapshot.InUse");
            assert.equal(await rejection(ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId }))), "InvalidSnapshot.InUse");
            await ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId }));
            const left = (await direct.send(new DescribeSnapshotsCommand({ OwnerIds: ["self"] }))).Snapshots ?? [];
            assert.ok(!left.some((s) => s.SnapshotId === snapshotId), "the snapshot is gone");
        });

        it("with duplicateNames a second CreateImage with a live image's name fails InvalidAMIName.Duplicate; after deregistration the name is free", async () => {
            const { ec2 } = await through({ duplicateNames: true });
            const name = uniqueName("dup");
            const first = await bake(ec2, name);
            assert.equal(
                await rejection(ec2.send(new CreateImageCommand({ InstanceId: source.instanceId, Name: name }))),
                "InvalidAMIName.Duplicate",
            );
            const named = await ec2.send(new DescribeImagesCommand({ Owners: ["self"], Filters: [{ Name: "name", Values: [name] }] }));
            assert.deepEqual(
                named.Images!.map((i) => i.ImageId),
                [first],
                "the refused call made no image",
            );
            await ec2.send(new DeregisterImageCommand({ ImageId: first }));
            await bake(ec2, name);
        });

        it("deprecation is reported as DeprecationTime, rounded to the minute, until disabled", async () => {
            const { ec2 } = await through();
            const id = await bake(ec2, uniqueName("deprecate"));
            await ec2.send(new EnableImageDeprecationCommand({ ImageId: id, DeprecateAt: new Date("2099-03-04T05:06:40Z") }));
            assert.equal((await describe1(ec2, id)).DeprecationTime, "2099-03-04T05:07:00.000Z");
            await ec2.send(new DisableImageDeprecationCommand({ ImageId: id }));
            assert.equal((await describe1(ec2, id)).DeprecationTime, undefined);
        });

        it("a deregistration-protected image reports it and cannot be deregistered until protection is disabled", async () => {
            const { ec2 } = await through();
            const id = await bake(ec2, uniqueName("protect"));
            await ec2.send(new EnableImageDeregistrationProtectionCommand({ ImageId: id }));
            assert.equal((await describe1(ec2, id)).DeregistrationProtection, "enabled-without-cooldown");
            assert.equal(await rejection(ec2.send(new DeregisterImageCommand({ ImageId: id }))), "InvalidParameterValue");
            assert.equal((await describe1(ec2, id)).State, "available", "the image is still there");
            await ec2.send(new DisableImageDeregistrationProtectionCommand({ ImageId: id }));
            assert.equal((await describe1(ec2, id)).DeregistrationProtection, "disabled");
            await ec2.send(new DeregisterImageCommand({ ImageId: id }));
            const left = await direct.send(new DescribeImagesCommand({ Owners: ["self"] }));
            assert.ok(!left.Images!.some((i) => i.ImageId === id), "deregistered");
        });

        it("deprecating or protecting an unknown image fails InvalidAMIID.NotFound", async () => {
            const { ec2 } = await through();
            assert.equal(
                await rejection(
                    ec2.send(
                        new EnableImageDeprecationCommand({
                            ImageId: "ami-0123456789abcdef0",
                            DeprecateAt: new Date("2099-01-01T00:00:00Z"),
                        }),
                    ),
                ),
                "InvalidAMIID.NotFound",
            );
            assert.equal(
                await rejection(ec2.send(new EnableImageDeregistrationProtectionCommand({ ImageId: "ami-0123456789abcdef0" }))),
                "InvalidAMIID.NotFound",
            );
        });
    });

    describe("DescribeImages", () => {
        it("pages answers by pageSize with a NextToken, and paginateDescribeImages collects every image", async () => {
            const { ec2 } = await through({ pageSize: 2 });
            const prefix = uniqueName("page");
            const ids = [await bake(ec2, `${prefix}-a`), await bake(ec2, `${prefix}-b`), await bake(ec2, `${prefix}-c`)];
            const query = { Owners: ["self"], Filters: [{ Name: "name", Values: [`${prefix}-*`] }] };

            const page1 = await ec2.send(new DescribeImagesCommand({ ...query, MaxResults: 5 }));
            assert.equal(page1.Images!.length, 2);
            assert.ok(page1.NextToken, "a first page carries a NextToken");
            const page2 = await ec2.send(new DescribeImagesCommand({ ...query, MaxResults: 5, NextToken: page1.NextToken }));
            assert.equal(page2.Images!.length, 1);
            assert.equal(page2.NextToken, undefined, "the last page has none");
            assert.deepEqual([...page1.Images!, ...page2.Images!].map((i) => i.ImageId).sort(), [...ids].sort());

            const collected: string[] = [];
            let pages = 0;
            for await (const page of paginateDescribeImages({ client: ec2, pageSize: 5 }, query)) {
                pages++;
                collected.push(...page.Images!.map((i) => i.ImageId!));
            }
            assert.equal(pages, 2);
            assert.deepEqual(collected.sort(), [...ids].sort());
        });

        it("the block-device-mapping.snapshot-id filter returns exactly the images using those snapshots", async () => {
            const { ec2 } = await through();
            const nameA = uniqueName("snapA");
            const a = await bake(ec2, nameA);
            const b = await bake(ec2, uniqueName("snapB"));
            const [snapA] = snapshotsOf(await describe1(ec2, a));
            const [snapB] = snapshotsOf(await describe1(ec2, b));
            const using = async (filters: { Name: string; Values: string[] }[]) =>
                ((await ec2.send(new DescribeImagesCommand({ Owners: ["self"], Filters: filters }))).Images ?? [])
                    .map((i) => i.ImageId)
                    .sort();

            assert.deepEqual(await using([{ Name: "block-device-mapping.snapshot-id", Values: [snapA] }]), [a]);
            assert.deepEqual(await using([{ Name: "block-device-mapping.snapshot-id", Values: [snapA, snapB] }]), [a, b].sort());
            // moto registers the base image with a snapshot of its own
            const baseSnapshots = snapshotsOf(await describe1(direct, source.baseImageId));
            assert.deepEqual(await using([{ Name: "block-device-mapping.snapshot-id", Values: baseSnapshots }]), [source.baseImageId]);
            // other filters still apply, whatever their position
            assert.deepEqual(
                await using([
                    { Name: "block-device-mapping.snapshot-id", Values: [snapA, snapB] },
                    { Name: "name", Values: [nameA] },
                ]),
                [a],
            );
            assert.deepEqual(
                await using([
                    { Name: "block-device-mapping.snapshot-id", Values: [snapB] },
                    { Name: "name", Values: [nameA] },
                ]),
                [],
            );
        });
    });
});

describe("EC2 test proxy: answers lost after the call and idempotency tokens", () => {
    it("a lost response means the call happened: CopyImage retried with the same ClientToken returns the same copy, as EC2 does", async () => {
        const { startEc2Proxy } = await import("../../emulator/ec2-proxy");
        const { currentMoto } = await import("../support/moto-hooks");
        const { createSourceInstance } = await import("../../scripts/lib/ec2-fixtures");
        const { CopyImageCommand, CreateImageCommand, DeregisterImageCommand, EC2Client } = await import("@aws-sdk/client-ec2");
        const proxy = await startEc2Proxy({ target: currentMoto().endpoint });
        const direct = new EC2Client({ region: "us-east-1" });
        const viaProxy = new EC2Client({ region: "us-west-2", endpoint: proxy.endpoint, maxAttempts: 5 });
        try {
            const { instanceId } = await createSourceInstance("us-east-1");
            const source = (await direct.send(new CreateImageCommand({ InstanceId: instanceId, Name: `proxy-token-${Date.now()}` })))
                .ImageId!;
            proxy.setOptions({ faultRate: 1, faults: ["lost-response"] });
            const lost = viaProxy.send(
                new CopyImageCommand({ SourceImageId: source, SourceRegion: "us-east-1", Name: "c", ClientToken: "tok-1" }),
            );
            await assert.rejects(lost, "every answer is lost");
            proxy.setOptions({ faultRate: 0 });
            const a = await viaProxy.send(
                new CopyImageCommand({ SourceImageId: source, SourceRegion: "us-east-1", Name: "c", ClientToken: "tok-1" }),
            );
            const b = await viaProxy.send(
                new CopyImageCommand({ SourceImageId: source, SourceRegion: "us-east-1", Name: "c", ClientToken: "tok-1" }),
            );
            assert.equal(a.ImageId, b.ImageId);
            assert.ok(proxy.stats().faultsByKind["lost-response"] >= 1);
            await viaProxy.send(new DeregisterImageCommand({ ImageId: a.ImageId! }));
            await direct.send(new DeregisterImageCommand({ ImageId: source }));
        } finally {
            direct.destroy();
            viaProxy.destroy();
            await proxy.stop();
        }
    });
});
