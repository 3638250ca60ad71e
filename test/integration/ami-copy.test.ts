// AmiCopy's hooks through the real AWS SDK against moto, in two regions.
// Moto ignores ClientToken, encryption and CopyImageTags and never fails a
// copy: those paths are covered in test/unit/ami-copy.test.ts.
import { DescribeImagesCommand, EC2Client } from "@aws-sdk/client-ec2";
import assert from "node:assert/strict";
import * as sinon from "sinon";
import * as copyHooks from "../../dynamic-providers/ami-copy-hooks";
import * as bakeHooks from "../../dynamic-providers/ami-from-instance-hooks";
import { createSourceInstance, inventory } from "../../scripts/lib/ec2-fixtures";

const SOURCE_REGION = "us-east-1";
const DEST_REGION = "us-west-2";

describe("AmiCopy against moto (two regions)", () => {
    let source: { id: string; state: Record<string, unknown> };
    let log: sinon.SinonStub;

    before(async () => {
        const { instanceId } = await createSourceInstance(SOURCE_REGION);
        const { inputs } = await bakeHooks.check(
            {},
            { sourceInstanceId: instanceId, name: "integ-copy-source", region: SOURCE_REGION, tags: { App: "web" } },
        );
        const r = await bakeHooks.create(inputs);
        source = { id: r.id, state: r.outs };
    });
    after(async () => {
        const quiet = sinon.stub(console, "log");
        try {
            await bakeHooks.delete(source.id, source.state as never);
        } finally {
            quiet.restore();
        }
    });
    beforeEach(() => {
        log = sinon.stub(console, "log");
    });
    afterEach(() => log.restore());

    it("copies the AMI into the destination region, tagged, and destroy removes copy and snapshots there", async () => {
        const { inputs, failures } = await copyHooks.check(
            {},
            {
                sourceAmiId: source.id,
                sourceAmiRegion: SOURCE_REGION,
                region: DEST_REGION,
                name: "integ-copy",
                tags: { App: "web", Copy: "dr" },
            },
        );
        assert.deepEqual(failures, []);
        const before = await inventory(DEST_REGION);
        const r = await copyHooks.create(inputs);
        const dest = new EC2Client({ region: DEST_REGION });
        try {
            const img = (await dest.send(new DescribeImagesCommand({ ImageIds: [r.id] }))).Images![0];
            assert.equal(img.State, "available");
            assert.equal(img.Name, "integ-copy");
            assert.deepEqual(Object.fromEntries(img.Tags!.map((t) => [t.Key, t.Value])), {
                App: "web",
                Copy: "dr",
                "golden-ami:create-finished": r.id,
            });
            assert.equal(r.outs.region, DEST_REGION);
            assert.equal((r.outs.snapshotIds as string[]).length, 1, "the copy has its own snapshot");
        } finally {
            dest.destroy();
        }
        // the copy is not in the source region
        assert.ok(!(await inventory(SOURCE_REGION)).images.some((i: { id: string }) => i.id === r.id));

        const updated = await copyHooks.update(r.id, r.outs as never, { ...inputs, tags: { App: "web", Copy: "dr2" } });
        assert.deepEqual(updated.outs.tags, { App: "web", Copy: "dr2" });

        await copyHooks.delete(r.id, updated.outs as never);
        const after = await inventory(DEST_REGION);
        assert.deepEqual(
            after.images.filter((i: { id: string }) => !before.images.some((b: { id: string }) => b.id === i.id)),
            [],
        );
        assert.deepEqual(
            after.snapshots.filter((s: { id: string }) => !before.snapshots.some((b: { id: string }) => b.id === s.id)),
            [],
        );
    });

    it("refuses, at check, a copy into the source region under the source's own name", async () => {
        const r = await copyHooks.check(
            {},
            { sourceAmiId: source.id, sourceAmiRegion: SOURCE_REGION, region: SOURCE_REGION, name: "integ-copy-source" },
        );
        assert.equal(r.failures?.[0]?.property, "name");
    });

    it("fails with the AWS error code when the source AMI does not exist", async () => {
        const { inputs } = await copyHooks.check(
            {},
            { sourceAmiId: "ami-0000000000000dead", sourceAmiRegion: SOURCE_REGION, region: DEST_REGION, name: "integ-copy-missing" },
        );
        await assert.rejects(copyHooks.create(inputs), /CopyImage: InvalidAMIID.NotFound/);
    });
});
