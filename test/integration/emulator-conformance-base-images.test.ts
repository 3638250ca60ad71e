// Conformance: the public Amazon Linux base images and the public SSM
// parameters that name them (emulator/base-images.ts), through the AWS SDK
// and the AWS CLI against `startEmulator()`. Pages followed:
//   "Reference AMIs using Systems Manager parameters" / "Query for the latest
//   Amazon Linux AMI IDs" (Amazon EC2 User Guide,
//   using-systems-manager-parameter-to-find-AMI.html): the public parameters
//   under /aws/service/ami-amazon-linux-latest/ name the current image in each region.
//   DescribeImages (API_DescribeImages.html): Owners `amazon`; Image fields
//   Public, State, ImageOwnerAlias, RootDeviceType (ebs), VirtualizationType (hvm), Architecture.
//   DescribeSnapshots (API_DescribeSnapshots.html): snapshots "available to
//   you" are yours, public ones and ones shared with you (not Amazon's private ones).
import {
    CreateImageCommand,
    DescribeImagesCommand,
    paginateDescribeImages,
    DescribeRegionsCommand,
    DescribeSnapshotsCommand,
    EC2Client,
    RunInstancesCommand,
    waitUntilImageAvailable,
} from "@aws-sdk/client-ec2";
import { GetParameterCommand, GetParametersCommand } from "@aws-sdk/client-ssm";
import assert from "node:assert/strict";
import { resolveBaseImage } from "../../dynamic-providers/ec2/builder-instance";
import { AMAZON_OWNER_ID, BASE_IMAGE_PARAMETERS } from "../../emulator/base-images";
import { cliOk, startSession, type Session } from "../support/conformance";

describe("emulator conformance: public Amazon Linux base images (EC2 user guide, SSM public parameters)", () => {
    let session: Session;

    before(async function () {
        this.timeout(120_000);
        session = await startSession();
    });

    after(async function () {
        this.timeout(30_000);
        await session?.stop();
    });

    for (const region of ["us-east-1", "eu-west-1", "ap-southeast-2"]) {
        it(`in ${region}, each public parameter names a public, available, amazon-owned ebs/hvm image of its architecture`, async () => {
            const ec2 = session.ec2(region);
            const ssm = session.ssm(region);
            // Every page: DescribeImages pages as EC2 does.
            const amazonIds = new Set<string | undefined>();
            for await (const page of paginateDescribeImages({ client: ec2 }, { Owners: ["amazon"] })) {
                for (const i of page.Images ?? []) amazonIds.add(i.ImageId);
            }
            for (const name of BASE_IMAGE_PARAMETERS) {
                const imageId = (await ssm.send(new GetParameterCommand({ Name: name }))).Parameter!.Value!;
                assert.match(imageId, /^ami-[0-9a-f]{17}$/, name);
                const [image] = (await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images!;
                assert.ok(image, `${name} names ${imageId}, which DescribeImages knows`);
                assert.deepEqual(
                    {
                        Public: image.Public,
                        State: image.State,
                        ImageOwnerAlias: image.ImageOwnerAlias,
                        OwnerId: image.OwnerId,
                        RootDeviceType: image.RootDeviceType,
                        VirtualizationType: image.VirtualizationType,
                        Architecture: image.Architecture,
                    },
                    {
                        Public: true,
                        State: "available",
                        ImageOwnerAlias: "amazon",
                        OwnerId: AMAZON_OWNER_ID,
                        RootDeviceType: "ebs",
                        VirtualizationType: "hvm",
                        Architecture: name.endsWith("arm64") ? "arm64" : "x86_64",
                    },
                    name,
                );
                assert.ok(amazonIds.has(imageId), `DescribeImages Owners=amazon lists ${imageId}`);
            }
        });
    }

    it("in every region the emulator lists (DescribeRegions) that has Amazon Linux, each parameter names an image there", async () => {
        const regions = (await session.ec2().send(new DescribeRegionsCommand({}))).Regions!.map((r) => r.RegionName!);
        const covered: string[] = [];
        for (const region of regions) {
            const ssm = session.ssm(region);
            const ec2 = session.ec2(region);
            const values = await ssm.send(new GetParametersCommand({ Names: [...BASE_IMAGE_PARAMETERS] }));
            if (values.Parameters!.length === 0) continue; // a region moto has no Amazon Linux data for
            assert.equal(values.Parameters!.length, BASE_IMAGE_PARAMETERS.length, region);
            const ids = values.Parameters!.map((p) => p.Value!);
            const images = (await ec2.send(new DescribeImagesCommand({ ImageIds: ids }))).Images!;
            assert.deepEqual(new Set(images.map((i) => i.ImageId)), new Set(ids), region);
            assert.ok(
                images.every((i) => i.Public && i.State === "available" && i.ImageOwnerAlias === "amazon"),
                region,
            );
            covered.push(region);
        }
        assert.ok(covered.length >= 25, `base images in ${covered.length} regions: ${covered.join(", ")}`);
    });

    it("Amazon's images are not the account's: Owners=self lists none, DescribeSnapshots shows none of their snapshots", async () => {
        const ec2 = session.ec2();
        assert.deepEqual((await ec2.send(new DescribeImagesCommand({ Owners: ["self"] }))).Images, []);
        const imageId = (await session.ssm().send(new GetParameterCommand({ Name: BASE_IMAGE_PARAMETERS[0] }))).Parameter!.Value!;
        const [image] = (await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images!;
        const snapshotId = image.BlockDeviceMappings![0].Ebs!.SnapshotId!;
        const all = await ec2.send(new DescribeSnapshotsCommand({ MaxResults: 1000 }));
        assert.ok(!all.Snapshots!.some((s) => s.SnapshotId === snapshotId || s.OwnerId === AMAZON_OWNER_ID));
    });

    // Opt-in regions ("Enable or disable AWS Regions in your account"): Amazon's images there belong to an account
    // of their own, and their snapshots are as private. Nothing of this account's is there yet: no snapshot at all.
    for (const region of ["af-south-1", "ap-southeast-3"]) {
        it(`in the opt-in region ${region} too, DescribeSnapshots shows none of the base images' snapshots`, async () => {
            const ec2 = session.ec2(region);
            assert.deepEqual((await ec2.send(new DescribeImagesCommand({ Owners: ["self"] }))).Images, []);
            for (const input of [{ MaxResults: 1000 }, { MaxResults: 1000, OwnerIds: ["self"] }]) {
                const all = (await ec2.send(new DescribeSnapshotsCommand(input))).Snapshots!;
                assert.deepEqual(
                    all.map((s) => `${s.SnapshotId} of ${s.OwnerId}: ${s.Description}`),
                    [],
                    JSON.stringify(input),
                );
            }
        });
    }

    it("the first step of a pipeline works locally: launch from the al2023 parameter's image and image the instance", async () => {
        const ec2 = session.ec2();
        const imageId = (await session.ssm().send(new GetParameterCommand({ Name: BASE_IMAGE_PARAMETERS[0] }))).Parameter!.Value!;
        const run = await ec2.send(new RunInstancesCommand({ ImageId: imageId, MinCount: 1, MaxCount: 1, InstanceType: "t3.micro" }));
        assert.equal(run.Instances![0].ImageId, imageId);
        const made = await ec2.send(new CreateImageCommand({ InstanceId: run.Instances![0].InstanceId!, Name: "from-al2023-base" }));
        await waitUntilImageAvailable(
            { client: ec2 as EC2Client, maxWaitTime: 60, minDelay: 1, maxDelay: 2 },
            { ImageIds: [made.ImageId!] },
        );
    });

    it("AWS CLI: ssm get-parameters and ec2 describe-images --owners amazon agree", async () => {
        const params = cliOk<{ Parameters: { Name: string; Value: string }[] }>(
            await session.aws(["ssm", "get-parameters", "--names", ...BASE_IMAGE_PARAMETERS]),
        );
        assert.equal(params.Parameters.length, BASE_IMAGE_PARAMETERS.length);
        const images = cliOk<{ Images: { ImageId: string; Public: boolean; ImageOwnerAlias: string }[] }>(
            await session.aws(["ec2", "describe-images", "--owners", "amazon", "--image-ids", ...params.Parameters.map((p) => p.Value)]),
        );
        assert.equal(new Set(images.Images.map((i) => i.ImageId)).size, new Set(params.Parameters.map((p) => p.Value)).size);
        assert.ok(images.Images.every((i) => i.Public && i.ImageOwnerAlias === "amazon"));
    });

    it("golden-ami resolves the README's GoldenImage baseImage (the al2023 parameter) and an owners/namePattern one", async () => {
        const ec2 = session.ec2();
        const ssm = session.ssm();
        const byParameter = await resolveBaseImage(ec2, ssm, {
            ssmParameter: "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
        });
        assert.equal(byParameter.State, "available");
        const byName = await resolveBaseImage(ec2, ssm, { owners: ["amazon"], namePattern: "al2023-ami-2023.*-kernel-6.1-x86_64" });
        assert.equal(byName.ImageId, byParameter.ImageId, "the newest al2023 x86_64 image is the one the parameter names");
    });
});
