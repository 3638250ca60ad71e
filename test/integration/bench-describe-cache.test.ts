import {
    CreateImageCommand,
    CreateTagsCommand,
    DeleteSnapshotCommand,
    DeregisterImageCommand,
    DescribeImagesCommand,
    type DescribeImagesCommandInput,
    EC2Client,
    RunInstancesCommand,
} from "@aws-sdk/client-ec2";
import assert from "node:assert/strict";
import { Ec2Emulator, startEc2Emulator } from "../../bench/emulator-stack";

// The bench puts an answer cache between each proxy and its moto. It may
// only ever save moto's time, never change an answer: after every kind of
// write it follows, its answers must equal moto's own.
describe("bench: the DescribeImages answer cache in front of moto", function () {
    this.timeout(120_000);
    const region = "ap-northeast-2";
    let emu: Ec2Emulator;
    let cached: EC2Client;
    let raw: EC2Client;
    const images: string[] = [];

    const client = (endpoint: string) =>
        new EC2Client({ region, endpoint, credentials: { accessKeyId: "testing", secretAccessKey: "testing" }, maxAttempts: 1 });

    /** Both answers, as the SDK parses them, in one order. */
    async function both(input: DescribeImagesCommandInput) {
        const ask = async (c: EC2Client) => {
            try {
                const r = await c.send(new DescribeImagesCommand(input));
                return (r.Images ?? []).sort((a, b) => (a.ImageId! < b.ImageId! ? -1 : 1));
            } catch (e) {
                return { error: (e as { name?: string }).name };
            }
        };
        return { viaCache: await ask(cached), fromMoto: await ask(raw) };
    }

    async function assertSame(input: DescribeImagesCommandInput, what: string) {
        const { viaCache, fromMoto } = await both(input);
        assert.deepEqual(viaCache, fromMoto, what);
        return fromMoto;
    }

    before(async () => {
        emu = await startEc2Emulator([region], { latencyMs: 0 });
        cached = client(emu.direct(region));
        raw = client(emu.moto(region).endpoint);
        const run = await raw.send(
            new RunInstancesCommand({ ImageId: "ami-12c6146b", MinCount: 1, MaxCount: 1, InstanceType: "t3.micro" }),
        );
        const instanceId = run.Instances![0].InstanceId!;
        for (let i = 0; i < 6; i++)
            images.push((await raw.send(new CreateImageCommand({ InstanceId: instanceId, Name: `cache-${i}` }))).ImageId!);
    });

    after(async () => {
        await emu?.stop();
    });

    it("answers like moto after a deregistration, a snapshot deletion and any other write", async () => {
        const all = { Owners: ["self"] };
        const byName = { Owners: ["self"], Filters: [{ Name: "name", Values: ["cache-*"] }] };
        const first = await assertSame(all, "before any write");
        assert.equal(Array.isArray(first) && first.filter((i) => i.Name?.startsWith("cache-")).length, 6);
        await assertSame(byName, "filtered, before any write");
        await assertSame({ ImageIds: [images[0]] }, "by id, before any write");
        // Asked again: now from the cache, still the same.
        await assertSame(all, "cached");

        const snapshot = (first as { ImageId?: string; BlockDeviceMappings?: { Ebs?: { SnapshotId?: string } }[] }[]).find(
            (i) => i.ImageId === images[0],
        )!.BlockDeviceMappings![0].Ebs!.SnapshotId!;
        await cached.send(new DeregisterImageCommand({ ImageId: images[0] }));
        const after = await assertSame(all, "after DeregisterImage");
        assert.equal(
            Array.isArray(after) && after.length,
            (first as unknown[]).length - 1,
            "the deregistered image is gone from the listing",
        );
        await assertSame(byName, "filtered, after DeregisterImage");
        const gone = await assertSame({ ImageIds: [images[0]] }, "by the deregistered id");
        assert.ok(!Array.isArray(gone) || gone.length === 0, "the deregistered image is not answered by id");

        await cached.send(new DeleteSnapshotCommand({ SnapshotId: snapshot }));
        await assertSame(all, "after DeleteSnapshot");
        await assertSame({ ImageIds: [images[1]] }, "by id, after DeleteSnapshot");

        await cached.send(new CreateTagsCommand({ Resources: [images[1]], Tags: [{ Key: "k", Value: "v" }] }));
        const tagged = await assertSame(all, "after CreateTags");
        assert.deepEqual(
            (tagged as { ImageId?: string; Tags?: unknown[] }[]).find((i) => i.ImageId === images[1])!.Tags,
            [{ Key: "k", Value: "v" }],
            "a write the cache cannot follow empties it",
        );
    });

    it("keeps no answer that a write crossed", async () => {
        const all = { Owners: ["self"] };
        // A listing and a deregistration in flight together: whatever order moto serves them in, the next listing is moto's.
        await Promise.all([
            cached.send(new DescribeImagesCommand(all)),
            cached.send(new DeregisterImageCommand({ ImageId: images[2] })),
            cached.send(new DescribeImagesCommand(all)),
            cached.send(new DeregisterImageCommand({ ImageId: images[3] })),
            cached.send(new DescribeImagesCommand(all)),
        ]);
        const after = await assertSame(all, "after listings and deregistrations crossed");
        assert.ok(Array.isArray(after) && !after.some((i) => i.ImageId === images[2] || i.ImageId === images[3]));
    });
});
