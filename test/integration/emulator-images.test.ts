// The emulator's image service (emulator/image-service.ts) through the real
// AWS SDK and the AWS CLI, each behaviour against the page of the Amazon EC2
// API Reference it follows (named in each test). One emulator (its own moto)
// for the file, as `npx golden-ami emulator` starts it.
import {
    CopyImageCommand,
    CreateImageCommand,
    CreateTagsCommand,
    DeleteSnapshotCommand,
    DeregisterImageCommand,
    DescribeImageAttributeCommand,
    DescribeImagesCommand,
    DescribeSnapshotsCommand,
    DisableImageCommand,
    EC2Client,
    EnableImageCommand,
    EnableImageDeprecationCommand,
    Image,
    ModifyImageAttributeCommand,
    RegisterImageCommand,
    RunInstancesCommand,
    TerminateInstancesCommand,
    CreateVolumeCommand,
    CreateSnapshotCommand,
    paginateDescribeImages,
    waitUntilImageAvailable,
} from "@aws-sdk/client-ec2";
import { GetParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { startEmulator, type Emulator } from "../../emulator/emulator";
import { refusal } from "../support/aws-errors";

const REGION = "us-east-1";
const OTHER = "us-west-2";
const AL2023 = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";

describe("emulator: images as EC2 makes them (image service)", function () {
    this.timeout(120_000);
    let emulator: Emulator;
    let ec2: EC2Client;
    let west: EC2Client;
    let base: string;
    let instanceId: string;

    const image = async (client: EC2Client, id: string): Promise<Image> =>
        (await client.send(new DescribeImagesCommand({ ImageIds: [id] }))).Images![0];
    /** Describes until the image is no longer pending (the emulator answers `pending` a few times). */
    const settled = async (client: EC2Client, id: string): Promise<Image> => {
        for (let i = 0; i < 10; i++) {
            const img = await image(client, id);
            if (img.State !== "pending") return img;
        }
        throw new Error(`${id} stays pending`);
    };

    before(async () => {
        emulator = await startEmulator({ seed: 7 });
        const credentials = { accessKeyId: "testing", secretAccessKey: "testing" };
        ec2 = new EC2Client({ region: REGION, endpoint: emulator.endpoint, credentials });
        west = new EC2Client({ region: OTHER, endpoint: emulator.endpoint, credentials });
        const ssm = new SSMClient({ region: REGION, endpoint: emulator.endpoint, credentials });
        base = (await ssm.send(new GetParameterCommand({ Name: AL2023 }))).Parameter!.Value!;
        ssm.destroy();
        // A root volume of 8 GiB (the image's) and two data volumes of 20 and 5 GiB.
        const run = await ec2.send(
            new RunInstancesCommand({
                ImageId: base,
                InstanceType: "t3.micro",
                MinCount: 1,
                MaxCount: 1,
                BlockDeviceMappings: [
                    { DeviceName: "/dev/sdf", Ebs: { VolumeSize: 20, VolumeType: "gp3", DeleteOnTermination: false } },
                    { DeviceName: "/dev/sdg", Ebs: { VolumeSize: 5, VolumeType: "gp2" } },
                ],
            }),
        );
        instanceId = run.Instances![0].InstanceId!;
    });

    after(async () => {
        ec2?.destroy();
        west?.destroy();
        await emulator?.stop();
    });

    it("public Amazon Linux images: the public SSM parameter names an available, public, amazon-owned EBS hvm image (Finding an AMI with Systems Manager)", async () => {
        const img = await image(ec2, base);
        assert.equal(img.State, "available");
        assert.equal(img.Public, true);
        assert.equal(img.ImageOwnerAlias, "amazon");
        assert.equal(img.RootDeviceType, "ebs");
        assert.equal(img.VirtualizationType, "hvm");
        assert.equal(img.Architecture, "x86_64");
        const westBase = await west.send(
            new DescribeImagesCommand({ Owners: ["amazon"], Filters: [{ Name: "name", Values: ["al2023-ami-*"] }] }),
        );
        assert.ok(westBase.Images!.length > 0, "every region has them");
    });

    it("CreateImage maps every EBS volume with its size and type and snapshots each (API_CreateImage)", async () => {
        const { ImageId } = await ec2.send(
            new CreateImageCommand({
                InstanceId: instanceId,
                Name: "whole (1.0)",
                TagSpecifications: [
                    { ResourceType: "image", Tags: [{ Key: "App", Value: "web" }] },
                    { ResourceType: "snapshot", Tags: [{ Key: "App", Value: "web-snap" }] },
                ],
            }),
        );
        const img = await settled(ec2, ImageId!);
        const devices = img.BlockDeviceMappings!.map((m) => [m.DeviceName, m.Ebs?.VolumeSize, m.Ebs?.VolumeType]);
        assert.deepEqual(devices, [
            ["/dev/xvda", 8, "gp3"],
            ["/dev/sdf", 20, "gp3"],
            ["/dev/sdg", 5, "gp2"],
        ]);
        assert.equal(img.RootDeviceName, "/dev/xvda");
        assert.equal(img.RootDeviceType, "ebs");
        assert.equal(img.SourceInstanceId, instanceId);
        const snaps = img.BlockDeviceMappings!.map((m) => m.Ebs!.SnapshotId!);
        assert.equal(new Set(snaps).size, 3, "three new snapshots");
        assert.equal(img.BlockDeviceMappings![1].Ebs!.DeleteOnTermination, false, "as the instance had it");
        const described = await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: snaps }));
        assert.deepEqual(
            described.Snapshots!.map((s) => s.Tags?.find((t) => t.Key === "App")?.Value),
            ["web-snap", "web-snap", "web-snap"],
            "snapshot tag specifications reach every snapshot",
        );
        // DeleteSnapshot: "You cannot delete a snapshot ... used by a registered AMI" (API_DeleteSnapshot).
        assert.equal(await refusal(ec2.send(new DeleteSnapshotCommand({ SnapshotId: snaps[1] }))), "InvalidSnapshot.InUse");
    });

    it("CreateImage: NoDevice leaves a volume out, a new device adds an empty volume (API_CreateImage, BlockDeviceMappings)", async () => {
        const { ImageId } = await ec2.send(
            new CreateImageCommand({
                InstanceId: instanceId,
                Name: "shaped",
                NoReboot: true,
                BlockDeviceMappings: [
                    { DeviceName: "/dev/sdf", NoDevice: "" },
                    { DeviceName: "/dev/sdh", Ebs: { VolumeSize: 10, VolumeType: "gp3" } },
                ],
            }),
        );
        const img = await settled(ec2, ImageId!);
        assert.deepEqual(
            img.BlockDeviceMappings!.map((m) => [m.DeviceName, m.Ebs?.VolumeSize, m.Ebs?.VolumeType, !!m.Ebs?.SnapshotId]),
            [
                ["/dev/xvda", 8, "gp3", true],
                ["/dev/sdg", 5, "gp2", true],
                ["/dev/sdh", 10, "gp3", false],
            ],
        );
    });

    it("CopyImage: a new snapshot per mapping, encrypted with the default key; tags copied; source recorded (API_CopyImage)", async () => {
        const { ImageId: src } = await ec2.send(
            new CreateImageCommand({
                InstanceId: instanceId,
                Name: "to-copy",
                TagSpecifications: [{ ResourceType: "image", Tags: [{ Key: "App", Value: "web" }] }],
            }),
        );
        const source = await settled(ec2, src!);
        const { ImageId } = await west.send(
            new CopyImageCommand({ SourceImageId: src, SourceRegion: REGION, Name: "copied", Encrypted: true, CopyImageTags: true }),
        );
        const copy = await settled(west, ImageId!);
        assert.equal(copy.State, "available");
        assert.equal(copy.SourceImageId, src);
        assert.equal(copy.SourceImageRegion, REGION);
        assert.deepEqual(copy.Tags, [{ Key: "App", Value: "web" }]);
        const before = source.BlockDeviceMappings!.map((m) => m.Ebs!.SnapshotId);
        const after = copy.BlockDeviceMappings!.map((m) => m.Ebs!.SnapshotId);
        assert.equal(after.length, 3);
        assert.ok(
            after.every((s) => s && !before.includes(s)),
            "new snapshots",
        );
        assert.ok(
            copy.BlockDeviceMappings!.every((m) => m.Ebs!.Encrypted === true && /^arn:aws:kms:us-west-2:/.test(m.Ebs!.KmsKeyId ?? "")),
        );
        const inWest = await west.send(new DescribeSnapshotsCommand({ SnapshotIds: after as string[] }));
        assert.equal(inWest.Snapshots!.length, 3, "in the destination region");
        // "If you specify a KMS key, you must also set the encrypted state to true."
        assert.equal(
            await refusal(
                west.send(
                    new CopyImageCommand({ SourceImageId: src, SourceRegion: REGION, Name: "no-encrypted", KmsKeyId: "alias/aws/ebs" }),
                ),
            ),
            "InvalidParameterCombination",
        );
        // A key that does not exist: the copy is accepted and ends failed, with a reason.
        const bad = await west.send(
            new CopyImageCommand({
                SourceImageId: src,
                SourceRegion: REGION,
                Name: "bad-key",
                Encrypted: true,
                KmsKeyId: "alias/does-not-exist",
            }),
        );
        const failed = await settled(west, bad.ImageId!);
        assert.equal(failed.State, "failed");
        assert.match(failed.StateReason!.Message!, /alias\/does-not-exist/);
    });

    it("RegisterImage maps exactly the given snapshots, with the given fields; an unknown snapshot is refused (API_RegisterImage)", async () => {
        const vol = await ec2.send(new CreateVolumeCommand({ AvailabilityZone: `${REGION}a`, Size: 12 }));
        const snap = await ec2.send(new CreateSnapshotCommand({ VolumeId: vol.VolumeId }));
        const { ImageId } = await ec2.send(
            new RegisterImageCommand({
                Name: "registered",
                RootDeviceName: "/dev/xvda",
                Architecture: "arm64",
                BootMode: "uefi",
                EnaSupport: true,
                ImdsSupport: "v2.0",
                BlockDeviceMappings: [{ DeviceName: "/dev/xvda", Ebs: { SnapshotId: snap.SnapshotId, VolumeType: "gp3" } }],
            }),
        );
        const img = await settled(ec2, ImageId!);
        assert.deepEqual(
            img.BlockDeviceMappings!.map((m) => [m.DeviceName, m.Ebs?.SnapshotId, m.Ebs?.VolumeSize]),
            [["/dev/xvda", snap.SnapshotId, 12]],
        );
        assert.equal(img.Architecture, "arm64");
        assert.equal(img.BootMode, "uefi");
        assert.equal(img.ImdsSupport, "v2.0");
        assert.equal(img.VirtualizationType, "hvm");
        assert.equal(
            await refusal(
                ec2.send(
                    new RegisterImageCommand({
                        Name: "nope",
                        RootDeviceName: "/dev/xvda",
                        BlockDeviceMappings: [{ DeviceName: "/dev/xvda", Ebs: { SnapshotId: "snap-00000000000000000" } }],
                    }),
                ),
            ),
            "InvalidSnapshot.NotFound",
        );
    });

    it("DescribeImages pages: MaxResults 5..1000, NextToken, a refused bad token, a default page smaller than the data (API_DescribeImages)", async () => {
        const vol = await ec2.send(new CreateVolumeCommand({ AvailabilityZone: `${REGION}a`, Size: 1 }));
        const snap = await ec2.send(new CreateSnapshotCommand({ VolumeId: vol.VolumeId }));
        for (let i = 0; i < 6; i++) {
            await ec2.send(
                new RegisterImageCommand({
                    Name: `paged-${i}`,
                    RootDeviceName: "/dev/xvda",
                    BlockDeviceMappings: [{ DeviceName: "/dev/xvda", Ebs: { SnapshotId: snap.SnapshotId } }],
                }),
            );
        }
        const all: string[] = [];
        for await (const page of paginateDescribeImages({ client: ec2, pageSize: 5 }, { Owners: ["self"] })) {
            assert.ok(page.Images!.length <= 5);
            all.push(...page.Images!.map((i) => i.ImageId!));
        }
        assert.ok(all.length > 5, "the test data crosses a page");
        assert.equal(new Set(all).size, all.length, "no image twice");
        const first = await ec2.send(new DescribeImagesCommand({ Owners: ["self"] }));
        assert.ok(first.NextToken, "without MaxResults the answer is paged too");
        assert.equal(
            await refusal(ec2.send(new DescribeImagesCommand({ Owners: ["self"], NextToken: "garbage" }))),
            "InvalidPaginationToken",
        );
        assert.equal(await refusal(ec2.send(new DescribeImagesCommand({ Owners: ["self"], MaxResults: 2 }))), "InvalidParameterValue");
        assert.equal(
            await refusal(ec2.send(new DescribeImagesCommand({ ImageIds: [base], MaxResults: 5 }))),
            "InvalidParameterCombination",
        );
    });

    it("a listing across pages misses no live image while deregistered ones drop out between pages (API_DescribeImages)", async () => {
        const vol = await ec2.send(new CreateVolumeCommand({ AvailabilityZone: `${REGION}a`, Size: 1 }));
        const snap = await ec2.send(new CreateSnapshotCommand({ VolumeId: vol.VolumeId }));
        const made: string[] = [];
        for (let i = 0; i < 12; i++) {
            const { ImageId } = await ec2.send(
                new RegisterImageCommand({
                    Name: `drop-out-${i}`,
                    RootDeviceName: "/dev/xvda",
                    BlockDeviceMappings: [{ DeviceName: "/dev/xvda", Ebs: { SnapshotId: snap.SnapshotId } }],
                }),
            );
            made.push(ImageId!);
        }
        const gone = made.filter((_, i) => i % 3 === 0);
        for (const ImageId of gone) await ec2.send(new DeregisterImageCommand({ ImageId }));
        const listed = new Set<string>();
        for await (const page of paginateDescribeImages(
            { client: ec2 },
            { Owners: ["self"], Filters: [{ Name: "name", Values: ["drop-out-*"] }] },
        )) {
            for (const i of page.Images ?? []) if (i.State !== "deregistered") listed.add(i.ImageId!);
        }
        assert.deepEqual([...listed].sort(), made.filter((id) => !gone.includes(id)).sort());
    });

    it("DeregisterImage: the image answers as deregistered for a short while, then InvalidAMIID.NotFound (API_DescribeImages)", async () => {
        const { ImageId } = await ec2.send(new CreateImageCommand({ InstanceId: instanceId, Name: "to-deregister" }));
        await settled(ec2, ImageId!);
        await ec2.send(new DeregisterImageCommand({ ImageId, DeleteAssociatedSnapshots: true }));
        assert.equal((await image(ec2, ImageId!)).State, "deregistered");
        let gone = false;
        for (let i = 0; i < 5 && !gone; i++) {
            try {
                await image(ec2, ImageId!);
            } catch (e) {
                assert.equal((e as Error & { name: string }).name, "InvalidAMIID.NotFound");
                gone = true;
            }
        }
        assert.ok(gone, "deregistered images disappear after a few answers");
        assert.equal(
            await refusal(ec2.send(new RunInstancesCommand({ ImageId, InstanceType: "t3.micro", MinCount: 1, MaxCount: 1 }))),
            "InvalidAMIID.NotFound",
        );
    });

    it("DisableImage hides the image unless IncludeDisabled, removes launch permissions and refuses launches; EnableImage restores it (API_DisableImage)", async () => {
        const { ImageId } = await ec2.send(new CreateImageCommand({ InstanceId: instanceId, Name: "to-disable" }));
        await settled(ec2, ImageId!);
        await ec2.send(new ModifyImageAttributeCommand({ ImageId, LaunchPermission: { Add: [{ UserId: "111122223333" }] } }));
        await ec2.send(new DisableImageCommand({ ImageId }));
        const listed = await ec2.send(new DescribeImagesCommand({ Owners: ["self"], Filters: [{ Name: "name", Values: ["to-disable"] }] }));
        assert.equal(listed.Images!.length, 0);
        const withDisabled = await ec2.send(
            new DescribeImagesCommand({ Owners: ["self"], IncludeDisabled: true, Filters: [{ Name: "name", Values: ["to-disable"] }] }),
        );
        assert.equal(withDisabled.Images![0].State, "disabled");
        assert.equal(
            await refusal(ec2.send(new RunInstancesCommand({ ImageId, InstanceType: "t3.micro", MinCount: 1, MaxCount: 1 }))),
            "InvalidAMIID.Unavailable",
        );
        await ec2.send(new EnableImageCommand({ ImageId }));
        assert.equal((await image(ec2, ImageId!)).State, "available");
        const perms = await ec2.send(new DescribeImageAttributeCommand({ ImageId, Attribute: "launchPermission" }));
        assert.deepEqual(perms.LaunchPermissions, [], "disabling removed the launch permissions");
    });

    it("DescribeImageAttribute answers every documented attribute and InvalidAMIID.NotFound for an unknown image; descriptions change (API_DescribeImageAttribute, API_ModifyImageAttribute)", async () => {
        const { ImageId } = await ec2.send(new CreateImageCommand({ InstanceId: instanceId, Name: "attributes" }));
        await settled(ec2, ImageId!);
        await ec2.send(new ModifyImageAttributeCommand({ ImageId, Description: { Value: "changed" } }));
        const d = await ec2.send(new DescribeImageAttributeCommand({ ImageId, Attribute: "description" }));
        assert.equal(d.Description?.Value, "changed");
        for (const attribute of [
            "lastLaunchedTime",
            "imdsSupport",
            "bootMode",
            "blockDeviceMapping",
            "deregistrationProtection",
            "productCodes",
        ] as const) {
            const a = await ec2.send(new DescribeImageAttributeCommand({ ImageId, Attribute: attribute }));
            assert.equal(a.ImageId, ImageId, attribute);
        }
        assert.equal(
            await refusal(ec2.send(new DescribeImageAttributeCommand({ ImageId: "ami-0123456789abcdef0", Attribute: "description" }))),
            "InvalidAMIID.NotFound",
        );
        // A malformed organization ARN is refused, not stored.
        assert.equal(
            await refusal(
                ec2.send(
                    new ModifyImageAttributeCommand({
                        ImageId,
                        LaunchPermission: { Add: [{ OrganizationArn: "arn:aws:organizations::bad" }] },
                    }),
                ),
            ),
            "InvalidAMIAttributeItemValue",
        );
    });

    it("refuses what EC2 refuses: bad names, past or far deprecation dates, aws: tags, long tag values, terminated instances, unknown and malformed AMIs", async () => {
        assert.equal(
            await refusal(ec2.send(new CreateImageCommand({ InstanceId: instanceId, Name: "bad:name" }))),
            "InvalidAMIName.Malformed",
        );
        assert.equal(
            await refusal(ec2.send(new CreateImageCommand({ InstanceId: instanceId, Name: "x".repeat(200) }))),
            "InvalidAMIName.Malformed",
        );
        const { ImageId } = await ec2.send(new CreateImageCommand({ InstanceId: instanceId, Name: "rules" }));
        await settled(ec2, ImageId!);
        const past = new Date(Date.now() - 86_400_000);
        const tooFar = new Date(Date.now() + 11 * 365 * 86_400_000);
        assert.equal(await refusal(ec2.send(new EnableImageDeprecationCommand({ ImageId, DeprecateAt: past }))), "InvalidParameterValue");
        assert.equal(await refusal(ec2.send(new EnableImageDeprecationCommand({ ImageId, DeprecateAt: tooFar }))), "InvalidParameterValue");
        assert.equal(
            await refusal(ec2.send(new CreateTagsCommand({ Resources: [ImageId!], Tags: [{ Key: "aws:x", Value: "1" }] }))),
            "InvalidParameterValue",
        );
        assert.equal(
            await refusal(ec2.send(new CreateTagsCommand({ Resources: [ImageId!], Tags: [{ Key: "k", Value: "v".repeat(300) }] }))),
            "InvalidParameterValue",
        );
        assert.equal(
            await refusal(ec2.send(new RunInstancesCommand({ ImageId: "ami-bad", InstanceType: "t3.micro", MinCount: 1, MaxCount: 1 }))),
            "InvalidAMIID.Malformed",
        );
        assert.equal(
            await refusal(
                ec2.send(new RunInstancesCommand({ ImageId: "ami-0000000000000dead", InstanceType: "t3.micro", MinCount: 1, MaxCount: 1 })),
            ),
            "InvalidAMIID.NotFound",
        );
        const doomed = await ec2.send(new RunInstancesCommand({ ImageId: base, InstanceType: "t3.micro", MinCount: 1, MaxCount: 1 }));
        const doomedId = doomed.Instances![0].InstanceId!;
        await ec2.send(new TerminateInstancesCommand({ InstanceIds: [doomedId] }));
        assert.equal(
            await refusal(ec2.send(new CreateImageCommand({ InstanceId: doomedId, Name: "from-terminated" }))),
            "IncorrectInstanceState",
        );
    });

    it("the AWS CLI sees the same mappings: create-image with image and snapshot tags, copy-image --encrypted, deregister, delete-snapshot", async () => {
        const env = { ...process.env, ...emulator.env, AWS_PAGER: "" };
        // Asynchronously: the emulator answers from this process.
        const aws = async (...args: string[]) =>
            (
                await promisify(execFile)("aws", ["--endpoint-url", emulator.endpoint, "--output", "json", ...args], {
                    env,
                    encoding: "utf8",
                })
            ).stdout;
        const imageId = JSON.parse(
            await aws(
                "ec2",
                "create-image",
                "--instance-id",
                instanceId,
                "--name",
                "cli-image",
                "--no-reboot",
                "--tag-specifications",
                "ResourceType=image,Tags=[{Key=App,Value=web}]",
                "ResourceType=snapshot,Tags=[{Key=App,Value=web}]",
            ),
        ).ImageId as string;
        // (the CLI's own waiter polls every 15 s; the SDK's waits for the same state, sooner)
        await waitUntilImageAvailable({ client: ec2, maxWaitTime: 60, minDelay: 1, maxDelay: 1 }, { ImageIds: [imageId] });
        const described = JSON.parse(await aws("ec2", "describe-images", "--image-ids", imageId)).Images[0];
        assert.equal(described.BlockDeviceMappings.length, 3);
        assert.equal(described.RootDeviceType, "ebs");
        const copyId = JSON.parse(
            await aws(
                "ec2",
                "copy-image",
                "--region",
                OTHER,
                "--source-region",
                REGION,
                "--source-image-id",
                imageId,
                "--name",
                "cli-copy",
                "--encrypted",
            ),
        ).ImageId as string;
        await waitUntilImageAvailable({ client: west, maxWaitTime: 60, minDelay: 1, maxDelay: 1 }, { ImageIds: [copyId] });
        const snapshots = described.BlockDeviceMappings.map((m: { Ebs: { SnapshotId: string } }) => m.Ebs.SnapshotId) as string[];
        await aws("ec2", "deregister-image", "--image-id", imageId);
        for (const snapshotId of snapshots) {
            // Right after deregistration a snapshot may still be in use (the emulator answers InUse once): retry as a script would.
            for (let attempt = 0; ; attempt++) {
                try {
                    await aws("ec2", "delete-snapshot", "--snapshot-id", snapshotId);
                    break;
                } catch (e) {
                    if (attempt > 3 || !String((e as { stderr?: string }).stderr).includes("InvalidSnapshot.InUse")) throw e;
                }
            }
        }
        const left = JSON.parse(
            await aws("ec2", "describe-snapshots", "--owner-ids", "self", "--filters", `Name=snapshot-id,Values=${snapshots.join(",")}`),
        ) as {
            Snapshots: unknown[];
        };
        assert.equal(left.Snapshots.length, 0, "every snapshot deleted");
    });
});
