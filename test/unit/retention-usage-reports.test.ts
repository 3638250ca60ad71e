// AmiRetentionPolicy `retireShared: "when-unused"`: preview holds shared
// candidates back without creating a report; apply retires one only when
// its image usage report shows no other account using it, and keeps it
// (fail closed, with why) when the report is in use, failed, gone, expired
// or not ready in time.
import {
    CreateImageUsageReportCommand,
    DeleteImageUsageReportCommand,
    DeregisterImageCommand,
    DescribeFleetsCommand,
    DescribeImageAttributeCommand,
    DescribeImageReferencesCommand,
    DescribeImagesCommand,
    DescribeImageUsageReportEntriesCommand,
    DescribeImageUsageReportsCommand,
    DescribeInstancesCommand,
    DescribeLaunchTemplateVersionsCommand,
    DescribeSpotFleetRequestsCommand,
    EC2Client,
    Image,
} from "@aws-sdk/client-ec2";
import { AutoScalingClient, DescribeAutoScalingGroupsCommand, DescribeLaunchConfigurationsCommand } from "@aws-sdk/client-auto-scaling";
import { DescribeParametersCommand, SSMClient } from "@aws-sdk/client-ssm";
import { mockClient } from "aws-sdk-client-mock";
import assert from "node:assert/strict";
import * as sinon from "sinon";
import * as hooks from "../../dynamic-providers/retention-policy-hooks";
import { checkRetentionPolicyInputs } from "../../sdk/validation";
import { ec2Error } from "../support/aws-errors";

const ec2 = mockClient(EC2Client);
const ssm = mockClient(SSMClient);
const autoScaling = mockClient(AutoScalingClient);
const DAY = 86_400_000;
const OWNER = "111122223333";
const OTHER = "444455556666";

const id = (n: number) => `ami-${String(n).padStart(17, "0")}`;
function image(n: number, daysOld: number): Image {
    return {
        ImageId: id(n),
        Name: `web-${n}`,
        State: "available",
        OwnerId: OWNER,
        CreationDate: new Date(Date.now() - daysOld * DAY).toISOString(),
        BlockDeviceMappings: [{ DeviceName: "/dev/xvda", Ebs: { SnapshotId: `snap-${String(n).padStart(17, "0")}` } }],
    };
}
const settings = {
    regions: ["us-east-1"],
    selector: { namePattern: "web-*" },
    keepLatest: 1,
    policyName: "web-images",
    retireShared: "when-unused" as const,
};
type Skipped = { imageId: string; reason: string };

describe('AmiRetentionPolicy retireShared "when-unused" (image usage reports)', () => {
    let log: sinon.SinonStub;
    let scale: string | undefined;
    beforeEach(() => {
        ec2.reset();
        ssm.reset();
        autoScaling.reset();
        log = sinon.stub(console, "log");
        // The waits scaled down: a 15 s poll is 15 ms, the 30-minute bound 1.8 s.
        scale = process.env.GOLDEN_AMI_POLL_SCALE;
        process.env.GOLDEN_AMI_POLL_SCALE = "0.001";
        autoScaling.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [] });
        autoScaling.on(DescribeLaunchConfigurationsCommand).resolves({ LaunchConfigurations: [] });
        ssm.on(DescribeParametersCommand).resolves({ Parameters: [] });
        ec2Stubs();
    });
    afterEach(() => {
        log.restore();
        if (scale === undefined) delete process.env.GOLDEN_AMI_POLL_SCALE;
        else process.env.GOLDEN_AMI_POLL_SCALE = scale;
    });

    const report = (n: number, state: string, extra: Record<string, unknown> = {}) => ({
        ImageId: id(n),
        ReportId: `amiur-${n}`,
        State: state,
        CreationTime: new Date(),
        ExpirationTime: new Date(Date.now() + 30 * DAY),
        ...extra,
    });
    const reportsAre = (byImage: Record<number, ReturnType<typeof report> | Error>) => {
        for (const [n, r] of Object.entries(byImage)) {
            const on = ec2.on(DescribeImageUsageReportsCommand, { ReportIds: [`amiur-${n}`] } as never);
            if (r instanceof Error) on.rejects(r);
            else on.resolves({ ImageUsageReports: [r] });
        }
    };
    const entriesAre = (n: number, entries: { AccountId: string; ResourceType: string; UsageCount: number }[]) =>
        ec2
            .on(DescribeImageUsageReportEntriesCommand, { ReportIds: [`amiur-${n}`] } as never)
            .resolves({ ImageUsageReportEntries: entries.map((e) => ({ ...e, ImageId: id(n), ReportId: `amiur-${n}` })) });
    const apply = async () => {
        const { inputs } = await hooks.check({}, settings);
        const r = await hooks.update("p", inputs, inputs);
        const run = r.outs.lastRun as { retired: { imageId: string }[]; skipped: Skipped[] };
        return {
            retired: run.retired.map((x) => x.imageId).sort(),
            kept: Object.fromEntries(run.skipped.map((s) => [s.imageId, s.reason])),
        };
    };

    it("preview holds shared candidates back as kept unless the usage report at apply shows no use, and creates no report", async () => {
        const r = await hooks.check({}, settings);
        assert.equal(r.failures, undefined);
        const pending = r.inputs.pending;
        assert.equal(pending.total, 1, "image 3, not shared");
        assert.match(pending.summary, /will retire 1 image .*2 held back \(shared, usage report at apply\)/);
        const held = pending.heldBack.first as (Skipped & { awaitsUsageReport?: boolean })[];
        assert.deepEqual(
            held.map((s) => [s.imageId, s.awaitsUsageReport]),
            [
                [id(1), true],
                [id(2), true],
            ],
        );
        assert.match(held[0].reason, new RegExp(`shared with account ${OTHER}: kept unless its image usage report at apply shows no`));
        assert.equal(ec2.commandCalls(CreateImageUsageReportCommand).length, 0, "preview creates no report");
        const lines = log.getCalls().map((c) => String(c.args[0]));
        assert.ok(
            lines.includes(
                `retention web-images: kept unless EC2's image usage report at apply shows no instance or launch template using it in another account (shared): us-east-1/${id(1)}, us-east-1/${id(2)}`,
            ),
            lines.join("\n"),
        );
    });

    it("apply retires the shared image no other account uses and keeps the one another account runs, saying who", async () => {
        reportsAre({ 1: report(1, "available"), 2: report(2, "available") });
        entriesAre(1, [{ AccountId: OWNER, ResourceType: "ec2:Instance", UsageCount: 2 }]);
        entriesAre(2, [
            { AccountId: OTHER, ResourceType: "ec2:Instance", UsageCount: 1 },
            { AccountId: OTHER, ResourceType: "ec2:LaunchTemplate", UsageCount: 2 },
        ]);
        const { retired, kept } = await apply();
        assert.deepEqual(retired, [id(1), id(3)], "the owner's own use is the in-use guard's business, not the report's");
        assert.match(
            kept[id(2)],
            new RegExp(`in use in another account: usage report amiur-2 shows account ${OTHER}: 1 instance, 2 launch templates`),
        );
        const created = ec2.commandCalls(CreateImageUsageReportCommand).map((c) => c.args[0].input);
        assert.deepEqual(created.map((c) => c.ImageId).sort(), [id(1), id(2)]);
        assert.deepEqual(
            created[0].ResourceTypes!.map((t) => t.ResourceType),
            ["ec2:Instance", "ec2:LaunchTemplate"],
        );
        assert.equal(ec2.commandCalls(DeleteImageUsageReportCommand).length, 2, "each report deleted once read");
        assert.ok(log.getCalls().some((c) => /asking EC2 for 2 image usage report/.test(String(c.args[0]))));
    });

    it("says so when a read report cannot be deleted (AccessDenied), and the finding stands; a report gone already is not mentioned", async () => {
        reportsAre({ 1: report(1, "available"), 2: report(2, "available") });
        entriesAre(1, []);
        entriesAre(2, []);
        ec2.on(DeleteImageUsageReportCommand, { ReportId: "amiur-1" } as never).rejects(ec2Error("UnauthorizedOperation"));
        ec2.on(DeleteImageUsageReportCommand, { ReportId: "amiur-2" } as never).rejects(ec2Error("InvalidImageUsageReportId.NotFound"));
        const { retired } = await apply();
        assert.deepEqual(retired, [id(1), id(2), id(3)]);
        const lines = log.getCalls().map((c) => String(c.args[0]));
        assert.ok(
            lines.some((l) => l.startsWith(`usage report amiur-1 of ${id(1)} not deleted (UnauthorizedOperation`)),
            lines.join("\n"),
        );
        assert.ok(!lines.some((l) => l.includes("amiur-2") && l.includes("not deleted")), lines.join("\n"));
    });

    it("keeps the image (fail closed) when its report ends in state error, is gone, has expired or cannot be created", async () => {
        reportsAre({
            1: report(1, "error", { StateReason: "internal error" }),
            2: ec2Error("InvalidImageUsageReportId.NotFound"),
        });
        let { retired, kept } = await apply();
        assert.deepEqual(retired, [id(3)]);
        assert.match(kept[id(1)], /usage unknown: usage report amiur-1 is in state error: internal error; kept \(fail closed\)/);
        assert.match(kept[id(2)], /usage unknown: usage report amiur-2 is gone \(expired or deleted\)/);

        ec2.reset();
        ec2Stubs();
        reportsAre({ 1: report(1, "available", { ExpirationTime: new Date(Date.now() - 1000) }) });
        ec2.on(CreateImageUsageReportCommand, { ImageId: id(2) } as never).rejects(ec2Error("UnauthorizedOperation"));
        ({ retired, kept } = await apply());
        assert.deepEqual(retired, [id(3)]);
        assert.match(kept[id(1)], /usage report amiur-1 expired at/);
        assert.match(kept[id(2)], /creating its usage report: UnauthorizedOperation/);
    });

    it("keeps the image when its report is still pending at the time limit, and when its entries cannot be read", async () => {
        reportsAre({ 1: report(1, "pending"), 2: report(2, "available") });
        ec2.on(DescribeImageUsageReportEntriesCommand).rejects(ec2Error("RequestLimitExceeded"));
        const { retired, kept } = await apply();
        assert.deepEqual(retired, [id(3)]);
        assert.match(kept[id(1)], /usage report amiur-1 was still pending after \d+ s; kept \(fail closed\)/);
        assert.match(kept[id(2)], /entries could not be read: RequestLimitExceeded/);
    });

    it('refuses a retireShared that is neither a boolean nor "when-unused", naming the property and the values', () => {
        const failures = checkRetentionPolicyInputs({ ...settings, retireShared: "sometimes" });
        assert.equal(failures.length, 1);
        assert.equal(failures[0].property, "retireShared");
        assert.match(failures[0].reason, /^retireShared: "sometimes" is not a shared-image rule; use false .*"when-unused" .* or true/);
        assert.deepEqual(checkRetentionPolicyInputs({ ...settings, retireShared: "when-unused" }), []);
    });
});

/** EC2 as the tests start from: images 1 and 2 old and shared with another account, 3 old and not shared, 4 the newest. */
function ec2Stubs(): void {
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    ec2.on(DescribeLaunchTemplateVersionsCommand).resolves({ LaunchTemplateVersions: [] });
    ec2.on(DescribeImageReferencesCommand).rejects(ec2Error("InvalidAction"));
    ec2.on(DescribeFleetsCommand).resolves({ Fleets: [] });
    ec2.on(DescribeSpotFleetRequestsCommand).resolves({ SpotFleetRequestConfigs: [] });
    ec2.on(DescribeImagesCommand).resolves({ Images: [image(1, 40), image(2, 30), image(3, 20), image(4, 1)] });
    ec2.on(DescribeImageAttributeCommand).resolves({ LaunchPermissions: [] });
    for (const n of [1, 2])
        ec2.on(DescribeImageAttributeCommand, { ImageId: id(n) } as never).resolves({ LaunchPermissions: [{ UserId: OTHER }] });
    ec2.on(DeregisterImageCommand).resolves({});
    ec2.on(DeleteImageUsageReportCommand).resolves({ Return: true });
    ec2.on(CreateImageUsageReportCommand).callsFake((input: { ImageId: string }) => ({ ReportId: `amiur-${input.ImageId.slice(-1)}` }));
}
