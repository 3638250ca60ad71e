// golden-ami under EC2's eventual consistency, through the real AWS SDK and the
// emulator proxy in front of moto: new ids answer InvalidAMIID.NotFound for a
// few reads, describes answer stale values after a change, CopyImage refuses a
// ClientToken reused with other parameters, answers get lost after the call.
// Every create must end with exactly one image, every destroy with none.
import {
    CopyImageCommand,
    CreateTagsCommand,
    DeleteSnapshotCommand,
    DeleteVolumeCommand,
    DeregisterImageCommand,
    DescribeImagesCommand,
    DescribeSnapshotsCommand,
    EC2Client,
    Image,
    TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import assert from "node:assert/strict";
import * as sinon from "sinon";
import * as copyHooks from "../../dynamic-providers/ami-copy-hooks";
import * as bakeHooks from "../../dynamic-providers/ami-from-instance-hooks";
import { Ec2Proxy, startEc2Proxy } from "../../emulator/ec2-proxy";
import { createSourceInstance, inventory, leftBehind } from "../../scripts/lib/ec2-fixtures";
import { currentMoto } from "../support/moto-hooks";

// Regions no other test's provider client uses: the providers keep one client
// per region for the process, and these must go through the proxy.
const SRC = "ca-central-1";
const DEST = "sa-east-1";
const CONSISTENCY = { notFoundReads: 3, staleReads: 2 };

/**
 * A read the test itself makes right after a write: EC2 may answer the old
 * value for a while, so it is retried (bounded) until `ok` holds, and the last
 * answer is returned for the test's assertions.
 */
async function eventually<T>(read: () => Promise<T>, ok: (value: T) => boolean, tries = 10): Promise<T> {
    let value = await read();
    for (let i = 1; i < tries && !ok(value); i++) {
        await new Promise((r) => setTimeout(r, 50));
        value = await read();
    }
    return value;
}

/** The image's tags but golden-ami's finished-create mark (kept-image.ts). */
const tagsOf = (image: Image | undefined) =>
    Object.fromEntries((image?.Tags ?? []).filter((t) => t.Key !== "golden-ami:create-finished").map((t) => [t.Key, t.Value]));

describe("golden-ami under eventual consistency (proxy in front of moto)", () => {
    let proxy: Ec2Proxy;
    let direct: Record<string, EC2Client>;
    let baseline: Record<string, Awaited<ReturnType<typeof inventory>>>;
    let source: Awaited<ReturnType<typeof createSourceInstance>>;
    let bake: { id: string; outs: Record<string, unknown> };
    let saved: { endpoint?: string; scale?: string };
    let log: sinon.SinonStub;

    /** Live images named `name` in `region`, straight from moto (no proxy, no staleness). */
    const named = async (region: string, name: string) => (await inventory(region)).images.filter((i) => i.name === name);
    const describe1 = async (region: string, id: string) =>
        (await direct[region].send(new DescribeImagesCommand({ ImageIds: [id] }))).Images?.[0];

    before(async function () {
        this.timeout(120_000);
        direct = {
            [SRC]: new EC2Client({ region: SRC, endpoint: currentMoto().endpoint }),
            [DEST]: new EC2Client({ region: DEST, endpoint: currentMoto().endpoint }),
        };
        baseline = { [SRC]: await inventory(SRC), [DEST]: await inventory(DEST) };
        proxy = await startEc2Proxy({
            target: currentMoto().endpoint,
            seed: 11,
            eventualConsistency: CONSISTENCY,
            idempotentParameterMismatch: true,
            duplicateNames: true,
            pendingPolls: 1,
        });
        saved = { endpoint: process.env.AWS_ENDPOINT_URL_EC2, scale: process.env.GOLDEN_AMI_POLL_SCALE };
        process.env.AWS_ENDPOINT_URL_EC2 = proxy.endpoint;
        // 5 s polls take 25 ms; the 300 s visibility window 1.5 s.
        process.env.GOLDEN_AMI_POLL_SCALE = "0.005";
        // The fixture itself runs RunInstances right after RegisterImage: it must wait for visibility.
        source = await createSourceInstance(SRC, { name: "consistency-base" });
        const quiet = sinon.stub(console, "log");
        try {
            const { inputs } = await bakeHooks.check(
                {},
                { sourceInstanceId: source.instanceId, name: "consistency-bake", region: SRC, tags: { App: "web" } },
            );
            const r = await bakeHooks.create(inputs);
            bake = { id: r.id, outs: r.outs };
        } finally {
            quiet.restore();
        }
    });

    after(async function () {
        this.timeout(120_000);
        const quiet = sinon.stub(console, "log");
        try {
            if (bake) await bakeHooks.delete(bake.id, bake.outs as never);
        } finally {
            quiet.restore();
        }
        process.env.AWS_ENDPOINT_URL_EC2 = saved.endpoint;
        if (saved.scale === undefined) delete process.env.GOLDEN_AMI_POLL_SCALE;
        else process.env.GOLDEN_AMI_POLL_SCALE = saved.scale;
        await proxy.stop();
        const d = direct[SRC];
        const snap = (await d.send(new DescribeSnapshotsCommand({ SnapshotIds: [source.baseSnapshotId] }))).Snapshots![0];
        await d.send(new TerminateInstancesCommand({ InstanceIds: [source.instanceId] }));
        // moto gives a registered image a snapshot of its own besides the one it was registered with
        const base = (await d.send(new DescribeImagesCommand({ ImageIds: [source.baseImageId] }))).Images![0];
        await d.send(new DeregisterImageCommand({ ImageId: source.baseImageId }));
        const baseSnapshots = (base.BlockDeviceMappings ?? []).map((b) => b.Ebs?.SnapshotId).filter((x): x is string => !!x);
        for (const snapshotId of new Set([source.baseSnapshotId, ...baseSnapshots])) {
            await d.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId }));
        }
        if (snap.VolumeId) await d.send(new DeleteVolumeCommand({ VolumeId: snap.VolumeId }));
        const left = { [SRC]: leftBehind(baseline[SRC], await inventory(SRC)), [DEST]: leftBehind(baseline[DEST], await inventory(DEST)) };
        for (const c of Object.values(direct)) c.destroy();
        assert.deepEqual(
            left,
            { [SRC]: { images: [], snapshots: [] }, [DEST]: { images: [], snapshots: [] } },
            "nothing left in either region",
        );
    });

    beforeEach(() => {
        proxy.setOptions({ faultRate: 0, eventualConsistency: CONSISTENCY });
        proxy.resetStats();
        log = sinon.stub(console, "log");
    });
    afterEach(() => log.restore());

    it("bakes one image from an instance whose new id is not found at first, and records it", async () => {
        assert.match(bake.id, /^ami-/);
        assert.equal(bake.outs.state, "available");
        assert.deepEqual(
            (await named(SRC, "consistency-bake")).map((i) => i.id),
            [bake.id],
        );
    });

    it("copies exactly once under not-found reads and lost answers, tagged, and update's outputs are what it wrote", async () => {
        proxy.setOptions({ faultRate: 0.3, faults: ["lost-response"] });
        const { inputs } = await copyHooks.check(
            {},
            { sourceAmiId: bake.id, sourceAmiRegion: SRC, region: DEST, name: "consistency-copy", tags: { App: "web", Copy: "dr" } },
        );
        const r = await copyHooks.create(inputs);
        proxy.setOptions({ faultRate: 0 });
        assert.ok(proxy.stats().faultsInjected > 0, "answers were lost");
        assert.deepEqual(
            (await named(DEST, "consistency-copy")).map((i) => i.id),
            [r.id],
            "one copy, even though CopyImage answers were lost",
        );
        assert.deepEqual(tagsOf(await describe1(DEST, r.id)), { App: "web", Copy: "dr" });

        // right after the tags change, describes through the proxy answer the old tags
        const updated = await copyHooks.update(r.id, r.outs as never, { ...inputs, tags: { App: "web", Copy: "dr2" } });
        assert.deepEqual(updated.outs.tags, { App: "web", Copy: "dr2" }, "outputs are what update wrote, not a stale describe");
        const read = await eventually(
            () => copyHooks.read(r.id, updated.outs as never),
            (x) => (x.props?.tags as Record<string, string> | undefined)?.Copy === "dr2",
        );
        assert.deepEqual(read.props?.tags, { App: "web", Copy: "dr2" }, "refresh converges on what was written");
        await copyHooks.delete(r.id, updated.outs as never);
        assert.deepEqual(await named(DEST, "consistency-copy"), []);
    });

    it("makes exactly one new copy each time the copy is destroyed and created again: the token is never stuck", async () => {
        const { inputs } = await copyHooks.check(
            {},
            { sourceAmiId: bake.id, sourceAmiRegion: SRC, region: DEST, name: "consistency-again" },
        );
        const ids: string[] = [];
        for (let round = 1; round <= 3; round++) {
            proxy.resetStats();
            const r = await copyHooks.create(inputs);
            ids.push(r.id);
            assert.deepEqual(
                (await named(DEST, "consistency-again")).map((i) => i.id),
                [r.id],
                `round ${round}: exactly one live copy`,
            );
            // round n walks past the n-1 copies destroyed before: one CopyImage per token
            assert.equal(proxy.stats().byAction.CopyImage, round, `round ${round}: CopyImage calls`);
            await copyHooks.delete(r.id, r.outs as never);
            assert.deepEqual(await named(DEST, "consistency-again"), []);
        }
        assert.equal(new Set(ids).size, 3, "a new copy each round, never the destroyed one");
    });

    it("re-created with other tags after destroy, the copy's token mismatches and the next one makes exactly one copy", async () => {
        const args = { sourceAmiId: bake.id, sourceAmiRegion: SRC, region: DEST, name: "consistency-retag" };
        const a = await copyHooks.create((await copyHooks.check({}, { ...args, tags: { Copy: "a" } })).inputs);
        await copyHooks.delete(a.id, a.outs as never);
        proxy.resetStats();
        const b = await copyHooks.create((await copyHooks.check({}, { ...args, tags: { Copy: "b" } })).inputs);
        assert.notEqual(b.id, a.id);
        assert.equal(proxy.stats().byAction.CopyImage, 2, "the mismatch, then the new copy");
        assert.deepEqual(
            (await named(DEST, "consistency-retag")).map((i) => i.id),
            [b.id],
        );
        assert.deepEqual(tagsOf(await describe1(DEST, b.id)), { Copy: "b" });
        await copyHooks.delete(b.id, b.outs as never);
    });

    it("moves past a token another request used with other parameters (IdempotentParameterMismatch) to exactly one copy", async () => {
        const { inputs } = await copyHooks.check(
            {},
            { sourceAmiId: bake.id, sourceAmiRegion: SRC, region: DEST, name: "consistency-mismatch" },
        );
        // Another request took the token with other parameters (and another name: no live copy of ours).
        const squatter = await ec2DestThroughProxy().send(
            new CopyImageCommand({
                SourceImageId: bake.id,
                SourceRegion: SRC,
                Name: "consistency-squatter",
                ClientToken: copyHooks.copyClientToken(inputs),
            }),
        );
        const r = await copyHooks.create(inputs);
        assert.notEqual(r.id, squatter.ImageId);
        assert.deepEqual(
            (await named(DEST, "consistency-mismatch")).map((i) => i.id),
            [r.id],
        );
        assert.equal(proxy.stats().byAction.CopyImage, 3, "the squatter's copy, the mismatch, ours");
        await copyHooks.delete(r.id, r.outs as never);
        const s = (await named(DEST, "consistency-squatter"))[0];
        const snapshots = ((await describe1(DEST, s.id))?.BlockDeviceMappings ?? [])
            .map((b) => b.Ebs?.SnapshotId)
            .filter((x): x is string => !!x);
        await direct[DEST].send(new DeregisterImageCommand({ ImageId: s.id }));
        for (const snapshotId of snapshots) await direct[DEST].send(new DeleteSnapshotCommand({ SnapshotId: snapshotId }));
    });

    it("refresh sees tags changed by hand once EC2 shows them, and the next up would put them back", async () => {
        const d = ec2DestThroughProxy(SRC);
        await d.send(new CreateTagsCommand({ Resources: [bake.id], Tags: [{ Key: "App", Value: "by-hand" }] }));
        // the first refresh may read the old tags (stale); it converges, never flaps back
        const read = await eventually(
            () => bakeHooks.read(bake.id, bake.outs as never),
            (x) => (x.props?.tags as Record<string, string> | undefined)?.App === "by-hand",
        );
        assert.deepEqual(read.props?.tags, { App: "by-hand" });
        const again = await bakeHooks.read(bake.id, read.props as never);
        assert.deepEqual(again.props?.tags, { App: "by-hand" }, "once seen, the new value stays");
        const diff = await bakeHooks.diff(bake.id, read.props as never, { ...(bake.outs as object), tags: { App: "web" } } as never);
        assert.equal(diff.changes, true);
        // put it back as `up` would; outputs come from what was written
        const u = await bakeHooks.update(bake.id, read.props as never, { ...bake.outs, tags: { App: "web" } } as never);
        assert.deepEqual(u.outs.tags, { App: "web" });
        bake.outs = u.outs;
        const settled = await eventually(
            () => describe1(SRC, bake.id),
            (i) => tagsOf(i).App === "web",
        );
        assert.deepEqual(tagsOf(settled), { App: "web" });
    });

    /** A client through the proxy, as a person or another tool would call EC2. */
    function ec2DestThroughProxy(region = DEST): EC2Client {
        return new EC2Client({ region, endpoint: proxy.endpoint });
    }
});
