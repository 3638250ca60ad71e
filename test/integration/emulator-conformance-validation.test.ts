// Conformance: what EC2 refuses in tags and launch permissions
// (emulator/tag-rules.ts), and how it answers a request it does not support
// (emulator/unsupported.ts), through the AWS SDK and the AWS CLI against
// `startEmulator()`. Pages followed:
//   "Tag restrictions", Amazon EC2 User Guide (Using_Tags.html#tag-restrictions):
//   keys up to 128 and values up to 256 Unicode characters, 50 tags per
//   resource, the aws: prefix reserved.
//   "Error codes for the Amazon EC2 API" (errors-overview.html):
//   InvalidParameterValue, TagLimitExceeded, InvalidAMIAttributeItemValue,
//   UnsupportedOperation ("The specified request includes an unsupported operation").
import {
    CreateImageCommand,
    CreateSnapshotCommand,
    CreateTagsCommand,
    CreateVolumeCommand,
    DeleteTagsCommand,
    DeleteVolumeCommand,
    DescribeFpgaImagesCommand,
    DescribeImageAttributeCommand,
    DescribeTagsCommand,
    EC2Client,
    ModifyImageAttributeCommand,
    RunInstancesCommand,
} from "@aws-sdk/client-ec2";
import { GetParameterCommand } from "@aws-sdk/client-ssm";
import assert from "node:assert/strict";
import { startEc2Proxy } from "../../emulator/ec2-proxy";
import { ec2Error } from "../../emulator/ec2-xml";
import { tagRulesHandler } from "../../emulator/tag-rules";
import { isEc2ErrorXml, unsupportedAsEc2Error } from "../../emulator/unsupported";
import { cliOk, cliRefused, refusedWith, startSession, type Session } from "../support/conformance";
import { currentMoto } from "../support/moto-hooks";

const BASE = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";

describe("emulator conformance: tags, launch permissions, unsupported requests (EC2 user guide and error codes)", () => {
    let session: Session;
    let ec2: EC2Client;
    let volumeId: string;
    let imageId: string;

    before(async function () {
        this.timeout(120_000);
        session = await startSession();
        ec2 = session.ec2();
        volumeId = (await ec2.send(new CreateVolumeCommand({ AvailabilityZone: "us-east-1a", Size: 1 }))).VolumeId!;
        const base = (await session.ssm().send(new GetParameterCommand({ Name: BASE }))).Parameter!.Value!;
        const run = await ec2.send(new RunInstancesCommand({ ImageId: base, MinCount: 1, MaxCount: 1, InstanceType: "t3.micro" }));
        imageId = (await ec2.send(new CreateImageCommand({ InstanceId: run.Instances![0].InstanceId!, Name: "conformance-validation" })))
            .ImageId!;
    });

    after(async function () {
        this.timeout(30_000);
        await session?.stop();
    });

    const tag = (Key: string, Value = "v") => ec2.send(new CreateTagsCommand({ Resources: [volumeId], Tags: [{ Key, Value }] }));

    describe("tags (Using_Tags.html#tag-restrictions)", () => {
        it("refuses aws: keys in CreateTags, in any case (InvalidParameterValue)", async () => {
            const e = await refusedWith(tag("aws:owner"), "InvalidParameterValue");
            assert.match(e.message, /aws:owner/);
            await refusedWith(tag("AWS:Owner"), "InvalidParameterValue");
        });

        it("refuses aws: keys in TagSpecifications (CreateSnapshot) and in DeleteTags", async () => {
            await refusedWith(
                ec2.send(
                    new CreateSnapshotCommand({
                        VolumeId: volumeId,
                        TagSpecifications: [{ ResourceType: "snapshot", Tags: [{ Key: "aws:cloudformation:stack-name", Value: "x" }] }],
                    }),
                ),
                "InvalidParameterValue",
            );
            await refusedWith(
                ec2.send(new DeleteTagsCommand({ Resources: [volumeId], Tags: [{ Key: "aws:x" }] })),
                "InvalidParameterValue",
            );
        });

        it("takes keys of 128 and values of 256 characters, refuses 129 and 257 (counted in Unicode characters)", async () => {
            await tag("k".repeat(128), "v".repeat(256));
            await tag("é".repeat(128), "🙂".repeat(256)); // 256 characters, 512 UTF-16 units
            await refusedWith(tag("k".repeat(129)), "InvalidParameterValue");
            await refusedWith(tag("k", "v".repeat(257)), "InvalidParameterValue");
        });

        it("refuses a 51st tag on a resource (TagLimitExceeded), in CreateTags and in one TagSpecification", async () => {
            const volume = (await ec2.send(new CreateVolumeCommand({ AvailabilityZone: "us-east-1a", Size: 1 }))).VolumeId!;
            const fifty = Array.from({ length: 50 }, (_, i) => ({ Key: `k${i}`, Value: "v" }));
            await ec2.send(new CreateTagsCommand({ Resources: [volume], Tags: fifty }));
            await ec2.send(new CreateTagsCommand({ Resources: [volume], Tags: [{ Key: "k0", Value: "changed" }] })); // same key: still 50
            await refusedWith(
                ec2.send(new CreateTagsCommand({ Resources: [volume], Tags: [{ Key: "k50", Value: "v" }] })),
                "TagLimitExceeded",
            );
            await refusedWith(
                ec2.send(
                    new CreateSnapshotCommand({
                        VolumeId: volume,
                        TagSpecifications: [{ ResourceType: "snapshot", Tags: [...fifty, { Key: "k50", Value: "v" }] }],
                    }),
                ),
                "TagLimitExceeded",
            );
            const tags = await ec2.send(
                new DescribeTagsCommand({ Filters: [{ Name: "resource-id", Values: [volume] }], MaxResults: 1000 }),
            );
            assert.ok(tags.Tags!.length <= 50);
        });

        it("AWS CLI: create-tags with an aws: key is refused, a valid one accepted", async () => {
            cliRefused(
                await session.aws(["ec2", "create-tags", "--resources", volumeId, "--tags", "Key=aws:x,Value=y"]),
                "InvalidParameterValue",
            );
            cliOk(await session.aws(["ec2", "create-tags", "--resources", volumeId, "--tags", "Key=team,Value=platform"]));
        });
    });

    describe("launch permissions (ModifyImageAttribute; Organizations ARN formats)", () => {
        const add = (permission: { OrganizationArn?: string; OrganizationalUnitArn?: string; UserId?: string }) =>
            ec2.send(new ModifyImageAttributeCommand({ ImageId: imageId, LaunchPermission: { Add: [permission] } }));

        it("refuses malformed organization, OU and account ids (InvalidAMIAttributeItemValue)", async () => {
            await refusedWith(
                add({ OrganizationArn: "arn:aws:organizations::123456789012:organization/not-an-org" }),
                "InvalidAMIAttributeItemValue",
            );
            await refusedWith(add({ OrganizationArn: "o-abcdefghij" }), "InvalidAMIAttributeItemValue");
            await refusedWith(
                add({ OrganizationalUnitArn: "arn:aws:organizations::123456789012:ou/o-abcdefghij/ou-bad" }),
                "InvalidAMIAttributeItemValue",
            );
            await refusedWith(add({ UserId: "1234-5678-9012" }), "InvalidAMIAttributeItemValue");
        });

        it("passes well-formed ones on: an account id and an organization are granted", async () => {
            await add({ UserId: "210987654321" });
            await add({ OrganizationArn: "arn:aws:organizations::123456789012:organization/o-abcdefghij" });
            const out = await ec2.send(new DescribeImageAttributeCommand({ ImageId: imageId, Attribute: "launchPermission" }));
            assert.deepEqual(out.LaunchPermissions!.map((p) => p.UserId ?? p.OrganizationArn).sort(), [
                "210987654321",
                "arn:aws:organizations::123456789012:organization/o-abcdefghij",
            ]);
        });

        it("AWS CLI: modify-image-attribute with a malformed organization ARN is refused", async () => {
            cliRefused(
                await session.aws([
                    "ec2",
                    "modify-image-attribute",
                    "--image-id",
                    imageId,
                    "--launch-permission",
                    "Add=[{OrganizationArn=arn:aws:organizations::123:organization/o-x}]",
                ]),
                "InvalidAMIAttributeItemValue",
            );
        });
    });

    describe("never a 500 (errors-overview.html: UnsupportedOperation)", () => {
        it("an action moto cannot answer is HTTP 400 UnsupportedOperation in EC2 XML, naming the action", async () => {
            const e = await refusedWith(ec2.send(new DescribeFpgaImagesCommand({})), "UnsupportedOperation");
            assert.match(e.message, /DescribeFpgaImages/);
        });

        it("AWS CLI: the same answer, an EC2 error and no web server's page", async () => {
            const run = await session.aws(["ec2", "list-images-in-recycle-bin"]);
            cliRefused(run, "UnsupportedOperation");
            assert.match(run.stderr, /ListImagesInRecycleBin/);
            assert.doesNotMatch(run.stderr, /<html|Internal Server Error/i);
        });

        it("the wrapper leaves EC2 XML alone (an injected 503, moto's own errors) and turns other 5xx pages into UnsupportedOperation", async () => {
            const wrap = unsupportedAsEc2Error();
            const throttled = ec2Error(503, "RequestLimitExceeded", "Request limit exceeded.");
            assert.equal(await wrap(throttled, { action: "DescribeImages" }), throttled);
            const page = { status: 500, headers: {}, body: "<!doctype html><title>500 Internal Server Error</title>" };
            const out = await wrap(page, { action: "DescribeFpgaImages" });
            assert.equal(out.status, 400);
            assert.ok(isEc2ErrorXml(out.body));
            assert.match(out.body, /<Code>UnsupportedOperation<\/Code>/);
        });
    });

    it("switches: without the rules, an aws: tag key is stored (moto's behaviour); launch-permission rules are a switch of their own", async () => {
        const moto = currentMoto();
        const lenient = await startEc2Proxy({
            target: moto.endpoint,
            handlers: [tagRulesHandler({ tags: false, launchPermissions: true })],
        });
        const client = new EC2Client({ region: "us-east-1", endpoint: lenient.endpoint });
        const direct = new EC2Client({ region: "us-east-1", endpoint: moto.endpoint });
        const volume = (await direct.send(new CreateVolumeCommand({ AvailabilityZone: "us-east-1a", Size: 1 }))).VolumeId!;
        try {
            await client.send(new CreateTagsCommand({ Resources: [volume], Tags: [{ Key: "aws:x", Value: "y" }] }));
            await refusedWith(
                client.send(new ModifyImageAttributeCommand({ ImageId: "ami-12345678", LaunchPermission: { Add: [{ UserId: "nope" }] } })),
                "InvalidAMIAttributeItemValue",
            );
        } finally {
            await direct.send(new DeleteVolumeCommand({ VolumeId: volume }));
            client.destroy();
            direct.destroy();
            await lenient.stop();
        }
    });
});
