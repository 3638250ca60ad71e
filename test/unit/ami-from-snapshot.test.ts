// AmiFromSnapshot: RegisterImage from the user's snapshots, which stay the user's.
import {
    DeleteSnapshotCommand,
    DeregisterImageCommand,
    DescribeImagesCommand,
    DescribeSnapshotsCommand,
    EC2Client,
    RegisterImageCommand,
} from "@aws-sdk/client-ec2";
import { mockClient } from "aws-sdk-client-mock";
import assert from "node:assert/strict";
import sinon from "sinon";
import * as hooks from "../../dynamic-providers/ami-from-snapshot-hooks";
import { descriptor } from "../../sdk/ami-from-snapshot";
import { checkImageKindInputs } from "../../sdk/rules/image";
import { ec2Error } from "../support/aws-errors";
import { nothingUsesImages } from "../support/no-references";

const ec2 = mockClient(EC2Client);
const SNAP = "snap-0123456789abcdef0";
const DATA = "snap-0fedcba9876543210";
const IMAGE = "ami-0123456789abcdef0";
const inputs = {
    name: "restored-1",
    region: "us-east-1",
    blockDeviceMappings: [
        { deviceName: "/dev/xvda", ebs: { snapshotId: SNAP, volumeType: "gp3" } },
        { deviceName: "/dev/sdf", ebs: { snapshotId: DATA } },
    ],
};
const failures = (news: Record<string, unknown>) => checkImageKindInputs(descriptor, news as never, undefined).map((f) => f.reason);

describe("AmiFromSnapshot", () => {
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

    describe("check rules", () => {
        it("accepts the example of its TSDoc", () => {
            assert.deepEqual(failures({ ...inputs, architecture: "arm64", bootMode: "uefi", imdsSupport: "v2.0", tpmSupport: "v2.0" }), []);
        });
        it("requires blockDeviceMappings, naming the shape", () => {
            assert.match(failures({ name: "x-1", region: "us-east-1" })[0], /^blockDeviceMappings: is required: .*snapshotId/);
        });
        it("refuses a malformed snapshot id, a root device without a snapshot, and bad enums, each naming the property and the fix", () => {
            assert.deepEqual(
                failures({
                    ...inputs,
                    blockDeviceMappings: [{ deviceName: "/dev/xvda", ebs: { snapshotId: "snapshot-1" } }],
                    architecture: "amd64",
                    virtualizationType: "xen",
                }).map((f) => f.split(":")[0]),
                ["blockDeviceMappings", "architecture", "virtualizationType"],
            );
            assert.match(
                failures({ ...inputs, rootDeviceName: "/dev/sda1" })[0],
                /^rootDeviceName: "\/dev\/sda1" has no snapshot in blockDeviceMappings; add \{ deviceName: "\/dev\/sda1"/,
            );
        });
        it("refuses tpmSupport without UEFI, saying set bootMode", () => {
            assert.match(failures({ ...inputs, tpmSupport: "v2.0" })[0], /^tpmSupport: NitroTPM needs UEFI; set bootMode: "uefi"/);
        });
        it("refuses snapshotTags on snapshots that stay the user's, unless deleteSnapshotsOnDestroy: true", () => {
            assert.match(failures({ ...inputs, snapshotTags: { A: "1" } })[0], /^snapshotTags: .*set deleteSnapshotsOnDestroy: true/);
            assert.deepEqual(failures({ ...inputs, snapshotTags: { A: "1" }, deleteSnapshotsOnDestroy: true }), []);
        });
    });

    describe("check at preview", () => {
        it("refuses a snapshot that does not exist in the region, naming it", async () => {
            ec2.on(DescribeSnapshotsCommand, { SnapshotIds: [SNAP] }).resolves({ Snapshots: [{ SnapshotId: SNAP }] });
            ec2.on(DescribeSnapshotsCommand, { SnapshotIds: [DATA] }).rejects(ec2Error("InvalidSnapshot.NotFound"));
            const r = await hooks.check({}, inputs);
            assert.equal(r.failures?.length, 1);
            assert.match(
                r.failures![0].reason,
                /^blockDeviceMappings: snapshot snap-0fedcba9876543210 does not exist in us-east-1; set ebs.snapshotId/,
            );
        });
        it("fills in the defaults, and no snapshot tags (the snapshots are not the image's)", async () => {
            ec2.on(DescribeSnapshotsCommand).callsFake((i) => ({ Snapshots: i.SnapshotIds.map((SnapshotId: string) => ({ SnapshotId })) }));
            const r = await hooks.check({}, { ...inputs, tags: { App: "web" } });
            assert.deepEqual(r.failures, []);
            assert.equal(r.inputs.rootDeviceName, "/dev/xvda");
            assert.equal(r.inputs.architecture, "x86_64");
            assert.equal(r.inputs.enaSupport, true);
            assert.equal(r.inputs.virtualizationType, "hvm");
            assert.equal(r.inputs.deleteSnapshotsOnDestroy, false);
            assert.equal(r.inputs.snapshotTags, undefined);
        });
        it("asks EC2 nothing for an unchanged image", async () => {
            await hooks.check(inputs, inputs);
            assert.equal(ec2.calls().length, 0);
        });
    });

    describe("create", () => {
        it("registers exactly the devices and snapshots given, tags the image only, and reports the snapshots", async () => {
            ec2.on(RegisterImageCommand).resolves({ ImageId: IMAGE });
            ec2.on(DescribeImagesCommand).resolves({
                Images: [
                    {
                        ImageId: IMAGE,
                        Name: inputs.name,
                        State: "available",
                        RootDeviceName: "/dev/xvda",
                        BlockDeviceMappings: [
                            { DeviceName: "/dev/xvda", Ebs: { SnapshotId: SNAP } },
                            { DeviceName: "/dev/sdf", Ebs: { SnapshotId: DATA } },
                        ],
                        Tags: [{ Key: "App", Value: "web" }],
                    },
                ],
            });
            const checked = (await hooks.check({}, { ...inputs, tags: { App: "web" } })).inputs;
            ec2.resetHistory();
            const r = await hooks.create(checked as never);
            const call = ec2.commandCalls(RegisterImageCommand)[0].args[0].input;
            assert.equal(call.RootDeviceName, "/dev/xvda");
            assert.deepEqual(
                call.BlockDeviceMappings?.map((m) => [m.DeviceName, m.Ebs?.SnapshotId, m.Ebs?.VolumeType]),
                [
                    ["/dev/xvda", SNAP, "gp3"],
                    ["/dev/sdf", DATA, undefined],
                ],
            );
            assert.equal(call.Architecture, "x86_64");
            assert.equal(call.EnaSupport, true);
            assert.deepEqual(call.TagSpecifications, [{ ResourceType: "image", Tags: [{ Key: "App", Value: "web" }] }]);
            // Nothing tags the user's snapshots.
            assert.equal(
                ec2.calls().filter((c) => JSON.stringify((c.args[0] as { input: unknown }).input).includes(`"Resources":["${SNAP}"`))
                    .length,
                0,
            );
            assert.deepEqual(r.outs.snapshotIds, [SNAP, DATA]);
        });
    });

    describe("delete", () => {
        it("deregisters the image and keeps the user's snapshots", async () => {
            ec2.on(DeregisterImageCommand).resolves({});
            await hooks.delete(IMAGE, { ...inputs, deleteSnapshotsOnDestroy: false, imageId: IMAGE, snapshotIds: [SNAP, DATA] } as never);
            assert.equal(ec2.commandCalls(DeregisterImageCommand).length, 1);
            assert.equal(ec2.commandCalls(DeleteSnapshotCommand).length, 0);
        });
        it("deletes them only with deleteSnapshotsOnDestroy: true", async () => {
            ec2.on(DeregisterImageCommand).resolves({});
            ec2.on(DeleteSnapshotCommand).resolves({});
            await hooks.delete(IMAGE, { ...inputs, deleteSnapshotsOnDestroy: true, imageId: IMAGE, snapshotIds: [SNAP, DATA] } as never);
            assert.equal(ec2.commandCalls(DeleteSnapshotCommand).length, 2);
        });
    });
});
