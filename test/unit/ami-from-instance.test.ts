import {
    CreateImageCommand,
    CreateTagsCommand,
    DeleteSnapshotCommand,
    DeleteTagsCommand,
    DeregisterImageCommand,
    DescribeImageAttributeCommand,
    DescribeImageReferencesCommand,
    DescribeImagesCommand,
    DescribeInstancesCommand,
    DescribeSnapshotsCommand,
    DescribeVolumesCommand,
    EC2Client,
    EnableImageDeprecationCommand,
    EnableImageDeregistrationProtectionCommand,
    Image,
    ModifyImageAttributeCommand,
} from "@aws-sdk/client-ec2";
import { mockClient } from "aws-sdk-client-mock";
import assert from "node:assert/strict";
import * as sinon from "sinon";
import * as hooks from "../../dynamic-providers/ami-from-instance-hooks";
import { PartialCreateError } from "../../dynamic-providers/ec2/errors";
import { ec2Error } from "../support/aws-errors";
import { nothingUsesImages } from "../support/no-references";

const ec2 = mockClient(EC2Client);
const REGION = "us-east-1";
const IMAGE_ID = "ami-0123456789abcdef0";
const SNAP = "snap-0123456789abcdef0";

function image(overrides: Partial<Image> = {}): Image {
    return {
        ImageId: IMAGE_ID,
        Name: "web-1",
        State: "available",
        OwnerId: "111122223333",
        CreationDate: "2026-11-22T10:00:00.000Z",
        RootDeviceName: "/dev/xvda",
        BlockDeviceMappings: [{ DeviceName: "/dev/xvda", Ebs: { SnapshotId: SNAP } }],
        Tags: [{ Key: "App", Value: "web" }],
        ...overrides,
    };
}

const inputs = {
    sourceInstanceId: "i-0123456789abcdef0",
    name: "web-1",
    region: REGION,
    tags: { App: "web" },
    snapshotTags: { App: "web" },
    snapshotWithoutReboot: true,
    deleteSnapshotsOnDestroy: true,
    deregistrationProtection: false,
};

describe("AmiFromInstance provider hooks", () => {
    let log: sinon.SinonStub;
    before(() => {
        process.env.GOLDEN_AMI_POLL_SCALE = "0.001";
    });
    after(() => {
        delete process.env.GOLDEN_AMI_POLL_SCALE;
    });
    beforeEach(() => {
        ec2.reset();
        nothingUsesImages(ec2);
        log = sinon.stub(console, "log");
    });
    afterEach(() => log.restore());

    describe("check", () => {
        it("fills in defaults and lets snapshot tags follow tags", async () => {
            const r = await hooks.check({}, { sourceInstanceId: "i-0123456789abcdef0", name: "web-1", region: REGION, tags: { A: "1" } });
            assert.deepEqual(r.failures, []);
            assert.equal(r.inputs.snapshotWithoutReboot, false);
            assert.equal(r.inputs.deleteSnapshotsOnDestroy, true);
            assert.equal(r.inputs.deregistrationProtection, false);
            assert.deepEqual(r.inputs.snapshotTags, { A: "1" });
        });
        it("returns inputs the engine can carry: no undefined values (protobuf Structs refuse them)", async () => {
            const r = await hooks.check(
                {},
                { sourceInstanceId: "i-0123456789abcdef0", name: "web-1", region: REGION, tags: undefined, description: undefined },
            );
            assert.deepEqual(r.inputs, JSON.parse(JSON.stringify(r.inputs)));
            assert.ok(!("snapshotTags" in r.inputs));
        });
        it("returns failures for bad input instead of throwing", async () => {
            const r = await hooks.check({}, { sourceInstanceId: "bad", name: "web-1", region: REGION });
            assert.equal(r.failures?.[0].property, "sourceInstanceId");
        });
    });

    describe("check: the preflight of a replacement", () => {
        const VOL = "vol-0123456789abcdef0";
        const olds = { ...inputs };
        const moved = { ...inputs, sourceInstanceId: "i-0fedcba9876543210" };
        function instance(): void {
            ec2.on(DescribeInstancesCommand).resolves({
                Reservations: [
                    {
                        Instances: [
                            {
                                InstanceId: moved.sourceInstanceId,
                                State: { Name: "stopped" },
                                BlockDeviceMappings: [{ DeviceName: "/dev/xvda", Ebs: { VolumeId: VOL } }],
                            },
                        ],
                    },
                ],
            });
            ec2.on(DescribeVolumesCommand).resolves({ Volumes: [{ VolumeId: VOL, Size: 8, VolumeType: "gp3", Encrypted: false }] });
        }
        it("an unchanged resource asks EC2 nothing", async () => {
            const r = await hooks.check(olds, { ...inputs });
            assert.deepEqual(r.failures, []);
            assert.equal(ec2.calls().length, 0);
        });
        it("a create reads the instance and refuses one EC2 does not know at preview, naming sourceInstanceId and the fix", async () => {
            ec2.on(DescribeInstancesCommand).rejects(ec2Error("InvalidInstanceID.NotFound"));
            const r = await hooks.check({}, { ...inputs });
            assert.deepEqual(
                r.failures?.map((f) => f.property),
                ["sourceInstanceId"],
            );
            assert.match(r.failures![0].reason, /does not exist in us-east-1 or is terminated; set sourceInstanceId/);
        });
        it("refuses a same-name replacement to an instance EC2 does not know, and keeps the image", async () => {
            ec2.on(DescribeInstancesCommand).rejects(ec2Error("InvalidInstanceID.NotFound"));
            const r = await hooks.check(olds, moved);
            assert.equal(r.failures?.length, 1);
            assert.equal(r.failures![0].property, "sourceInstanceId");
            assert.match(
                r.failures![0].reason,
                /^sourceInstanceId: instance i-0fedcba9876543210 does not exist in us-east-1 or is terminated; nothing was changed and the current image is kept; set sourceInstanceId to/,
            );
        });
        it("refuses a terminated instance", async () => {
            ec2.on(DescribeInstancesCommand).resolves({
                Reservations: [{ Instances: [{ InstanceId: moved.sourceInstanceId, State: { Name: "terminated" } }] }],
            });
            const r = await hooks.check(olds, moved);
            assert.match(r.failures![0].reason, /is terminated/);
        });
        it("refuses a same-name replacement when EC2 cannot be asked (the old image would go first)", async () => {
            ec2.on(DescribeInstancesCommand).rejects(ec2Error("UnauthorizedOperation"));
            const r = await hooks.check(olds, moved);
            assert.match(
                r.failures![0].reason,
                /^sourceInstanceId: checking instance .*DescribeInstances: UnauthorizedOperation.*the current image is kept/,
            );
        });
        it("leaves an unreachable EC2 to up when the replacement has a new name (the old image stays until the new exists)", async () => {
            ec2.on(DescribeInstancesCommand).rejects(ec2Error("UnauthorizedOperation"));
            const r = await hooks.check(olds, { ...moved, name: "web-2" });
            assert.deepEqual(r.failures, []);
        });
        it("refuses block devices that change an existing volume beyond deleteOnTermination (CreateImage's rule)", async () => {
            instance();
            for (const [ebs, key] of [
                [{ volumeSize: 20 }, "volumeSize"],
                [{ volumeType: "io2" }, "volumeType"],
                [{ encrypted: true }, "encrypted"],
            ] as const) {
                const r = await hooks.check(olds, { ...moved, blockDeviceMappings: [{ deviceName: "/dev/xvda", ebs }] });
                assert.equal(r.failures![0].property, "blockDeviceMappings");
                assert.match(
                    r.failures![0].reason,
                    new RegExp(
                        `^blockDeviceMappings\\[0\\]\\.ebs\\.${key} \\(/dev/xvda\\) would change the existing volume ${VOL}.*CreateImage can change only deleteOnTermination`,
                    ),
                );
            }
        });
        it("accepts deleteOnTermination, noDevice, the volume's own values, and anything on a new device", async () => {
            instance();
            const r = await hooks.check(olds, {
                ...moved,
                blockDeviceMappings: [
                    { deviceName: "/dev/xvda", ebs: { deleteOnTermination: false, volumeSize: 8, volumeType: "gp3" } },
                    { deviceName: "/dev/sdf", ebs: { volumeSize: 100, volumeType: "io2", iops: 3000, encrypted: true } },
                ],
            });
            assert.deepEqual(r.failures, []);
            const left = await hooks.check(olds, { ...moved, blockDeviceMappings: [{ deviceName: "/dev/xvda", noDevice: true }] });
            assert.deepEqual(left.failures, []);
        });
        it("preflights a same-name replacement by the reboot choice: the instance may be gone since the last bake", async () => {
            ec2.on(DescribeInstancesCommand).rejects(ec2Error("InvalidInstanceID.NotFound"));
            const r = await hooks.check(olds, { ...inputs, snapshotWithoutReboot: false });
            assert.match(
                r.failures![0].reason,
                /^sourceInstanceId: instance i-0123456789abcdef0 does not exist in us-east-1 or is terminated/,
            );
            ec2.resetHistory();
            assert.deepEqual((await hooks.check(olds, { ...inputs, tags: { App: "other" } })).failures, []);
            assert.equal(ec2.calls().length, 0, "an in-place change asks EC2 nothing");
        });
        it("checks block devices on a create too", async () => {
            instance();
            const r = await hooks.check({}, { ...moved, blockDeviceMappings: [{ deviceName: "/dev/xvda", ebs: { volumeSize: 20 } }] });
            assert.equal(r.failures![0].property, "blockDeviceMappings");
        });
        it("asks nothing while the source instance is not known yet (preview of a new instance)", async () => {
            const r = await hooks.check(olds, { ...moved, sourceInstanceId: "04da6b54-80e4-46f7-96ec-b56ff0331ba9" });
            assert.equal(ec2.calls().length, 0);
            assert.ok(r.failures);
        });
    });

    describe("create", () => {
        it("creates the image, waits until available and reports its outputs", async () => {
            ec2.on(CreateImageCommand).resolves({ ImageId: IMAGE_ID });
            ec2.on(DescribeImagesCommand)
                .resolvesOnce({ Images: [image({ State: "pending" })] })
                .resolves({ Images: [image()] });
            ec2.on(CreateTagsCommand).resolves({});
            const r = await hooks.create(inputs);
            assert.equal(r.id, IMAGE_ID);
            assert.equal(r.outs.arn, `arn:aws:ec2:${REGION}::image/${IMAGE_ID}`);
            assert.deepEqual(r.outs.snapshotIds, [SNAP]);
            assert.equal(r.outs.rootSnapshotId, SNAP);
            assert.equal(r.outs.state, "available");
            const req = ec2.commandCalls(CreateImageCommand)[0].args[0].input;
            assert.equal(req.NoReboot, true);
            assert.deepEqual(req.TagSpecifications, [{ ResourceType: "image", Tags: [{ Key: "App", Value: "web" }] }]);
            // snapshot tags go on once the snapshots exist
            const tagCall = ec2.commandCalls(CreateTagsCommand)[0].args[0].input;
            assert.deepEqual(tagCall.Resources, [SNAP]);
            assert.equal(ec2.commandCalls(DescribeImagesCommand).length, 2);
        });

        it("passes block device mappings, leaving out a data volume", async () => {
            ec2.on(CreateImageCommand).resolves({ ImageId: IMAGE_ID });
            ec2.on(DescribeImagesCommand).resolves({ Images: [image()] });
            ec2.on(CreateTagsCommand).resolves({});
            await hooks.create({ ...inputs, blockDeviceMappings: [{ deviceName: "/dev/sdf", noDevice: true }] });
            const req = ec2.commandCalls(CreateImageCommand)[0].args[0].input;
            assert.deepEqual(req.BlockDeviceMappings, [{ DeviceName: "/dev/sdf", NoDevice: "" }]);
        });

        it("applies deprecation, protection and launch permissions after the image is available", async () => {
            ec2.on(CreateImageCommand).resolves({ ImageId: IMAGE_ID });
            ec2.on(DescribeImagesCommand).resolves({ Images: [image()] });
            ec2.on(CreateTagsCommand).resolves({});
            ec2.on(EnableImageDeprecationCommand).resolves({});
            ec2.on(EnableImageDeregistrationProtectionCommand).resolves({});
            ec2.on(ModifyImageAttributeCommand).resolves({});
            await hooks.create({
                ...inputs,
                deprecationTime: "2030-01-01T00:00:00Z",
                deregistrationProtection: true,
                launchPermissions: { userIds: ["444455556666"] },
            });
            assert.equal(ec2.commandCalls(EnableImageDeprecationCommand).length, 1);
            assert.equal(ec2.commandCalls(EnableImageDeregistrationProtectionCommand).length, 1);
            assert.deepEqual(ec2.commandCalls(ModifyImageAttributeCommand)[0].args[0].input.LaunchPermission, {
                Add: [{ UserId: "444455556666" }],
            });
        });

        it("removes a failed image and its snapshots, and fails with EC2's state reason and no id", async () => {
            ec2.on(CreateImageCommand).resolves({ ImageId: IMAGE_ID });
            ec2.on(DescribeImagesCommand).resolves({
                Images: [image({ State: "failed", StateReason: { Code: "Server.InternalError", Message: "snapshot creation failed" } })],
            });
            ec2.on(DeregisterImageCommand).resolves({});
            ec2.on(DeleteSnapshotCommand).resolves({});
            await assert.rejects(hooks.create(inputs), (e: Error & { id?: string }) => {
                assert.match(e.message, /creating AMI \(web-1\) from instance \(i-0123456789abcdef0\): waiting for completion/);
                assert.match(e.message, /snapshot creation failed/);
                assert.equal(e.id, undefined);
                return true;
            });
            assert.equal(ec2.commandCalls(DeregisterImageCommand).length, 1);
            assert.equal(ec2.commandCalls(DeleteSnapshotCommand)[0].args[0].input.SnapshotId, SNAP);
        });

        it("keeps the image in state when waiting runs out of time", async () => {
            ec2.on(CreateImageCommand).resolves({ ImageId: IMAGE_ID });
            ec2.on(DescribeImagesCommand).resolves({ Images: [image({ State: "pending" })] });
            await assert.rejects(hooks.create({ ...inputs, createTimeoutMinutes: 0.001 }), (e: unknown) => {
                assert.ok(e instanceof PartialCreateError, String(e));
                assert.equal(e.id, IMAGE_ID);
                assert.equal(e.properties.region, REGION);
                assert.match(e.message, /still pending after 0.001 minutes/);
                assert.match(e.message, /run `pulumi up` again/);
                return true;
            });
            assert.equal(ec2.commandCalls(DeregisterImageCommand).length, 0);
        });

        it("waits out InvalidAMIID.NotFound right after CreateImage (eventual consistency) and records the image", async () => {
            ec2.on(CreateImageCommand).resolves({ ImageId: IMAGE_ID });
            ec2.on(DescribeImagesCommand)
                .rejectsOnce(ec2Error("InvalidAMIID.NotFound"))
                .rejectsOnce(ec2Error("InvalidAMIID.NotFound"))
                .resolves({ Images: [image()] });
            ec2.on(CreateTagsCommand).resolves({});
            const r = await hooks.create(inputs);
            assert.equal(r.id, IMAGE_ID);
            assert.equal(ec2.commandCalls(CreateImageCommand).length, 1);
            assert.equal(ec2.commandCalls(DeregisterImageCommand).length, 0);
        });

        it("keeps an image that stays invisible past the visibility window in state, never calling it gone", async () => {
            ec2.on(CreateImageCommand).resolves({ ImageId: IMAGE_ID });
            ec2.on(DescribeImagesCommand).rejects(ec2Error("InvalidAMIID.NotFound"));
            await assert.rejects(hooks.create(inputs), (e: unknown) => {
                assert.ok(e instanceof PartialCreateError, String(e));
                assert.equal(e.id, IMAGE_ID);
                assert.match(e.message, /still answered InvalidAMIID.NotFound .* seconds after EC2 created it/);
                assert.doesNotMatch(e.message, /is gone/);
                assert.match(e.message, /run `pulumi up` again/);
                return true;
            });
            assert.equal(ec2.commandCalls(DeregisterImageCommand).length, 0);
        });

        it("keeps the image in state when a setting fails after the image exists", async () => {
            ec2.on(CreateImageCommand).resolves({ ImageId: IMAGE_ID });
            ec2.on(DescribeImagesCommand).resolves({ Images: [image()] });
            ec2.on(CreateTagsCommand).resolves({});
            ec2.on(EnableImageDeprecationCommand).rejects(ec2Error("UnauthorizedOperation"));
            await assert.rejects(hooks.create({ ...inputs, deprecationTime: "2030-01-01T00:00:00Z" }), (e: unknown) => {
                assert.ok(e instanceof PartialCreateError);
                assert.equal(e.id, IMAGE_ID);
                assert.deepEqual(e.properties.snapshotIds, [SNAP]);
                assert.match(e.message, /UnauthorizedOperation/);
                assert.match(e.message, /IAM policy in the README/);
                return true;
            });
        });

        it("adopts the image an interrupted run left under the same name instead of making a second", async () => {
            ec2.on(CreateImageCommand).rejects(ec2Error("InvalidAMIName.Duplicate"));
            ec2.on(DescribeImagesCommand, { Owners: ["self"] } as never).resolves({
                Images: [image({ State: "pending", SourceInstanceId: inputs.sourceInstanceId })],
            });
            ec2.on(DescribeImagesCommand, { ImageIds: [IMAGE_ID] } as never).resolves({ Images: [image()] });
            ec2.on(CreateTagsCommand).resolves({});
            const r = await hooks.create(inputs);
            assert.equal(r.id, IMAGE_ID);
            assert.equal(ec2.commandCalls(CreateImageCommand).length, 1);
            assert.ok(log.getCalls().some((c) => /adopting ami-0123456789abcdef0/.test(String(c.args[0]))));
        });

        it("does not adopt an image of the same name made from another instance", async () => {
            ec2.on(CreateImageCommand).rejects(ec2Error("InvalidAMIName.Duplicate"));
            ec2.on(DescribeImagesCommand).resolves({ Images: [image({ SourceInstanceId: "i-0fedcba9876543210" })] });
            await assert.rejects(hooks.create(inputs), /InvalidAMIName.Duplicate.*another image in this region already has that name/);
        });

        it("names the resource, the AWS error code and what to do when CreateImage is refused", async () => {
            ec2.on(CreateImageCommand).rejects(
                ec2Error("InvalidInstanceID.NotFound", "The instance ID 'i-0123456789abcdef0' does not exist"),
            );
            await assert.rejects(hooks.create(inputs), (e: Error) =>
                /creating AMI \(web-1\) from instance \(i-0123456789abcdef0\): CreateImage: InvalidInstanceID.NotFound: .*check sourceInstanceId/.test(
                    e.message,
                ),
            );
        });
    });

    describe("diff", () => {
        const olds = { ...inputs, imageId: IMAGE_ID, snapshotIds: [SNAP] } as never;
        it("reports no change when nothing changed", async () => {
            const d = await hooks.diff(IMAGE_ID, olds, { ...inputs });
            assert.equal(d.changes, false);
        });
        for (const [key, value] of [
            ["sourceInstanceId", "i-0fedcba9876543210"],
            ["name", "web-2"],
            ["snapshotWithoutReboot", false],
            ["blockDeviceMappings", [{ deviceName: "/dev/sdf", noDevice: true }]],
            ["region", "eu-west-1"],
        ] as const) {
            it(`replaces the image when ${key} changes`, async () => {
                const d = await hooks.diff(IMAGE_ID, olds, { ...inputs, [key]: value });
                assert.equal(d.changes, true);
                assert.deepEqual(d.replaces, [key]);
            });
        }
        for (const [key, value] of [
            ["tags", { App: "api" }],
            ["snapshotTags", {}],
            ["description", "new"],
            ["deprecationTime", "2030-01-01T00:00:00Z"],
            ["deregistrationProtection", true],
            ["launchPermissions", { public: true }],
            ["deleteSnapshotsOnDestroy", false],
            ["deleteTimeoutMinutes", 5],
        ] as const) {
            it(`updates in place when ${key} changes`, async () => {
                const d = await hooks.diff(IMAGE_ID, olds, { ...inputs, [key]: value });
                assert.equal(d.changes, true);
                assert.deepEqual(d.replaces, []);
            });
        }
        it("deletes the old image first when a replacement keeps the same explicit name", async () => {
            const same = await hooks.diff(IMAGE_ID, olds, { ...inputs, sourceInstanceId: "i-0fedcba9876543210" });
            assert.equal(same.deleteBeforeReplace, true);
            const renamed = await hooks.diff(IMAGE_ID, olds, { ...inputs, sourceInstanceId: "i-0fedcba9876543210", name: "web-2" });
            assert.equal(renamed.deleteBeforeReplace, false);
        });
        it("compares launch permissions and deprecation times as EC2 keeps them", async () => {
            const o = {
                ...inputs,
                launchPermissions: { userIds: ["111122223333", "444455556666"] },
                deprecationTime: "2030-01-01T00:00:00.000Z",
            } as never;
            const d = await hooks.diff(IMAGE_ID, o, {
                ...inputs,
                launchPermissions: { userIds: ["444455556666", "111122223333"], public: false },
                deprecationTime: "2030-01-01T00:00:20Z",
            });
            assert.equal(d.changes, false);
        });
    });

    describe("read", () => {
        const state = { ...inputs, imageId: IMAGE_ID, snapshotIds: [SNAP] } as never;
        it("picks up tags, description and launch permissions changed out of band", async () => {
            ec2.on(DescribeImagesCommand).resolves({
                Images: [image({ Tags: [{ Key: "App", Value: "hacked" }], Description: "by hand" })],
            });
            ec2.on(DescribeImageAttributeCommand).resolves({ LaunchPermissions: [{ Group: "all" }] });
            const r = await hooks.read(IMAGE_ID, state);
            assert.equal(r.id, IMAGE_ID);
            assert.deepEqual(r.props.tags, { App: "hacked" });
            assert.equal(r.props.description, "by hand");
            assert.deepEqual(r.props.launchPermissions, { public: true });
        });
        it("drops the resource from state when the image and its snapshots were removed out of band", async () => {
            ec2.on(DescribeSnapshotsCommand).rejects(ec2Error("InvalidSnapshot.NotFound"));
            ec2.on(DescribeImagesCommand).rejects(ec2Error("InvalidAMIID.NotFound"));
            assert.deepEqual(await hooks.read(IMAGE_ID, state), {});
            ec2.on(DescribeImagesCommand).resolves({ Images: [image({ State: "deregistered" })] });
            assert.deepEqual(await hooks.read(IMAGE_ID, state), {});
        });
        it("keeps an image deregistered out of band in state, marked deregistered, while its snapshots exist", async () => {
            const snap2 = "snap-0fedcba9876543210";
            ec2.on(DescribeImagesCommand).rejects(ec2Error("InvalidAMIID.NotFound"));
            ec2.on(DescribeSnapshotsCommand, { SnapshotIds: [SNAP] }).resolves({ Snapshots: [{ SnapshotId: SNAP }] });
            ec2.on(DescribeSnapshotsCommand, { SnapshotIds: [snap2] }).rejects(ec2Error("InvalidSnapshot.NotFound"));
            const r = await hooks.read(IMAGE_ID, {
                ...inputs,
                imageId: IMAGE_ID,
                snapshotIds: [SNAP, snap2],
                rootSnapshotId: snap2,
            } as never);
            assert.equal(r.id, IMAGE_ID);
            assert.equal(r.props.state, "deregistered");
            assert.deepEqual(r.props.snapshotIds, [SNAP], "only the snapshots that still exist");
            assert.ok(!("rootSnapshotId" in r.props), "no root snapshot that is gone");
            const d = await hooks.diff(IMAGE_ID, r.props, { ...inputs });
            assert.deepEqual(d, { changes: true, replaces: ["state"], deleteBeforeReplace: false });
        });
        it("drops a deregistered image whose snapshots are not the resource's (deleteSnapshotsOnDestroy: false)", async () => {
            ec2.on(DescribeImagesCommand).rejects(ec2Error("InvalidAMIID.NotFound"));
            ec2.on(DescribeSnapshotsCommand).resolves({ Snapshots: [{ SnapshotId: SNAP }] });
            assert.deepEqual(
                await hooks.read(IMAGE_ID, { ...inputs, deleteSnapshotsOnDestroy: false, imageId: IMAGE_ID, snapshotIds: [SNAP] } as never),
                {},
            );
        });
        it("fails, never drops the resource, when the snapshots cannot be looked up", async () => {
            ec2.on(DescribeImagesCommand).rejects(ec2Error("InvalidAMIID.NotFound"));
            ec2.on(DescribeSnapshotsCommand).rejects(ec2Error("UnauthorizedOperation"));
            await assert.rejects(hooks.read(IMAGE_ID, state), /looking for its snapshots: UnauthorizedOperation/);
        });
        it("returns drifted values as inputs, so preview --diff marks what up reverts; outputs never become inputs", async () => {
            ec2.on(DescribeImagesCommand).resolves({ Images: [image({ Tags: [{ Key: "App", Value: "hacked" }] })] });
            ec2.on(DescribeImageAttributeCommand).resolves({ LaunchPermissions: [] });
            const r = await hooks.read(IMAGE_ID, {
                ...inputs,
                description: "",
                imageId: IMAGE_ID,
                snapshotIds: [SNAP],
                state: "available",
            } as never);
            assert.deepEqual(r.inputs, { ...inputs, tags: { App: "hacked" } });
        });
        it("returns no inputs when nothing drifted (the engine keeps the program's)", async () => {
            ec2.on(DescribeImagesCommand).resolves({ Images: [image()] });
            ec2.on(DescribeImageAttributeCommand).resolves({ LaunchPermissions: [] });
            const r = await hooks.read(IMAGE_ID, { ...inputs, description: "", imageId: IMAGE_ID, snapshotIds: [SNAP] } as never);
            assert.equal(r.id, IMAGE_ID);
            assert.ok(!("inputs" in r));
        });
    });

    describe("update", () => {
        const olds = { ...inputs, imageId: IMAGE_ID, snapshotIds: [SNAP] } as never;
        it("sets only what differs: tags added and removed, description", async () => {
            ec2.on(DescribeImagesCommand).resolves({
                Images: [
                    image({
                        Tags: [
                            { Key: "App", Value: "web" },
                            { Key: "Old", Value: "x" },
                        ],
                    }),
                ],
            });
            ec2.on(DescribeSnapshotsCommand).resolves({ Snapshots: [{ SnapshotId: SNAP, Tags: [] }] });
            ec2.on(CreateTagsCommand).resolves({});
            ec2.on(DeleteTagsCommand).resolves({});
            ec2.on(ModifyImageAttributeCommand).resolves({});
            const r = await hooks.update(IMAGE_ID, olds, { ...inputs, tags: { App: "web", Version: "2" }, description: "v2" });
            assert.deepEqual(ec2.commandCalls(DeleteTagsCommand)[0].args[0].input.Tags, [{ Key: "Old" }]);
            assert.deepEqual(ec2.commandCalls(CreateTagsCommand)[0].args[0].input.Tags, [{ Key: "Version", Value: "2" }]);
            assert.deepEqual(ec2.commandCalls(ModifyImageAttributeCommand)[0].args[0].input.Description, { Value: "v2" });
            assert.deepEqual(r.outs.tags, { App: "web", Version: "2" });
        });
        it("revokes launch permissions no longer wanted and never makes the image public unasked", async () => {
            ec2.on(DescribeImagesCommand).resolves({ Images: [image()] });
            ec2.on(DescribeImageAttributeCommand).resolves({ LaunchPermissions: [{ UserId: "111122223333" }, { Group: "all" }] });
            ec2.on(ModifyImageAttributeCommand).resolves({});
            await hooks.update(IMAGE_ID, { ...inputs, launchPermissions: { userIds: ["111122223333"] } } as never, {
                ...inputs,
                launchPermissions: { userIds: ["444455556666"] },
            });
            const perm = ec2.commandCalls(ModifyImageAttributeCommand)[0].args[0].input.LaunchPermission;
            assert.deepEqual(perm, { Add: [{ UserId: "444455556666" }], Remove: [{ UserId: "111122223333" }, { Group: "all" }] });
        });
        it("waits for an image that a timed-out create left pending, then finishes it", async () => {
            ec2.on(DescribeImagesCommand)
                .resolvesOnce({ Images: [image({ State: "pending" })] })
                .resolves({ Images: [image()] });
            const r = await hooks.update(IMAGE_ID, olds, inputs);
            assert.equal(r.outs.state, "available");
            assert.equal(ec2.commandCalls(DescribeImagesCommand).length, 2);
        });
    });

    describe("delete", () => {
        const state = { ...inputs, imageId: IMAGE_ID, snapshotIds: [SNAP] } as never;
        it("asks what uses the image, then deregisters it and deletes its snapshots in two changing calls", async () => {
            ec2.on(DeregisterImageCommand).resolves({});
            ec2.on(DeleteSnapshotCommand).resolves({});
            await hooks.delete(IMAGE_ID, state);
            assert.equal(ec2.commandCalls(DescribeImageReferencesCommand).length, 1);
            assert.equal(ec2.commandCalls(DeregisterImageCommand).length, 1);
            assert.deepEqual(
                ec2.commandCalls(DeleteSnapshotCommand).map((c) => c.args[0].input.SnapshotId),
                [SNAP],
            );
            const changing = ec2.calls().filter((c) => !(c.args[0] as object).constructor.name.startsWith("Describe"));
            assert.equal(changing.length, 2);
        });

        const usedByInstance = () =>
            ec2.on(DescribeImageReferencesCommand).resolves({
                ImageReferences: [{ ImageId: IMAGE_ID, ResourceType: "ec2:Instance", Arn: "arn:aws:ec2:us-east-1:1:instance/i-0feed" }],
            });
        const owner = "proj/dev/AmiFromInstance/web";

        it("destroy of an image a running instance uses fails naming it and both ways out; nothing is deleted", async () => {
            usedByInstance();
            ec2.on(DescribeImagesCommand).resolves({ Images: [] });
            await assert.rejects(
                hooks.delete(IMAGE_ID, { ...inputs, imageId: IMAGE_ID, snapshotIds: [SNAP], owner } as never),
                (e: Error) =>
                    /still in use: instance i-0feed/.test(e.message) &&
                    /end the use/.test(e.message) &&
                    /retainOnDelete: true/.test(e.message) &&
                    /stays in state/.test(e.message),
            );
            assert.equal(ec2.commandCalls(DeregisterImageCommand).length, 0);
            assert.equal(ec2.commandCalls(DeleteSnapshotCommand).length, 0);
        });

        it("preview of a replacement says the old image is in use and will be kept, naming the instance", async () => {
            usedByInstance();
            const olds = { ...inputs, imageId: IMAGE_ID, snapshotIds: [SNAP], owner, name: "web-1a2b3c4d" };
            const r = await hooks.diff(
                IMAGE_ID,
                olds as never,
                { ...inputs, name: "web-5e6f7a8b", sourceInstanceId: "i-0fedcba9876543210" } as never,
            );
            assert.ok(r.replaces?.includes("sourceInstanceId"));
            const said = log.args.map((a) => String(a[0])).join("\n");
            assert.match(said, /replacing it keeps the old image, not deregistered: it is in use: instance i-0feed/);
            assert.equal(ec2.commandCalls(DeregisterImageCommand).length, 0);
        });

        it("destroy still fails when the only other image under the mark is an older one a replacement kept", async () => {
            usedByInstance();
            ec2.on(DescribeImagesCommand).resolves({
                Images: [
                    {
                        ImageId: "ami-0cccccccccccccccc",
                        State: "available",
                        CreationDate: "2026-01-01T00:00:00.000Z",
                        Tags: [{ Key: "golden-ami:kept-in-use", Value: "2026-02-01T00:00:00.000Z" }],
                    },
                ],
            });
            await assert.rejects(
                hooks.delete(IMAGE_ID, {
                    ...inputs,
                    imageId: IMAGE_ID,
                    snapshotIds: [SNAP],
                    owner,
                    creationDate: "2026-03-01T00:00:00.000Z",
                } as never),
                /still in use: instance i-0feed/,
            );
            assert.equal(ec2.commandCalls(DeregisterImageCommand).length, 0);
        });

        it("the replaced image an instance still uses is kept, tagged for retention, with a warning naming the instance", async () => {
            usedByInstance();
            // The replacement: another image under the same mark.
            ec2.on(DescribeImagesCommand).resolves({ Images: [{ ImageId: "ami-0bbbbbbbbbbbbbbbb", State: "available" }] });
            ec2.on(CreateTagsCommand).resolves({});
            const warn = sinon.stub(console, "error");
            try {
                await hooks.delete(IMAGE_ID, { ...inputs, imageId: IMAGE_ID, snapshotIds: [SNAP], owner } as never);
                assert.match(String(warn.firstCall?.args[0]), /kept, not deregistered: it is still in use: instance i-0feed/);
            } finally {
                warn.restore();
            }
            assert.deepEqual(ec2.commandCalls(DescribeImagesCommand)[0].args[0].input.Filters, [
                { Name: "tag:golden-ami:owner", Values: [owner] },
            ]);
            const tags = ec2.commandCalls(CreateTagsCommand)[0].args[0].input;
            assert.deepEqual(tags.Resources, [IMAGE_ID]);
            assert.deepEqual(
                tags.Tags!.map((t) => t.Key),
                ["golden-ami:kept-in-use", "golden-ami:owner"],
            );
            assert.equal(ec2.commandCalls(DeregisterImageCommand).length, 0);
            assert.equal(ec2.commandCalls(DeleteSnapshotCommand).length, 0);
        });
        it("keeps the snapshots when deleteSnapshotsOnDestroy is false", async () => {
            ec2.on(DeregisterImageCommand).resolves({});
            await hooks.delete(IMAGE_ID, { ...inputs, imageId: IMAGE_ID, snapshotIds: [SNAP], deleteSnapshotsOnDestroy: false } as never);
            assert.equal(ec2.commandCalls(DeleteSnapshotCommand).length, 0);
        });
        it("still deletes the snapshots when the image was already deregistered", async () => {
            ec2.on(DeregisterImageCommand).rejects(ec2Error("InvalidAMIID.NotFound"));
            ec2.on(DeleteSnapshotCommand).resolves({});
            await hooks.delete(IMAGE_ID, state);
            assert.equal(ec2.commandCalls(DeleteSnapshotCommand).length, 1);
        });
        it("looks the snapshots up when state has none (a create that never finished)", async () => {
            ec2.on(DescribeImagesCommand).resolves({ Images: [image({ State: "pending" })] });
            ec2.on(DeregisterImageCommand).resolves({});
            ec2.on(DeleteSnapshotCommand).resolves({});
            await hooks.delete(IMAGE_ID, { ...inputs, imageId: IMAGE_ID, snapshotIds: [] } as never);
            assert.equal(ec2.commandCalls(DeleteSnapshotCommand)[0].args[0].input.SnapshotId, SNAP);
        });
        it("says how to proceed when deregistration protection blocks the destroy", async () => {
            ec2.on(DeregisterImageCommand).rejects(ec2Error("OperationNotPermitted", "image is protected"));
            await assert.rejects(
                hooks.delete(IMAGE_ID, { ...inputs, imageId: IMAGE_ID, snapshotIds: [SNAP], deregistrationProtection: true } as never),
                /deleting AMI \(web-1\) ami-0123456789abcdef0: .*set deregistrationProtection: false and run `pulumi up`/,
            );
        });
    });
});
