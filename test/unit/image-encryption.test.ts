// Sharing an image encrypted with an AWS managed key (aws/ebs) is refused:
// at preview when the key is named, else before any share is made.
import { DescribeImagesCommand, DescribeSnapshotsCommand, EC2Client, ModifyImageAttributeCommand } from "@aws-sdk/client-ec2";
import { DescribeKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import { mockClient } from "aws-sdk-client-mock";
import assert from "node:assert/strict";
import { changeLaunchPermissions } from "../../dynamic-providers/ec2/image-lifecycle";
import { planningHooks } from "../../dynamic-providers/image-planning";
import { descriptor as copyKind } from "../../sdk/ami-copy";
import { descriptor as bakeKind } from "../../sdk/golden-image-bake";
import { awsManagedKeyShareFailures, namesAwsManagedKey } from "../../sdk/rules/encryption";

const ec2 = mockClient(EC2Client);
const kms = mockClient(KMSClient);
const AMI = "ami-0123456789abcdef0";
const AWS_KEY = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555";
const OWN_KEY = "arn:aws:kms:us-east-1:123456789012:key/99999999-8888-7777-6666-555555555555";

function imageEncryptedWith(key: string | undefined) {
    ec2.on(DescribeImagesCommand).resolves({
        Images: [
            {
                ImageId: AMI,
                State: "available",
                BlockDeviceMappings: [
                    { DeviceName: "/dev/xvda", Ebs: { SnapshotId: "snap-0123456789abcdef0", Encrypted: true, KmsKeyId: key } },
                ],
            },
        ],
    });
}

describe("sharing an image encrypted with an AWS managed key", () => {
    beforeEach(() => {
        ec2.reset();
        kms.reset();
        ec2.on(ModifyImageAttributeCommand).resolves({});
        kms.on(DescribeKeyCommand, { KeyId: AWS_KEY }).resolves({ KeyMetadata: { KeyId: "1", Arn: AWS_KEY, KeyManager: "AWS" } });
        kms.on(DescribeKeyCommand, { KeyId: OWN_KEY }).resolves({ KeyMetadata: { KeyId: "9", Arn: OWN_KEY, KeyManager: "CUSTOMER" } });
    });

    it("names the AWS managed key at preview, for every kind with a key (GoldenImage's as image.kmsKeyId)", async () => {
        assert.ok(namesAwsManagedKey("alias/aws/ebs") && namesAwsManagedKey("arn:aws:kms:us-east-1:123456789012:alias/aws/ebs"));
        assert.ok(!namesAwsManagedKey("alias/golden") && !namesAwsManagedKey(OWN_KEY));
        const shared = { kmsKeyId: "alias/aws/ebs", launchPermissions: { userIds: ["111122223333"] } };
        const [f] = awsManagedKeyShareFailures({ news: shared, olds: undefined, now: new Date() });
        assert.match(f.reason, /^kmsKeyId: is the AWS managed key alias\/aws\/ebs.*cannot be shared.*customer managed key/);
        const orgOnly = {
            kmsKeyId: "alias/aws/ebs",
            launchPermissions: { organizationArns: ["arn:aws:organizations::111122223333:organization/o-abc123"] },
        };
        assert.equal(awsManagedKeyShareFailures({ news: orgOnly, olds: undefined, now: new Date() }).length, 1);
        for (const fine of [{ ...shared, kmsKeyId: "alias/golden" }, { ...shared, launchPermissions: {} }, { kmsKeyId: "alias/aws/ebs" }]) {
            assert.deepEqual(awsManagedKeyShareFailures({ news: fine, olds: undefined, now: new Date() }), []);
        }
        const copy = await planningHooks(copyKind).check({}, {
            ...copyKind.example,
            encrypted: true,
            kmsKeyId: "alias/aws/ebs",
            launchPermissions: { userIds: ["111122223333"] },
        } as never);
        assert.deepEqual(
            copy.failures?.map((x) => x.property),
            ["kmsKeyId"],
        );
        const bake = await planningHooks(bakeKind).check({}, {
            ...bakeKind.example,
            kmsKeyId: "alias/aws/ebs",
            launchPermissions: { organizationalUnitArns: ["arn:aws:organizations::111122223333:ou/o-abc123/ou-ab12-cdef3456"] },
        } as never);
        assert.ok(
            bake.failures?.some((x) => x.reason.startsWith("image.kmsKeyId: is the AWS managed key")),
            JSON.stringify(bake.failures),
        );
    });

    it("refuses the share before any is made when KMS says the image's key is AWS managed, naming the image, the key and the fix", async () => {
        imageEncryptedWith(AWS_KEY);
        const client = new EC2Client({ region: "us-east-1" });
        await assert.rejects(
            changeLaunchPermissions(client, AMI, { userIds: ["111122223333"] }, {}),
            new RegExp(`sharing ${AMI}: .*AWS managed KMS key ${AWS_KEY}.*customer managed key.*image.kmsKeyId`),
        );
        assert.equal(ec2.commandCalls(ModifyImageAttributeCommand).length, 0, "no share made");
    });

    it("shares an image encrypted with a customer managed key, reads a key missing from the mapping from the snapshot, and asks nothing for a revoke or a public flag", async () => {
        imageEncryptedWith(OWN_KEY);
        const client = new EC2Client({ region: "us-east-1" });
        await changeLaunchPermissions(client, AMI, { userIds: ["111122223333"] }, {});
        assert.equal(ec2.commandCalls(ModifyImageAttributeCommand).length, 1);

        imageEncryptedWith(undefined);
        ec2.on(DescribeSnapshotsCommand).resolves({ Snapshots: [{ SnapshotId: "snap-0123456789abcdef0", KmsKeyId: AWS_KEY }] });
        await assert.rejects(
            changeLaunchPermissions(client, AMI, { organizationArns: ["arn:aws:organizations::1:organization/o-a"] }, {}),
            /AWS managed/,
        );

        ec2.resetHistory();
        kms.resetHistory();
        await changeLaunchPermissions(client, AMI, {}, { userIds: ["111122223333"] });
        assert.equal(kms.commandCalls(DescribeKeyCommand).length, 0, "revoking never needs the key");
        assert.equal(ec2.commandCalls(ModifyImageAttributeCommand).length, 1);
    });
});
