// AmiFromInstance's hooks through the real AWS SDK against moto.
// Moto gaps, covered by unit tests instead (test/unit/ami-from-instance.test.ts):
// images are never `pending` or `failed`; EnableImageDeprecation and
// deregistration protection are not implemented; ModifyImageAttribute ignores
// Description; duplicate names are allowed, so adoption after an interrupted
// create cannot happen here.
import { CreateTagsCommand, DeregisterImageCommand, DescribeImagesCommand, DescribeSnapshotsCommand, EC2Client } from "@aws-sdk/client-ec2";
import assert from "node:assert/strict";
import * as sinon from "sinon";
import * as hooks from "../../dynamic-providers/ami-from-instance-hooks";
import { createSourceInstance, inventory } from "../../scripts/lib/ec2-fixtures";

const REGION = "us-east-1";

describe("AmiFromInstance against moto", () => {
    let instanceId: string;
    let ec2: EC2Client;
    let log: sinon.SinonStub;

    before(async () => {
        ec2 = new EC2Client({ region: REGION });
        ({ instanceId } = await createSourceInstance(REGION));
    });
    after(() => ec2.destroy());
    beforeEach(() => {
        log = sinon.stub(console, "log");
    });
    afterEach(() => log.restore());

    async function created(name: string, extra: Record<string, unknown> = {}) {
        const { inputs, failures } = await hooks.check(
            {},
            { sourceInstanceId: instanceId, name, region: REGION, tags: { App: "web" }, ...extra },
        );
        assert.deepEqual(failures, []);
        const r = await hooks.create(inputs);
        return { id: r.id, state: r.outs, inputs };
    }

    it("bakes an image from the instance, tags image and snapshots, and reports outputs EC2 agrees with", async () => {
        const { id, state } = await created("integ-create", { description: "first" });
        const img = (await ec2.send(new DescribeImagesCommand({ ImageIds: [id] }))).Images![0];
        assert.equal(img.State, "available");
        assert.equal(img.Name, "integ-create");
        assert.equal(img.Description, "first");
        assert.equal(state.ownerId, img.OwnerId);
        assert.deepEqual(
            state.snapshotIds,
            img.BlockDeviceMappings!.map((b) => b.Ebs!.SnapshotId),
        );
        const snaps = (await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: state.snapshotIds }))).Snapshots!;
        assert.deepEqual(snaps[0].Tags, [{ Key: "App", Value: "web" }]);
        await hooks.delete(id, state);
    });

    it("updates tags and launch permissions in place", async () => {
        const { id, state, inputs } = await created("integ-update");
        const news = {
            ...inputs,
            tags: { App: "web", Version: "2" },
            description: "second",
            launchPermissions: { userIds: ["111122223333"] },
        };
        const r = await hooks.update(id, state, news);
        const img = (await ec2.send(new DescribeImagesCommand({ ImageIds: [id] }))).Images![0];
        // golden-ami's mark of a finished create stays through updates (kept-image.ts).
        assert.deepEqual(Object.fromEntries(img.Tags!.map((t) => [t.Key, t.Value])), {
            App: "web",
            Version: "2",
            "golden-ami:create-finished": id,
        });
        const read = await hooks.read(id, r.outs as never);
        assert.deepEqual(read.props?.launchPermissions, { userIds: ["111122223333"] });
        await hooks.delete(id, r.outs as never);
    });

    it("refresh sees tags changed by hand; an image deregistered by hand keeps its snapshots tracked until destroy deletes them", async () => {
        const { id, state } = await created("integ-drift");
        await ec2.send(new CreateTagsCommand({ Resources: [id], Tags: [{ Key: "App", Value: "by-hand" }] }));
        const read = await hooks.read(id, state);
        assert.deepEqual(read.props?.tags, { App: "by-hand" });
        assert.deepEqual(read.inputs?.tags, { App: "by-hand" }, "the drift comes back as inputs, for preview --diff");
        const diff = await hooks.diff(id, read.props as never, { ...state, tags: { App: "web" } } as never);
        assert.equal(diff.changes, true, "the next up puts the tag back");
        await ec2.send(new DeregisterImageCommand({ ImageId: id }));
        const gone = await hooks.read(id, state);
        assert.equal(gone.id, id, "the snapshots still exist: the resource stays");
        assert.equal(gone.props?.state, "deregistered");
        assert.deepEqual(gone.props?.snapshotIds, state.snapshotIds);
        // destroy of a resource whose image is already gone still removes its snapshot
        await hooks.delete(id, gone.props as never);
        const left = await inventory(REGION);
        assert.ok(!left.snapshots.some((s: { id: string }) => state.snapshotIds.includes(s.id)));
        assert.deepEqual(await hooks.read(id, gone.props as never), {}, "image and snapshots gone: the resource leaves state");
    });

    it("destroy deregisters the image and deletes its snapshots, leaving nothing", async () => {
        const { id, state } = await created("integ-destroy");
        await hooks.delete(id, state);
        const left = await inventory(REGION);
        assert.ok(!left.images.some((i: { id: string }) => i.id === id), "image gone");
        assert.ok(!left.snapshots.some((s: { id: string }) => state.snapshotIds.includes(s.id)), "snapshots gone");
    });

    it("keeps the snapshots on destroy when deleteSnapshotsOnDestroy is false", async () => {
        const { id, state } = await created("integ-keep", { deleteSnapshotsOnDestroy: false });
        await hooks.delete(id, state);
        const left = await inventory(REGION);
        assert.ok(!left.images.some((i: { id: string }) => i.id === id));
        assert.ok(
            left.snapshots.some((s: { id: string }) => s.id === state.snapshotIds[0]),
            "snapshot kept",
        );
    });

    it("fails with the AWS error code and a hint for an instance that does not exist", async () => {
        const { inputs } = await hooks.check({}, { sourceInstanceId: "i-0000000000000dead", name: "integ-missing", region: REGION });
        await assert.rejects(hooks.create(inputs), /CreateImage: InvalidInstanceID.NotFound/);
    });
});
