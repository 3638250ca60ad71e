// The emulator's image usage reports through the real AWS SDK and the AWS
// CLI, two accounts (moto's STS AssumeRole): a report is made by the image's
// owner, stays pending for a while, then lists per account what runs or
// keeps launch templates from the image, and is gone 30 days after it was
// made (API_CreateImageUsageReport.html, API_ImageUsageReport.html,
// API_ImageUsageReportEntry.html). One emulator for the file; the clock is
// moved, never waited on.
import {
    CreateImageCommand,
    CreateImageUsageReportCommand,
    CreateLaunchTemplateCommand,
    DeleteImageUsageReportCommand,
    DescribeImagesCommand,
    DescribeImageUsageReportEntriesCommand,
    DescribeImageUsageReportsCommand,
    EC2Client,
    ImageUsageReport,
    ModifyImageAttributeCommand,
    RunInstancesCommand,
} from "@aws-sdk/client-ec2";
import { GetParameterCommand } from "@aws-sdk/client-ssm";
import { fromTemporaryCredentials } from "@aws-sdk/credential-providers";
import assert from "node:assert/strict";
import { refusal } from "../support/aws-errors";
import { cliOk, startSession, type Session } from "../support/conformance";

const REGION = "us-east-1";
const OTHER = "111122223333";
const AL2023 = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";
const PENDING_SECONDS = 60;
const DAY_MS = 86_400_000;

describe("emulator: image usage reports (Create/Describe/DescribeEntries/Delete ImageUsageReport), two accounts", function () {
    this.timeout(120_000);
    let session: Session;
    let mine: EC2Client;
    let theirs: EC2Client;
    let imageId: string;
    let unusedId: string;
    const failImageIds: string[] = [];

    const report = async (id: string): Promise<ImageUsageReport> =>
        (await mine.send(new DescribeImageUsageReportsCommand({ ReportIds: [id] }))).ImageUsageReports![0];
    const entries = async (id: string) => {
        const out = [];
        let NextToken: string | undefined;
        do {
            const page = await mine.send(new DescribeImageUsageReportEntriesCommand({ ReportIds: [id], NextToken }));
            out.push(...page.ImageUsageReportEntries!);
            NextToken = page.NextToken;
        } while (NextToken);
        return out.map((e) => `${e.AccountId} ${e.ResourceType} ${e.UsageCount}`).sort();
    };
    const newReport = async (image: string) =>
        (
            await mine.send(
                new CreateImageUsageReportCommand({
                    ImageId: image,
                    ResourceTypes: [{ ResourceType: "ec2:Instance" }, { ResourceType: "ec2:LaunchTemplate" }],
                    TagSpecifications: [{ ResourceType: "image-usage-report", Tags: [{ Key: "Purpose", Value: "test" }] }],
                }),
            )
        ).ReportId!;
    const available = async (image: string) => {
        for (let i = 0; i < 20; i++) {
            const state = (await mine.send(new DescribeImagesCommand({ ImageIds: [image] }))).Images![0].State;
            if (state === "available") return;
        }
        throw new Error(`${image} stays pending`);
    };

    before(async () => {
        session = await startSession({ seed: 5, usageReports: { pendingSeconds: PENDING_SECONDS, failImageIds } });
        mine = session.ec2(REGION);
        theirs = new EC2Client({
            region: REGION,
            endpoint: session.emulator.endpoint,
            credentials: fromTemporaryCredentials({
                params: { RoleArn: `arn:aws:iam::${OTHER}:role/images`, RoleSessionName: "usage-test" },
                masterCredentials: { accessKeyId: "testing", secretAccessKey: "testing" },
                clientConfig: { region: REGION, endpoint: session.emulator.endpoint },
            }),
        });
        const base = (await session.ssm(REGION).send(new GetParameterCommand({ Name: AL2023 }))).Parameter!.Value!;
        const builder = await mine.send(new RunInstancesCommand({ ImageId: base, InstanceType: "t3.micro", MinCount: 1, MaxCount: 1 }));
        const instanceId = builder.Instances![0].InstanceId!;
        imageId = (await mine.send(new CreateImageCommand({ InstanceId: instanceId, Name: "usage-used" }))).ImageId!;
        unusedId = (await mine.send(new CreateImageCommand({ InstanceId: instanceId, Name: "usage-unused" }))).ImageId!;
        await available(imageId);
        await available(unusedId);
        // Shared with the other account, which runs an instance from it and keeps a launch template naming it.
        await mine.send(new ModifyImageAttributeCommand({ ImageId: imageId, LaunchPermission: { Add: [{ UserId: OTHER }] } }));
        await theirs.send(new RunInstancesCommand({ ImageId: imageId, InstanceType: "t3.micro", MinCount: 1, MaxCount: 1 }));
        await theirs.send(
            new CreateLaunchTemplateCommand({
                LaunchTemplateName: "usage-test",
                LaunchTemplateData: { ImageId: imageId, InstanceType: "t3.micro" },
            }),
        );
    });

    after(async () => {
        theirs?.destroy();
        await session?.stop();
    });

    it("a new report is pending and lists no entries; once available it lists per account the instances and launch templates", async () => {
        const id = await newReport(imageId);
        const pending = await report(id);
        assert.equal(pending.State, "pending");
        assert.equal(pending.ImageId, imageId);
        assert.deepEqual(pending.Tags, [{ Key: "Purpose", Value: "test" }]);
        assert.deepEqual(await entries(id), [], "a pending report has no entries yet: they are not 'no use'");
        session.emulator.proxy.advanceClock(PENDING_SECONDS * 1000);
        const done = await report(id);
        assert.equal(done.State, "available");
        assert.equal(done.ExpirationTime!.getTime() - done.CreationTime!.getTime(), 30 * DAY_MS);
        assert.deepEqual(await entries(id), [`${OTHER} ec2:Instance 1`, `${OTHER} ec2:LaunchTemplate 1`]);
        const onlyInstances = await mine.send(
            new DescribeImageUsageReportEntriesCommand({ ReportIds: [id], Filters: [{ Name: "resource-type", Values: ["ec2:Instance"] }] }),
        );
        assert.deepEqual(
            onlyInstances.ImageUsageReportEntries!.map((e) => e.ResourceType),
            ["ec2:Instance"],
        );
    });

    it("an image nobody uses: an available report with no entries", async () => {
        const id = await newReport(unusedId);
        session.emulator.proxy.advanceClock(PENDING_SECONDS * 1000);
        assert.equal((await report(id)).State, "available");
        assert.deepEqual(await entries(id), []);
    });

    it("refuses an image the caller does not own, an unknown image, an unknown resource type and an unknown report", async () => {
        const create = (client: EC2Client, image: string, type = "ec2:Instance") =>
            client.send(new CreateImageUsageReportCommand({ ImageId: image, ResourceTypes: [{ ResourceType: type }] }));
        assert.equal(await refusal(create(theirs, imageId)), "AuthFailure");
        assert.equal(await refusal(create(mine, "ami-0123456789abcdef0")), "InvalidAMIID.NotFound");
        assert.equal(await refusal(create(mine, imageId, "ec2:Volume")), "InvalidParameterValue");
        assert.equal(
            await refusal(mine.send(new DescribeImageUsageReportsCommand({ ReportIds: ["amiur-00000000000000000"] }))),
            "InvalidImageUsageReportId.NotFound",
        );
    });

    it("a report that could not be made ends in state error with a reason", async () => {
        failImageIds.push(unusedId);
        const id = await newReport(unusedId);
        session.emulator.proxy.advanceClock(PENDING_SECONDS * 1000);
        const r = await report(id);
        assert.equal(r.State, "error");
        assert.ok(r.StateReason);
        failImageIds.length = 0;
    });

    it("the AWS CLI creates and describes a report", async () => {
        const created = cliOk<{ ReportId: string }>(
            await session.aws(
                ["ec2", "create-image-usage-report", "--image-id", imageId, "--resource-types", "ResourceType=ec2:Instance"],
                REGION,
            ),
        );
        const described = cliOk<{ ImageUsageReports: { ReportId: string; State: string }[] }>(
            await session.aws(["ec2", "describe-image-usage-reports", "--report-ids", created.ReportId], REGION),
        );
        assert.deepEqual(
            described.ImageUsageReports.map((r) => [r.ReportId, r.State]),
            [[created.ReportId, "pending"]],
        );
    });

    it("a deleted report is gone; so is every report 30 days after it was made", async () => {
        const deleted = await newReport(imageId);
        await mine.send(new DeleteImageUsageReportCommand({ ReportId: deleted }));
        assert.equal(await refusal(report(deleted)), "InvalidImageUsageReportId.NotFound");
        const kept = await newReport(imageId);
        session.emulator.proxy.advanceClock(30 * DAY_MS);
        assert.equal(await refusal(report(kept)), "InvalidImageUsageReportId.NotFound");
        assert.deepEqual((await mine.send(new DescribeImageUsageReportsCommand({}))).ImageUsageReports, []);
    });
});
