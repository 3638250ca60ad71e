// The sweeper through the real AWS SDK against moto: it lists what matches,
// deletes only when asked, and leaves everything else alone.
import { CreateImageCommand, CreateTagsCommand, EC2Client } from "@aws-sdk/client-ec2";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { sweep } from "../../dynamic-providers/ec2/sweeper";
import { createSourceInstance, inventory } from "../../scripts/lib/ec2-fixtures";

const REGION = "eu-west-1";

describe("sweeper against moto", () => {
    let ec2: EC2Client;
    let instanceId: string;

    before(async () => {
        ec2 = new EC2Client({ region: REGION });
        ({ instanceId } = await createSourceInstance(REGION));
    });
    after(() => ec2.destroy());

    async function image(name: string, tags: Record<string, string>): Promise<string> {
        const out = await ec2.send(
            new CreateImageCommand({
                InstanceId: instanceId,
                Name: name,
                TagSpecifications: Object.keys(tags).length
                    ? [{ ResourceType: "image", Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) }]
                    : undefined,
            }),
        );
        return out.ImageId!;
    }

    it("refuses to run without a filter", async () => {
        await assert.rejects(sweep({ regions: [REGION] }), /give a name pattern, tags or a creation time/);
    });

    it("lists the tagged images and their snapshots, deletes them only with delete, and keeps the rest", async () => {
        const swept = await image("sweep-me-1", { Sweep: "yes" });
        const kept = await image("keep-me-1", { Sweep: "no" });
        const listed = await sweep({ regions: [REGION], tags: { Sweep: "yes" } });
        assert.deepEqual(
            listed[0].images.map((i) => i.imageId),
            [swept],
        );
        assert.ok(listed[0].images[0].snapshotIds.length > 0, "the image's snapshots are listed with it");
        assert.ok(
            (await inventory(REGION)).images.some((i) => i.id === swept),
            "listing deletes nothing",
        );

        const done = await sweep({ regions: [REGION], tags: { Sweep: "yes" }, delete: true });
        assert.deepEqual(done[0].failed, []);
        assert.ok(done[0].deleted.includes(swept));
        const left = await inventory(REGION);
        assert.ok(!left.images.some((i) => i.id === swept), "the swept image is gone");
        for (const s of listed[0].images[0].snapshotIds) assert.ok(!left.snapshots.some((x) => x.id === s), `${s} is gone`);
        assert.ok(
            left.images.some((i) => i.id === kept),
            "an image without the tag is kept",
        );
        assert.deepEqual((await sweep({ regions: [REGION], tags: { Sweep: "yes" } }))[0].images, [], "a second sweep finds nothing");
    });

    it("finds images by name pattern and snapshots left without an image", async () => {
        const id = await image("sweep-pattern-1", {});
        const { snapshots } = await inventory(REGION);
        const orphan = snapshots[0].id;
        await ec2.send(new CreateTagsCommand({ Resources: [orphan], Tags: [{ Key: "Orphan", Value: "yes" }] }));
        assert.deepEqual(
            (await sweep({ regions: [REGION], namePattern: "sweep-pattern-*" }))[0].images.map((i) => i.imageId),
            [id],
        );
        const byTag = await sweep({ regions: [REGION], tags: { Orphan: "yes" } });
        assert.deepEqual(byTag[0].images, []);
        assert.deepEqual(
            byTag[0].orphanSnapshots.map((s) => s.snapshotId),
            [orphan],
        );
    });

    it("npm run sweep lists what matches and says how to delete", () => {
        const r = spawnSync(
            process.execPath,
            [path.join(__dirname, "..", "..", "scripts", "sweep.js"), "--region", REGION, "--name-pattern", "sweep-pattern-*"],
            {
                env: process.env,
                encoding: "utf8",
            },
        );
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, /image ami-[0-9a-f]+ sweep-pattern-1/);
        assert.match(r.stdout, /sweep: 1 images, 0 orphan snapshots \(listed only; --delete to delete\)/);
    });
});
