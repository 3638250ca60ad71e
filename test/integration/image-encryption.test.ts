// Sharing an image encrypted with the AWS managed key aws/ebs, on the strict
// emulator: KMS says the key is AWS managed, and golden-ami refuses the share
// before any is made; an image under a customer managed key is shared.
import { CopyImageCommand, DescribeImageAttributeCommand, DescribeImagesCommand, EC2Client, Image } from "@aws-sdk/client-ec2";
import { CreateKeyCommand, DescribeKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import { GetParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import assert from "node:assert/strict";
import { startEmulator, type Emulator } from "../../emulator/emulator";
import { ec2Client } from "../../dynamic-providers/ec2/client";
import { changeLaunchPermissions } from "../../dynamic-providers/ec2/image-lifecycle";

// A region no other file's provider clients use: the provider's clients are cached per region for the process.
const REGION = "ap-southeast-3";
const AL2023 = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";
const ACCOUNT = "111122223333";

describe("sharing an image encrypted with aws/ebs (strict emulator)", function () {
    this.timeout(120_000);
    let emulator: Emulator;
    const saved: Record<string, string | undefined> = {};
    const credentials = { accessKeyId: "testing", secretAccessKey: "testing" };
    let ec2: EC2Client;
    let kms: KMSClient;

    /** A copy of the public base image, encrypted with `kmsKeyId` (the account's default key, aws/ebs, when unset), once available. */
    async function encryptedCopy(name: string, kmsKeyId?: string): Promise<Image> {
        const ssm = new SSMClient({ region: REGION, endpoint: emulator.endpoint, credentials });
        const base = (await ssm.send(new GetParameterCommand({ Name: AL2023 }))).Parameter!.Value!;
        ssm.destroy();
        const { ImageId } = await ec2.send(
            new CopyImageCommand({ SourceImageId: base, SourceRegion: REGION, Name: name, Encrypted: true, KmsKeyId: kmsKeyId }),
        );
        for (let i = 0; i < 20; i++) {
            const img = (await ec2.send(new DescribeImagesCommand({ ImageIds: [ImageId!] }))).Images?.[0];
            if (img?.State === "available") return img;
        }
        throw new Error(`${ImageId} never became available`);
    }

    const sharedWith = async (imageId: string) =>
        (await ec2.send(new DescribeImageAttributeCommand({ ImageId: imageId, Attribute: "launchPermission" }))).LaunchPermissions ?? [];

    before(async () => {
        emulator = await startEmulator({ seed: 3 });
        for (const [k, v] of Object.entries(emulator.env)) {
            saved[k] = process.env[k];
            process.env[k] = v;
        }
        ec2 = new EC2Client({ region: REGION, endpoint: emulator.endpoint, credentials });
        kms = new KMSClient({ region: REGION, endpoint: emulator.endpoint, credentials });
    });

    after(async () => {
        for (const [k, v] of Object.entries(saved)) {
            if (v === undefined) delete process.env[k];
            else process.env[k] = v;
        }
        ec2?.destroy();
        kms?.destroy();
        await emulator?.stop();
    });

    it("KMS answers KeyManager AWS for the key of aws/ebs, by alias and by ARN, and CUSTOMER for a key the account made", async () => {
        const byAlias = (await kms.send(new DescribeKeyCommand({ KeyId: "alias/aws/ebs" }))).KeyMetadata!;
        assert.equal(byAlias.KeyManager, "AWS");
        assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: byAlias.Arn! }))).KeyMetadata!.KeyManager, "AWS");
        const own = (await kms.send(new CreateKeyCommand({ Description: "golden-ami test" }))).KeyMetadata!;
        assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: own.Arn! }))).KeyMetadata!.KeyManager, "CUSTOMER");
    });

    it("refuses to share an image encrypted with aws/ebs before any share is made, naming the fix; shares one under a customer managed key", async () => {
        const managed = await encryptedCopy("encrypted-aws-ebs");
        const key = managed.BlockDeviceMappings!.find((m) => m.Ebs?.Encrypted)?.Ebs?.KmsKeyId;
        assert.ok(key, "the copy names its key");
        await assert.rejects(
            changeLaunchPermissions(ec2Client(REGION), managed.ImageId!, { userIds: [ACCOUNT] }, {}),
            new RegExp(`sharing ${managed.ImageId}: it is encrypted with the AWS managed KMS key .*customer managed key`),
        );
        assert.deepEqual(await sharedWith(managed.ImageId!), [], "nothing shared");

        const own = (await kms.send(new CreateKeyCommand({ Description: "golden-ami shared images" }))).KeyMetadata!;
        const custom = await encryptedCopy("encrypted-own-key", own.Arn);
        await changeLaunchPermissions(ec2Client(REGION), custom.ImageId!, { userIds: [ACCOUNT] }, {});
        assert.deepEqual(await sharedWith(custom.ImageId!), [{ UserId: ACCOUNT }]);
    });
});
