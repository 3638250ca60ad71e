import {
    DeleteSnapshotCommand,
    DeregisterImageCommand,
    DescribeFleetsCommand,
    DescribeImageAttributeCommand,
    DescribeImageReferencesCommand,
    DescribeImagesCommand,
    DescribeInstancesCommand,
    DescribeLaunchTemplateVersionsCommand,
    DescribeSpotFleetRequestsCommand,
    DisableImageCommand,
    EC2Client,
    EnableImageDeprecationCommand,
    Image,
} from "@aws-sdk/client-ec2";
import { AutoScalingClient, DescribeAutoScalingGroupsCommand, DescribeLaunchConfigurationsCommand } from "@aws-sdk/client-auto-scaling";
import { DescribeParametersCommand, GetParametersCommand, SSMClient } from "@aws-sdk/client-ssm";
import { mockClient } from "aws-sdk-client-mock";
import assert from "node:assert/strict";
import * as sinon from "sinon";
import * as hooks from "../../dynamic-providers/retention-policy";
import { checkRetentionPolicyInputs } from "../../sdk/validation";
import { ec2Error } from "../support/aws-errors";

const ec2 = mockClient(EC2Client);
const ssm = mockClient(SSMClient);
const autoScaling = mockClient(AutoScalingClient);
const DAY = 86_400_000;

function image(n: number, daysOld: number, extra: Partial<Image> = {}): Image {
    return {
        ImageId: `ami-${String(n).padStart(17, "0")}`,
        Name: `web-${n}`,
        State: "available",
        OwnerId: "111122223333",
        CreationDate: new Date(Date.now() - daysOld * DAY).toISOString(),
        BlockDeviceMappings: [{ DeviceName: "/dev/xvda", Ebs: { SnapshotId: `snap-${String(n).padStart(17, "0")}` } }],
        Tags: [{ Key: "App", Value: "web" }],
        ...extra,
    };
}
const id = (n: number) => `ami-${String(n).padStart(17, "0")}`;

const settings = { regions: ["us-east-1"], selector: { namePattern: "web-*" }, keepLatest: 1 };

describe("AmiRetentionPolicy provider hooks", () => {
    let log: sinon.SinonStub;
    let err: sinon.SinonStub;
    beforeEach(() => {
        ec2.reset();
        ssm.reset();
        autoScaling.reset();
        log = sinon.stub(console, "log");
        err = sinon.stub(console, "error");
        ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
        ec2.on(DescribeLaunchTemplateVersionsCommand).resolves({ LaunchTemplateVersions: [] });
        // These tests exercise the enumeration (no DescribeImageReferences), with no fleets, groups or shares.
        ec2.on(DescribeImageReferencesCommand).rejects(ec2Error("InvalidAction"));
        ec2.on(DescribeFleetsCommand).resolves({ Fleets: [] });
        ec2.on(DescribeSpotFleetRequestsCommand).resolves({ SpotFleetRequestConfigs: [] });
        ec2.on(DescribeImageAttributeCommand).resolves({ LaunchPermissions: [] });
        autoScaling.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [] });
        autoScaling.on(DescribeLaunchConfigurationsCommand).resolves({ LaunchConfigurations: [] });
        ssm.on(DescribeParametersCommand).resolves({ Parameters: [] });
    });
    afterEach(() => {
        log.restore();
        err.restore();
    });

    describe("check", () => {
        it("computes pending from one inventory per region, so preview shows it", async () => {
            ec2.on(DescribeImagesCommand).resolves({ Images: [image(1, 30), image(2, 20), image(3, 1)] });
            const r = await hooks.check({}, settings);
            assert.deepEqual(r.failures, undefined);
            assert.deepEqual(
                r.inputs.pending.map((p: { imageId: string }) => p.imageId),
                [id(1), id(2)],
            );
            assert.equal(r.inputs.pending[0].group, "us-east-1");
            const req = ec2.commandCalls(DescribeImagesCommand)[0].args[0].input;
            assert.deepEqual(req.Owners, ["self"]);
            assert.deepEqual(req.Filters, [{ Name: "name", Values: ["web-*"] }]);
            assert.equal(req.MaxResults, 1000);
        });

        it("treats images used by instances and launch templates as in use, through SSM parameters too, and survives templates without an ImageId", async () => {
            ec2.on(DescribeImagesCommand).resolves({ Images: [image(0, 40), image(1, 30), image(2, 20), image(3, 10), image(4, 1)] });
            ssm.on(GetParametersCommand).resolves({ Parameters: [{ Name: "/golden/web", Value: id(0) }], InvalidParameters: [] });
            ec2.on(DescribeInstancesCommand).resolves({
                Reservations: [{ Instances: [{ InstanceId: "i-1", ImageId: id(1), State: { Name: "stopped" } }] }],
            });
            ec2.on(DescribeLaunchTemplateVersionsCommand).resolves({
                LaunchTemplateVersions: [
                    { LaunchTemplateName: "web", VersionNumber: 3, DefaultVersion: true, LaunchTemplateData: { ImageId: id(2) } },
                    { LaunchTemplateName: "no-image", VersionNumber: 1, LaunchTemplateData: {} },
                    { LaunchTemplateName: "ssm", VersionNumber: 1, LaunchTemplateData: { ImageId: "resolve:ssm:/golden/web" } },
                ],
            });
            const r = await hooks.check({}, settings);
            assert.deepEqual(
                r.inputs.pending.map((p: { imageId: string }) => p.imageId),
                [id(3)],
            );
            const filter = ec2.commandCalls(DescribeInstancesCommand)[0].args[0].input.Filters;
            assert.deepEqual(filter, [
                { Name: "instance-state-name", Values: ["pending", "running", "shutting-down", "stopping", "stopped"] },
            ]);
        });

        it("refuses to plan when an SSM parameter behind a launch template cannot be read, naming it and the fix", async () => {
            ec2.on(DescribeImagesCommand).resolves({ Images: [image(1, 30), image(2, 1)] });
            ec2.on(DescribeLaunchTemplateVersionsCommand).resolves({
                LaunchTemplateVersions: [
                    { LaunchTemplateName: "ssm", VersionNumber: 1, LaunchTemplateData: { ImageId: "resolve:ssm:/golden/gone" } },
                ],
            });
            ssm.on(GetParametersCommand).resolves({ Parameters: [], InvalidParameters: ["/golden/gone"] });
            const r = await hooks.check({}, settings);
            assert.match(r.failures![0].reason, /SSM parameter\(s\) \/golden\/gone, which could not be read .*Grant ssm:GetParameters/);
        });

        it("follows DescribeImages pages", async () => {
            ec2.on(DescribeImagesCommand)
                .resolvesOnce({ Images: [image(1, 30)], NextToken: "t1" })
                .resolvesOnce({ Images: [image(2, 20)], NextToken: "t2" })
                .resolves({ Images: [image(3, 1)] });
            const r = await hooks.check({}, settings);
            assert.equal(ec2.commandCalls(DescribeImagesCommand).length, 3);
            assert.deepEqual(
                r.inputs.pending.map((p: { imageId: string }) => p.imageId),
                [id(1), id(2)],
            );
        });

        it("ignores exclude ids not known yet during preview", async () => {
            ec2.on(DescribeImagesCommand).resolves({ Images: [image(1, 30), image(2, 1)] });
            const r = await hooks.check({}, { ...settings, exclude: { imageIds: ["04da6b54-80e4-46f7-96ec-b56ff0331ba9", id(1)] } });
            assert.deepEqual(r.inputs.pending, []);
        });

        it("turns an EC2 failure while planning into a check failure naming the code", async () => {
            ec2.on(DescribeImagesCommand).rejects(Object.assign(new Error("no"), { name: "UnauthorizedOperation" }));
            const r = await hooks.check({}, settings);
            assert.match(r.failures![0].reason, /UnauthorizedOperation.*IAM policy/);
        });
    });

    describe("check rules", () => {
        const table: [string, Record<string, unknown>, string][] = [
            ["regions", { regions: [] }, "no region is set"],
            ["regions", { regions: ["moon-1"] }, "not an AWS region"],
            ["selector", { selector: undefined }, "is required"],
            ["selector", { selector: { owners: ["self"] } }, "needs namePattern or tags"],
            ["selector.namePattern", { selector: { namePattern: "" } }, "non-empty"],
            ["selector.tags", { selector: { tags: {} } }, "is empty"],
            ["selector.owners", { selector: { namePattern: "*", owners: ["amazon"] } }, 'must be ["self"]'],
            ["groupBy", { groupBy: "App" }, "list of tag keys"],
            ["keepLatest", { keepLatest: undefined }, "is required"],
            ["keepLatest", { keepLatest: 0 }, "at least 1"],
            ["keepLatest", { keepLatest: 1.5 }, "whole number"],
            ["maxAgeDays", { maxAgeDays: 0 }, "greater than 0"],
            ["action", { action: "delete" }, "not one of"],
            ["deleteSnapshots", { action: "deprecate", deleteSnapshots: true }, 'only to action "deregister"'],
            ["dryRun", { dryRun: "yes" }, "true or false"],
            ["exclude.imageIds", { exclude: { imageIds: ["web"] } }, "not an AMI id"],
            ["exclude.tags", { exclude: { tags: { "aws:x": "1" } } }, "reserves"],
            ["exclude.inUse", { exclude: { inUse: "no" } }, "true or false"],
            ["exclude.launchedWithinDays", { exclude: { launchedWithinDays: -1 } }, "0 or more"],
        ];
        for (const [property, change, fragment] of table) {
            it(`refuses ${property} ${JSON.stringify(change)}, naming the property`, () => {
                const failures = checkRetentionPolicyInputs({ ...settings, ...change });
                assert.equal(failures.length, 1, JSON.stringify(failures));
                assert.equal(failures[0].property, property);
                assert.ok(failures[0].reason.startsWith(`${property}: `) && failures[0].reason.includes(fragment), failures[0].reason);
            });
        }
        it("makes no EC2 call when the input is bad", async () => {
            const r = await hooks.check({}, { ...settings, keepLatest: 0 });
            assert.equal(r.failures?.length, 1);
            assert.equal(ec2.calls().length, 0);
        });
    });

    describe("diff", () => {
        const pending = [
            { imageId: id(1), region: "us-east-1", name: "web-1", creationDate: "", group: "us-east-1", reason: "2nd newest" },
        ];
        const state = {
            ...settings,
            action: "deregister",
            deleteSnapshots: true,
            exclude: { inUse: true },
            dryRun: false,
            pending,
        } as never;
        it("shows a change when the set of pending images changes, never a replacement", async () => {
            const d = await hooks.diff("p", state, { ...(state as object), pending: [] } as never);
            assert.deepEqual(d, { changes: true, replaces: [] });
        });
        it("shows no change when only the reasons moved on (an age grew by a day)", async () => {
            const d = await hooks.diff("p", state, { ...(state as object), pending: [{ ...pending[0], reason: "older" }] } as never);
            assert.equal(d.changes, false);
        });
        it("shows a change of settings as an update", async () => {
            const d = await hooks.diff("p", state, { ...(state as object), keepLatest: 3 } as never);
            assert.deepEqual(d, { changes: true, replaces: [] });
        });
    });

    describe("acting (up)", () => {
        const plan = async (images: Image[], extra: Record<string, unknown> = {}) => {
            ec2.on(DescribeImagesCommand).resolves({ Images: images });
            return (await hooks.check({}, { ...settings, ...extra })).inputs;
        };

        it("deregisters the pending images and deletes their snapshots, then nothing is pending", async () => {
            const inputs = await plan([image(1, 30), image(2, 20), image(3, 1)]);
            ec2.on(DeregisterImageCommand).resolves({});
            ec2.on(DeleteSnapshotCommand).resolves({});
            const r = await hooks.update("p", inputs, inputs);
            assert.deepEqual(r.outs.lastRun.retired.map((x: { imageId: string }) => x.imageId).sort(), [id(1), id(2)]);
            assert.equal(r.outs.lastRun.snapshotsDeleted.length, 2);
            assert.deepEqual(r.outs.pending, []);
            assert.deepEqual(
                ec2
                    .commandCalls(DeregisterImageCommand)
                    .map((c) => c.args[0].input.ImageId)
                    .sort(),
                [id(1), id(2)],
            );
        });

        it("counts a snapshot two retired images share once, and reports snapshots kept because another image uses them", async () => {
            const shared = "snap-0000000000000000x";
            const sharing = (n: number, days: number) =>
                image(n, days, { BlockDeviceMappings: [{ DeviceName: "/dev/xvda", Ebs: { SnapshotId: shared } }] });
            const inputs = await plan([sharing(1, 30), sharing(2, 20), image(4, 25), image(3, 1)]);
            const results = (snapshotId: string, code: "success" | "skipped") => ({
                DeleteSnapshotResults: [{ SnapshotId: snapshotId, ReturnCode: code }],
            });
            ec2.on(DeregisterImageCommand, { ImageId: id(1) } as never).resolves(results(shared, "skipped"));
            ec2.on(DeregisterImageCommand, { ImageId: id(2) } as never).resolves(results(shared, "success"));
            ec2.on(DeregisterImageCommand, { ImageId: id(4) } as never).resolves(results("snap-00000000000000004", "skipped"));
            const r = await hooks.update("p", inputs, inputs);
            assert.equal(r.outs.lastRun.retired.length, 3);
            assert.deepEqual(r.outs.lastRun.snapshotsDeleted, [shared]);
            assert.deepEqual(r.outs.lastRun.snapshotsKept, [
                { snapshotId: "snap-00000000000000004", region: "us-east-1", imageId: id(4), reason: "still used by another image" },
            ]);
            assert.equal(ec2.commandCalls(DeleteSnapshotCommand).length, 0, "one call per retirement");
        });

        it("re-checks right before acting: an image now in use or now protected is skipped, not retired", async () => {
            const inputs = await plan([image(1, 30), image(2, 20), image(3, 1)]);
            ec2.on(DescribeImagesCommand).resolves({ Images: [image(1, 30), image(2, 20, { DeregistrationProtection: "enabled" })] });
            ec2.on(DescribeInstancesCommand).resolves({
                Reservations: [{ Instances: [{ InstanceId: "i-9", ImageId: id(1), State: { Name: "running" } }] }],
            });
            const r = await hooks.update("p", inputs, inputs);
            assert.deepEqual(r.outs.lastRun.retired, []);
            assert.deepEqual(r.outs.lastRun.skipped.map((s: { reason: string }) => s.reason).sort(), [
                "deregistration protection is on",
                "in use: instance i-9 (running)",
            ]);
            assert.equal(ec2.commandCalls(DeregisterImageCommand).length, 0);
        });

        it("keeps going when one image fails, reports it and warns", async () => {
            const inputs = await plan([image(1, 30), image(2, 20), image(3, 1)]);
            ec2.on(DeregisterImageCommand, { ImageId: id(1) } as never).rejects(
                Object.assign(new Error("boom"), { name: "InternalError" }),
            );
            ec2.on(DeregisterImageCommand, { ImageId: id(2) } as never).resolves({});
            ec2.on(DeleteSnapshotCommand).resolves({});
            const r = await hooks.update("p", inputs, inputs);
            assert.deepEqual(
                r.outs.lastRun.retired.map((x: { imageId: string }) => x.imageId),
                [id(2)],
            );
            assert.equal(r.outs.lastRun.failed[0].imageId, id(1));
            assert.match(r.outs.lastRun.failed[0].error, /InternalError/);
            assert.ok(err.getCalls().some((c) => /warning: retention: ami-0+1 .*failed, retried next run/.test(String(c.args[0]))));
        });

        it("with dryRun retires nothing and keeps showing what it would retire", async () => {
            const inputs = await plan([image(1, 30), image(2, 1)], { dryRun: true });
            const r = await hooks.update("p", inputs, inputs);
            assert.equal(ec2.commandCalls(DeregisterImageCommand).length, 0);
            assert.deepEqual(
                r.outs.pending.map((p: { imageId: string }) => p.imageId),
                [id(1)],
            );
        });

        it("deprecates or disables instead of deregistering when asked, keeping snapshots", async () => {
            let inputs = await plan([image(1, 30), image(2, 1)], { action: "deprecate" });
            ec2.on(EnableImageDeprecationCommand).resolves({});
            await hooks.update("p", inputs, inputs);
            assert.equal(ec2.commandCalls(EnableImageDeprecationCommand)[0].args[0].input.ImageId, id(1));
            inputs = await plan([image(1, 30), image(2, 1)], { action: "disable" });
            ec2.on(DisableImageCommand).resolves({});
            await hooks.update("p", inputs, inputs);
            assert.equal(ec2.commandCalls(DisableImageCommand)[0].args[0].input.ImageId, id(1));
            assert.equal(ec2.commandCalls(DeregisterImageCommand).length + ec2.commandCalls(DeleteSnapshotCommand).length, 0);
        });

        it("destroying the policy retires and deletes nothing", async () => {
            await hooks.delete();
            assert.equal(ec2.calls().length, 0);
        });
    });
});
