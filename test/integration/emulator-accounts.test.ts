// The emulator's accounts through the real AWS SDK: moto's STS AssumeRole
// gives credentials in the role's account ("Multi-Account support", moto's
// docs), and the image service answers each account as EC2 does. An image is
// visible to its owner, and to another account only when public or shared
// with it ("DescribeImages": "The images available to you include public
// images, private images that you own, and private images owned by other AWS
// accounts for which you have explicit launch permissions";
// "ModifyImageAttribute": launch permissions add or remove account ids). One
// emulator for the file.
import {
    CopyImageCommand,
    CreateImageCommand,
    CreateVolumeCommand,
    DeleteVolumeCommand,
    DescribeVolumesCommand,
    DescribeImagesCommand,
    DescribeSnapshotsCommand,
    EC2Client,
    Image,
    ModifyImageAttributeCommand,
    RunInstancesCommand,
} from "@aws-sdk/client-ec2";
import { CreateKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import { GetParameterCommand, PutParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { fromTemporaryCredentials } from "@aws-sdk/credential-providers";
import assert from "node:assert/strict";
import { ec2Client, withRole } from "../../dynamic-providers/ec2/client";
import { startEmulator, type Emulator } from "../../emulator/emulator";
import { refusal } from "../support/aws-errors";

const REGION = "us-east-1";
const CALLER = "123456789012";
const OTHER = "111122223333";
const AL2023 = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";

describe("emulator: accounts (STS AssumeRole) and images shared between them", function () {
    this.timeout(120_000);
    let emulator: Emulator;
    let mine: EC2Client;
    let theirs: EC2Client;
    let theirImage: string;

    const settled = async (client: EC2Client, id: string): Promise<Image> => {
        for (let i = 0; i < 10; i++) {
            const img = (await client.send(new DescribeImagesCommand({ ImageIds: [id] }))).Images![0];
            if (img.State !== "pending") return img;
        }
        throw new Error(`${id} stays pending`);
    };
    const ids = async (client: EC2Client, query: { Owners?: string[]; ExecutableBy?: string[] }) => {
        const found: string[] = [];
        let NextToken: string | undefined;
        do {
            const page = await client.send(new DescribeImagesCommand({ ...query, NextToken }));
            found.push(...page.Images!.map((i) => i.ImageId!));
            NextToken = page.NextToken;
        } while (NextToken);
        return found;
    };

    before(async () => {
        emulator = await startEmulator({ seed: 11 });
        const credentials = { accessKeyId: "testing", secretAccessKey: "testing" };
        mine = new EC2Client({ region: REGION, endpoint: emulator.endpoint, credentials });
        theirs = new EC2Client({
            region: REGION,
            endpoint: emulator.endpoint,
            credentials: fromTemporaryCredentials({
                params: { RoleArn: `arn:aws:iam::${OTHER}:role/images`, RoleSessionName: "accounts-test" },
                masterCredentials: credentials,
                clientConfig: { region: REGION, endpoint: emulator.endpoint },
            }),
        });
        const ssm = new SSMClient({ region: REGION, endpoint: emulator.endpoint, credentials });
        const base = (await ssm.send(new GetParameterCommand({ Name: AL2023 }))).Parameter!.Value!;
        ssm.destroy();
        const run = await theirs.send(new RunInstancesCommand({ ImageId: base, InstanceType: "t3.micro", MinCount: 1, MaxCount: 1 }));
        const { ImageId } = await theirs.send(new CreateImageCommand({ InstanceId: run.Instances![0].InstanceId!, Name: "theirs-1" }));
        theirImage = ImageId!;
        await settled(theirs, theirImage);
    });

    after(async () => {
        mine?.destroy();
        theirs?.destroy();
        await emulator?.stop();
    });

    it("an image made with an assumed role's credentials is owned by the role's account and private to it", async () => {
        const img = await settled(theirs, theirImage);
        assert.equal(img.OwnerId, OTHER);
        assert.deepEqual(await ids(theirs, { Owners: ["self"] }), [theirImage]);
        assert.equal(await refusal(mine.send(new DescribeImagesCommand({ ImageIds: [theirImage] }))), "InvalidAMIID.NotFound");
        assert.ok(!(await ids(mine, { Owners: [OTHER] })).includes(theirImage));
        assert.ok(!(await ids(mine, { ExecutableBy: ["self"] })).includes(theirImage));
    });

    it("shared by launch permission: visible to the other account (Owners id, ExecutableBy self), not its own, not modifiable by it", async () => {
        await theirs.send(new ModifyImageAttributeCommand({ ImageId: theirImage, LaunchPermission: { Add: [{ UserId: CALLER }] } }));
        const seen = await settled(mine, theirImage);
        assert.equal(seen.OwnerId, OTHER);
        assert.equal(seen.Public, false);
        assert.deepEqual(await ids(mine, { Owners: [OTHER] }), [theirImage]);
        assert.ok((await ids(mine, { ExecutableBy: ["self"] })).includes(theirImage));
        assert.ok(!(await ids(mine, { Owners: ["self"] })).includes(theirImage));
        assert.equal(
            await refusal(
                mine.send(new ModifyImageAttributeCommand({ ImageId: theirImage, LaunchPermission: { Add: [{ Group: "all" }] } })),
            ),
            "AuthFailure",
        );
    });

    it("CopyImage of an image shared with the caller makes a copy owned by the caller, invisible to the source's owner", async () => {
        const { ImageId } = await mine.send(
            new CopyImageCommand({ SourceImageId: theirImage, SourceRegion: REGION, Name: "copied-from-theirs" }),
        );
        const copy = await settled(mine, ImageId!);
        assert.equal(copy.State, "available");
        assert.equal(copy.OwnerId, CALLER);
        assert.equal(copy.SourceImageId, theirImage);
        assert.ok((await ids(mine, { Owners: ["self"] })).includes(ImageId!));
        assert.equal(await refusal(theirs.send(new DescribeImagesCommand({ ImageIds: [ImageId!] }))), "InvalidAMIID.NotFound");
    });

    it("a cross-account copy gets new snapshots owned by the caller, encrypted with the caller's own KMS key when asked", async () => {
        const kms = new KMSClient({
            region: REGION,
            endpoint: emulator.endpoint,
            credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
        });
        const key = (await kms.send(new CreateKeyCommand({ Description: "copies of shared images" }))).KeyMetadata!.Arn!;
        kms.destroy();
        const { ImageId } = await mine.send(
            new CopyImageCommand({
                SourceImageId: theirImage,
                SourceRegion: REGION,
                Name: "copied-encrypted",
                Encrypted: true,
                KmsKeyId: key,
            }),
        );
        const copy = await settled(mine, ImageId!);
        assert.equal(copy.State, "available");
        const source = await settled(theirs, theirImage);
        const sourceSnapshots = source.BlockDeviceMappings!.filter((m) => m.Ebs).map((m) => m.Ebs!.SnapshotId!);
        const copySnapshots = copy.BlockDeviceMappings!.filter((m) => m.Ebs).map((m) => m.Ebs!.SnapshotId!);
        assert.ok(copySnapshots.length > 0 && copySnapshots.every((id) => !sourceSnapshots.includes(id)), "new snapshots");
        const snaps = (await mine.send(new DescribeSnapshotsCommand({ SnapshotIds: copySnapshots }))).Snapshots!;
        assert.deepEqual(
            snaps.map((s) => [s.OwnerId, s.Encrypted]),
            copySnapshots.map(() => [CALLER, true]),
        );
        assert.ok(copy.BlockDeviceMappings!.filter((m) => m.Ebs).every((m) => m.Ebs!.KmsKeyId === key));
    });

    it("a shared image whose snapshots are encrypted with its owner's key: the copy fails (the key is not shared with the caller)", async () => {
        const { ImageId: encrypted } = await theirs.send(
            new CopyImageCommand({ SourceImageId: theirImage, SourceRegion: REGION, Name: "theirs-encrypted", Encrypted: true }),
        );
        assert.equal((await settled(theirs, encrypted!)).State, "available");
        await theirs.send(new ModifyImageAttributeCommand({ ImageId: encrypted!, LaunchPermission: { Add: [{ UserId: CALLER }] } }));
        const { ImageId } = await mine.send(
            new CopyImageCommand({ SourceImageId: encrypted!, SourceRegion: REGION, Name: "copy-of-encrypted" }),
        );
        const copy = await settled(mine, ImageId!);
        assert.equal(copy.State, "failed");
        assert.match(copy.StateReason!.Message!, /not shared with account 123456789012/);
    });

    it("an aws:ec2:image parameter is validated and written in the caller's account: the role's image, the role's parameter", async () => {
        const ssm = new SSMClient({
            region: REGION,
            endpoint: emulator.endpoint,
            credentials: fromTemporaryCredentials({
                params: { RoleArn: `arn:aws:iam::${OTHER}:role/images`, RoleSessionName: "accounts-ssm" },
                masterCredentials: { accessKeyId: "testing", secretAccessKey: "testing" },
                clientConfig: { region: REGION, endpoint: emulator.endpoint },
            }),
        });
        const mineSsm = new SSMClient({
            region: REGION,
            endpoint: emulator.endpoint,
            credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
        });
        try {
            const Name = "/accounts/theirs/latest";
            await ssm.send(new PutParameterCommand({ Name, Value: theirImage, Type: "String", DataType: "aws:ec2:image" }));
            await emulator.ssmImages.settled();
            assert.equal((await ssm.send(new GetParameterCommand({ Name }))).Parameter!.Value, theirImage);
            assert.equal(await refusal(mineSsm.send(new GetParameterCommand({ Name }))), "ParameterNotFound");
        } finally {
            ssm.destroy();
            mineSsm.destroy();
        }
    });

    it("a launch permission removed: the image is no longer visible to the other account, and CopyImage of it is refused", async () => {
        await theirs.send(new ModifyImageAttributeCommand({ ImageId: theirImage, LaunchPermission: { Remove: [{ UserId: CALLER }] } }));
        assert.equal(await refusal(mine.send(new DescribeImagesCommand({ ImageIds: [theirImage] }))), "InvalidAMIID.NotFound");
        assert.equal(
            await refusal(mine.send(new CopyImageCommand({ SourceImageId: theirImage, SourceRegion: REGION, Name: "not-shared" }))),
            "InvalidAMIID.NotFound",
        );
        assert.ok((await ids(theirs, { Owners: ["self"] })).includes(theirImage));
    });
});

describe("a resource's role: every client its hook asks for calls AWS in the role's account", function () {
    this.timeout(120_000);

    it("STS AssumeRole at AWS_ENDPOINT_URL_STS, then EC2 in the role's account only", async () => {
        const role = { roleArn: `arn:aws:iam::${OTHER}:role/golden-ami`, externalId: "ext-accounts-test" };
        const volumeIn = async (client: EC2Client) => {
            return (await client.send(new DescribeVolumesCommand({}))).Volumes!.map((v) => v.VolumeId!);
        };
        const made = await withRole(role, async () =>
            ec2Client(REGION).send(new CreateVolumeCommand({ AvailabilityZone: `${REGION}a`, Size: 1 })),
        );
        try {
            assert.ok((await withRole(role, () => volumeIn(ec2Client(REGION)))).includes(made.VolumeId!));
            assert.ok(!(await volumeIn(ec2Client(REGION))).includes(made.VolumeId!), "not in the caller's account");
        } finally {
            await withRole(role, () => ec2Client(REGION).send(new DeleteVolumeCommand({ VolumeId: made.VolumeId! })));
        }
    });
});
