// The README's GoldenImage example on `startEmulator()` with its strict
// defaults (paging, asynchronous aws:ec2:image validation, tag rules, base
// images, ...): the base image comes from the public parameter
// /aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64, as on
// AWS, with no base image made by the test. Up (build, copy, publish), then
// destroy, and nothing of the account's is left in either region.
import {
    DescribeImagesCommand,
    DescribeSnapshotsCommand,
    EC2Client,
    type Image,
    paginateDescribeImages,
    paginateDescribeSnapshots,
} from "@aws-sdk/client-ec2";
import { GetParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import assert from "node:assert/strict";
import { startEmulator, type Emulator } from "../../emulator/emulator";
import { newStack, type Stack } from "../support/consumer";

const HOME = "us-east-1";
const COPY = "us-west-2";
const BASE = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";
const PUBLISH = "/golden/emulator/web";

describe("GoldenImage from the public al2023 parameter on the strict emulator (real pulumi CLI, packed package)", () => {
    let emulator: Emulator;
    let stack: Stack;
    const credentials = { accessKeyId: "testing", secretAccessKey: "testing" };
    const ec2 = (region: string) => new EC2Client({ region, endpoint: emulator.endpoint, credentials });

    /** The account's own images (not deregistered) and snapshots in a region, every page. */
    const owned = async (region: string) => {
        const client = ec2(region);
        try {
            const images: Image[] = [];
            for await (const page of paginateDescribeImages({ client }, { Owners: ["self"] })) images.push(...(page.Images ?? []));
            const snapshots: string[] = [];
            for await (const page of paginateDescribeSnapshots({ client }, { OwnerIds: ["self"] })) {
                snapshots.push(...(page.Snapshots ?? []).map((s) => s.SnapshotId!));
            }
            return { images: images.filter((i) => i.State !== "deregistered").map((i) => i.ImageId!), snapshots };
        } finally {
            client.destroy();
        }
    };

    before(async () => {
        emulator = await startEmulator({ builderBootMs: 2000 });
        stack = await newStack("golden-pipeline", "strict-emulator", { ...emulator.env, GOLDEN_AMI_POLL_SCALE: "0.05" });
        await stack.config({ "aws:region": HOME, baseParameter: BASE, version: "1", publishParameter: PUBLISH });
        await stack.run(["config", "set", "--path", "regions[0]", COPY]);
        // A data volume beside the base image's root (build.blockDeviceMappings, as in Image Builder recipes).
        await stack.config({
            blockDeviceMappings: JSON.stringify([{ deviceName: "/dev/sdf", ebs: { volumeSize: 20, volumeType: "gp3" } }]),
        });
    });

    after(async () => {
        await emulator?.stop();
    });

    it("up: builds from the public base image, copies, publishes the id (validated by SSM after PutParameter)", async () => {
        await stack.run(["up", "--yes", "--skip-preview"]);
        const out = await stack.outputs();
        const ssm = new SSMClient({ region: HOME, endpoint: emulator.endpoint, credentials });
        try {
            const base = (await ssm.send(new GetParameterCommand({ Name: BASE }))).Parameter!.Value!;
            assert.equal(out.baseImageId, base);
            const published = (await ssm.send(new GetParameterCommand({ Name: PUBLISH }))).Parameter!;
            assert.equal(published.Value, out.imageId);
            assert.equal(published.DataType, "aws:ec2:image");
        } finally {
            ssm.destroy();
        }
        const copyId = (out.imageIds as Record<string, string>)[COPY];
        assert.ok(copyId, `a copy in ${COPY}: ${JSON.stringify(out.imageIds)}`);
        const client = ec2(COPY);
        const [copy] = (await client.send(new DescribeImagesCommand({ ImageIds: [copyId] }))).Images!;
        client.destroy();
        assert.equal(copy.State, "available");
        // The builder's two volumes are the image's two snapshots, and the copy's own two in its region.
        const home = ec2(HOME);
        const [image] = (await home.send(new DescribeImagesCommand({ ImageIds: [out.imageId as string] }))).Images!;
        home.destroy();
        const devices = (img: Image) => img.BlockDeviceMappings!.map((m) => [m.DeviceName, m.Ebs?.VolumeSize, !!m.Ebs?.SnapshotId]);
        assert.deepEqual(devices(image), [
            ["/dev/xvda", 8, true],
            ["/dev/sdf", 20, true],
        ]);
        assert.deepEqual(devices(copy), devices(image));
        const snaps = (img: Image) => img.BlockDeviceMappings!.map((m) => m.Ebs!.SnapshotId);
        assert.ok(
            snaps(copy).every((s) => !snaps(image).includes(s)),
            "the copy has snapshots of its own",
        );
    });

    it("destroy: no image and no snapshot of the account left in either region", async () => {
        await stack.run(["destroy", "--yes", "--skip-preview"]);
        for (const region of [HOME, COPY]) assert.deepEqual(await owned(region), { images: [], snapshots: [] }, region);
        const client = ec2(HOME);
        const amazon = await client.send(new DescribeSnapshotsCommand({ MaxResults: 1000 }));
        client.destroy();
        assert.deepEqual(amazon.Snapshots, [], "Amazon's base-image snapshots are not the account's to see");
    });
});
