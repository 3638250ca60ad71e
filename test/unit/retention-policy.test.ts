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
import fc from "fast-check";
import assert from "node:assert/strict";
import { promises as fs, readFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as sinon from "sinon";
import { RECHECK_AFTER_SECONDS, SHARING_RECORD_MAX_AGE_HOURS } from "../../dynamic-providers/ec2/limits";
import * as hooks from "../../dynamic-providers/retention-policy-hooks";
import { rulesOf } from "../../dynamic-providers/retention-planning";
import { knownSharing, type SharingRecord } from "../../dynamic-providers/retention-sharing-records";
import { atApplySummary, entryReason, planDigest, printedBytes, summarizePlan } from "../../dynamic-providers/retention-summary";
import { planRetention, type RetentionImage } from "../../sdk/retention-plan";
import {
    formatPendingEntry,
    parsePendingEntry,
    pendingEntries,
    RETENTION_REPORT_LIMITS,
    type RetentionPendingSummary,
} from "../../sdk/retention-policy";
import { checkRetentionPolicyInputs, UNKNOWN } from "../../sdk/validation";
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

const settings = { regions: ["us-east-1"], selector: { namePattern: "web-*" }, keepLatest: 1, policyName: "web-images" };

/** The image ids a pending summary lists, in order. */
const listed = (pending: RetentionPendingSummary) => pendingEntries(pending).map((e) => e.imageId);

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
            assert.deepEqual(listed(r.inputs.pending), [id(1), id(2)]);
            assert.equal(r.inputs.pending.groups[0].group, "us-east-1");
            const req = ec2.commandCalls(DescribeImagesCommand)[0].args[0].input;
            assert.deepEqual(req.Owners, ["self"]);
            assert.deepEqual(req.Filters, [{ Name: "name", Values: ["web-*"] }]);
            assert.equal(req.MaxResults, 500);
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
            assert.deepEqual(listed(r.inputs.pending), [id(3)]);
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
            assert.deepEqual(listed(r.inputs.pending), [id(1), id(2)]);
        });

        it("turns an EC2 failure while planning into a check failure naming the code", async () => {
            ec2.on(DescribeImagesCommand).rejects(Object.assign(new Error("no"), { name: "UnauthorizedOperation" }));
            const r = await hooks.check({}, settings);
            assert.match(r.failures![0].reason, /UnauthorizedOperation.*IAM policy/);
        });
    });

    describe("pending summary (what preview shows)", () => {
        const grouped = (n: number, daysOld: number, app: string, extra: Partial<Image> = {}) =>
            image(n, daysOld, { Tags: [{ Key: "App", Value: app }], ...extra });

        it("lists every image while the list fits the preview budget: per group its count, oldest and newest, one line per image with its date and why, and prints one line", async () => {
            ec2.on(DescribeImagesCommand).resolves({
                Images: [
                    ...[1, 2, 3, 4, 5, 6, 7, 8].map((n) => grouped(n, 100 - n, "web")),
                    grouped(9, 50, "api"),
                    grouped(10, 40, "api"),
                    grouped(11, 30, "api"),
                ],
            });
            ec2.on(DescribeInstancesCommand).resolves({
                Reservations: [{ Instances: [{ InstanceId: "i-1", ImageId: id(9), State: { Name: "running" } }] }],
            });
            const r = await hooks.check({}, { ...settings, groupBy: ["App"] });
            const p = r.inputs.pending as RetentionPendingSummary;
            assert.equal(p.status, "planned");
            assert.equal(p.total, 8, "7 web (one kept) + 1 api (one kept, one in use)");
            assert.deepEqual(
                p.groups.map((g) => [g.group, g.count, g.images.length]),
                [
                    ["us-east-1/App=api", 1, 1],
                    ["us-east-1/App=web", 7, 7],
                ],
            );
            const web = p.groups[1];
            assert.deepEqual(
                pendingEntries({ groups: [web] }).map((e) => e.imageId),
                [1, 2, 3, 4, 5, 6, 7].map(id),
                "oldest first",
            );
            // The group header names the group, the policy's inputs its keepLatest: the line says the rest.
            const created = /^\S+ (\S+) web-1: 8th newest$/.exec(web.images[0])?.[1];
            assert.ok(created && Math.abs(Date.parse(created) - (Date.now() - 99 * DAY)) < 2 * DAY, web.images[0]);
            assert.ok(web.images[0].startsWith(`${id(1)} `));
            assert.equal(p.fullList, undefined, "every image is listed");
            assert.ok(Date.parse(web.oldest) < Date.parse(web.newest));
            assert.deepEqual(p.regions, [{ region: "us-east-1", count: 8, groups: 2 }]);
            assert.deepEqual(p.heldBack.byReason, [{ reason: "in use", count: 1 }]);
            assert.equal(p.heldBack.first[0].imageId, id(9));
            assert.match(p.heldBack.first[0].reason, /in use: instance i-1 \(running\)/);
            assert.equal(
                p.summary,
                "will retire 8 images (us-east-1: 8 in 2 groups); 1 held back (in use); sharing: 8 read now (read again right before each retirement)",
            );
            assert.ok(log.getCalls().some((c) => c.args[0] === `retention web-images: ${p.summary}`));
        });

        it("at up, keeps the counts and the digest in state but not the lines the preview printed (unless dryRun), and never keeps `previewing`", async () => {
            ec2.on(DescribeImagesCommand).resolves({ Images: [1, 2, 3, 4, 5].map((n) => grouped(n, 100 - n, "web")) });
            const atPreview = await hooks.check({}, { ...settings, groupBy: ["App"], previewing: true });
            const atUp = await hooks.check({}, { ...settings, groupBy: ["App"], previewing: false });
            const dryRunUp = await hooks.check({}, { ...settings, groupBy: ["App"], previewing: false, dryRun: true });
            const [p, u, d] = [atPreview, atUp, dryRunUp].map((r) => r.inputs.pending as RetentionPendingSummary);
            assert.equal(p.groups[0].images.length, 4);
            assert.deepEqual(u.groups[0].images, []);
            assert.equal(u.groups[0].count, 4);
            assert.equal(u.digest, p.digest, "the same plan: diff and apply compare digests");
            assert.equal(u.summary, p.summary);
            assert.equal(d.groups[0].images.length, 4, "a dry run's output shows the list");
            for (const r of [atPreview, atUp, dryRunUp]) assert.equal("previewing" in r.inputs, false);
            const diff = await hooks.diff("id", atUp.inputs as never, atPreview.inputs as never);
            assert.equal(diff.changes, false, "the preview after that up shows no change for the same plan");
        });

        it("orders the plan by group, then age, across regions", async () => {
            ec2.on(DescribeImagesCommand).callsFake(async (_input, getClient) => {
                const region = await getClient().config.region();
                const at = (n: number, days: number) => ({
                    ...image(n, days),
                    ImageId: `ami-${region === "us-west-2" ? "b" : "a"}${String(n).padStart(16, "0")}`,
                });
                return { Images: region === "us-west-2" ? [at(1, 5), at(2, 50), at(3, 1)] : [at(4, 10), at(5, 90), at(6, 1)] };
            });
            const r = await hooks.check({}, { ...settings, regions: ["us-west-2", "us-east-1"] });
            const p = r.inputs.pending as RetentionPendingSummary;
            assert.deepEqual(
                p.groups.map((g) => g.group),
                ["us-east-1", "us-west-2"],
            );
            assert.deepEqual(listed(p), [
                "ami-a0000000000000005",
                "ami-a0000000000000004",
                "ami-b0000000000000002",
                "ami-b0000000000000001",
            ]);
            assert.deepEqual(p.regions, [
                { region: "us-west-2", count: 2, groups: 1 },
                { region: "us-east-1", count: 2, groups: 1 },
            ]);
        });

        it("stays bounded at 10,000 planned images: pending and, after up, the state fit the size targets", async function () {
            this.timeout(120_000);
            const images = Array.from({ length: 10_050 }, (_, n) => grouped(n, 400 - (n % 390), `app-${n % 50}`));
            ec2.on(DescribeImagesCommand).resolves({ Images: images });
            ec2.on(DeregisterImageCommand).resolves({});
            const r = await hooks.check({}, { ...settings, groupBy: ["App"] });
            const p = r.inputs.pending as RetentionPendingSummary;
            assert.equal(p.total, 10_000);
            assert.equal(p.groups.length, 10);
            assert.deepEqual(p.moreGroups, { groups: 40, images: 8_000 });
            assert.ok(p.groups.every((g) => g.count === 200 && g.images.length === 3));
            assert.match(p.fullList!, /^30 of 10000 listed .*GOLDEN_AMI_RETENTION_PLAN_DIR=<dir>/);
            const pendingBytes = JSON.stringify(p).length;
            assert.ok(pendingBytes <= 20_000, `pending is ${pendingBytes} bytes`);
            // The CLI prints it one property a line, indented: about the size of indented JSON.
            const shown = JSON.stringify(p, null, 4).length;
            assert.ok(shown <= 25_000, `pending shows as about ${shown} bytes`);
            const u = await hooks.update("p", r.inputs, r.inputs);
            assert.equal(u.outs.lastRun.counts.retired, 10_000);
            assert.equal(u.outs.lastRun.retired.length, 20);
            const stateBytes = JSON.stringify({ inputs: r.inputs, outputs: u.outs }).length;
            assert.ok(stateBytes <= 64 * 1024, `state is ${stateBytes} bytes`);
        });

        it("stays within the PR-comment budget with long names and reasons (10,000 images in 50 groups, 3,000 held back)", () => {
            const now = new Date("2026-12-01T00:00:00Z");
            const group = (n: number) => `us-east-1/App=app-${n % 50}/Env=production`;
            const retire = Array.from({ length: 10_000 }, (_, n) => ({
                imageId: id(n),
                region: "us-east-1",
                name: `web-app-${n % 50}-2026-09-01T10-00-00-build-${n}`,
                creationDate: new Date(now.getTime() - (n + 40) * DAY).toISOString(),
                group: group(n),
                reason: `123rd newest in group ${group(n)} (keepLatest 3); 82 days old (maxAgeDays 30); ${"deprecated ".repeat(30)}`,
            }));
            const skipped = Array.from({ length: 3_000 }, (_, n) => ({
                imageId: id(20_000 + n),
                region: "us-east-1",
                group: group(n),
                reason: `in use: ${"launch template lt-0123456789abcdef0 (version 3, $Default); ".repeat(6)}`,
            }));
            const p = summarizePlan({ retire, skipped }, ["us-east-1"]);
            assert.equal(p.total, 10_000);
            assert.equal(p.heldBack.total, 3_000);
            assert.ok([...pendingEntries(p), ...p.heldBack.first].every((e) => e.reason.length <= 200));
            assert.ok(pendingEntries(p)[0].reason.endsWith("…"));
            const shown = JSON.stringify(p, null, 4).length;
            assert.ok(shown <= 25_000, `pending shows as about ${shown} bytes`);
        });

        it("lists every planned image while the printed list fits the budget, and the bounded summary beyond (property)", () => {
            const now = new Date("2026-12-01T00:00:00Z");
            const limits = { ...RETENTION_REPORT_LIMITS, previewBytes: 6_000 };
            fc.assert(
                fc.property(fc.integer({ min: 0, max: 120 }), fc.integer({ min: 1, max: 15 }), (count, groups) => {
                    const retire = Array.from({ length: count }, (_, n) => ({
                        imageId: id(n),
                        region: "us-east-1",
                        name: `web-${n}`,
                        creationDate: new Date(now.getTime() - (n + 40) * DAY).toISOString(),
                        group: `us-east-1/App=app-${n % groups}`,
                        reason: "82 days old (maxAgeDays 30)",
                    }));
                    const p = summarizePlan({ retire, skipped: [] }, ["us-east-1"], limits);
                    const shown = listed(p).length;
                    if (p.total !== count) return false;
                    const bounded = p.groups.length <= limits.groups && p.groups.every((g) => g.images.length <= limits.perGroup);
                    // Every image within the budget, or else the bounded summary; and all of them whenever they fit.
                    if (shown === count && !p.moreGroups) return printedBytes(p) <= limits.previewBytes || bounded;
                    return bounded;
                }),
            );
            const many = Array.from({ length: 120 }, (_, n) => ({
                imageId: id(n),
                region: "us-east-1",
                name: `web-${n}`,
                creationDate: new Date(now.getTime() - (n + 40) * DAY).toISOString(),
                group: "us-east-1",
                reason: "82 days old (maxAgeDays 30)",
            }));
            assert.equal(listed(summarizePlan({ retire: many.slice(0, 10), skipped: [] }, ["us-east-1"], limits)).length, 10);
            assert.equal(listed(summarizePlan({ retire: many, skipped: [] }, ["us-east-1"], limits)).length, 3);
        });

        /** `perGroup` images a group in each region and group, named and dated as bakes are, planned by the real planner. */
        const realisticPlan = (regions: string[], groups: number, perGroup: number) => {
            const now = new Date("2026-12-06T00:00:00Z");
            const images: RetentionImage[] = [];
            for (const region of regions) {
                for (let g = 0; g < groups; g++) {
                    const app = `service-${String(g).padStart(2, "0")}`;
                    for (let i = 0; i < perGroup; i++) {
                        const n = images.length;
                        const created = new Date(now.getTime() - (31 + i * 0.7) * DAY - (n % 1440) * 60_000);
                        const name = `${app}-al2023-amd64-${created.toISOString().slice(0, 16).replace(/:/g, "-")}`;
                        images.push({
                            imageId: `ami-0${n.toString(16).padStart(6, "0")}9f8e7d6c5b`,
                            region,
                            name,
                            creationDate: created.toISOString(),
                            ownerId: "111122223333",
                            tags: { App: app },
                            snapshotIds: [],
                        });
                    }
                }
            }
            const rules = {
                selector: { namePattern: "*" },
                groupBy: ["App"],
                keepLatest: 3,
                maxAgeDays: 30,
                action: "deregister" as const,
            };
            return { images, plan: planRetention(images, new Map(), rules, now) };
        };

        it("lists 400 retirements of a realistic size (image ids, 40-character names, dates, the planner's reasons) within the 60 KB budget, every one", () => {
            const { images, plan } = realisticPlan(["us-east-1"], 4, 103);
            assert.equal(plan.retire.length, 400);
            assert.ok(images.every((i) => i.imageId.length === 21 && i.name.length === 40));
            const p = summarizePlan(plan, ["us-east-1"]);
            const bytes = printedBytes(p);
            assert.ok(bytes <= RETENTION_REPORT_LIMITS.previewBytes, `400 print as ${bytes} bytes`);
            assert.equal(p.fullList, undefined);
            // The checked inputs keep it in state: well under the state's 64 KB target.
            assert.ok(JSON.stringify(p).length <= 48_000, `pending is ${JSON.stringify(p).length} bytes of state`);
            const entries = pendingEntries(p);
            assert.deepEqual(
                entries.map((e) => e.imageId).sort(),
                plan.retire.map((r) => r.imageId).sort(),
                "every planned image is listed",
            );
            const byId = new Map(images.map((i) => [i.imageId, i]));
            for (const e of entries) {
                const image = byId.get(e.imageId)!;
                assert.equal(e.name, image.name);
                assert.equal(e.created, image.creationDate.slice(0, 10));
                assert.equal(e.group, `us-east-1/App=${image.tags.App}`);
                assert.match(e.reason, /^\d+(st|nd|rd|th) newest; \d+ days old$/, "the group and the policy's settings left out");
            }
        });

        it("summarises 5,000 retirements within the 60 KB budget: counts per region and group, the first of each, and how to see them all", () => {
            const { plan } = realisticPlan(["us-east-1", "eu-west-1"], 25, 103);
            assert.equal(plan.retire.length, 5_000);
            const p = summarizePlan(plan, ["us-east-1", "eu-west-1"]);
            const bytes = printedBytes(p);
            assert.ok(bytes <= RETENTION_REPORT_LIMITS.previewBytes, `5,000 print as ${bytes} bytes`);
            assert.equal(p.total, 5_000);
            assert.deepEqual(p.regions, [
                { region: "us-east-1", count: 2_500, groups: 25 },
                { region: "eu-west-1", count: 2_500, groups: 25 },
            ]);
            assert.equal(p.groups.length, RETENTION_REPORT_LIMITS.groups);
            assert.ok(p.groups.every((g) => g.count === 100 && g.images.length === RETENTION_REPORT_LIMITS.perGroup));
            assert.deepEqual(p.moreGroups, { groups: 40, images: 4_000 });
            assert.equal(
                p.fullList,
                "30 of 5000 listed (all would print over 60000 bytes); every image with why: " +
                    "preview with GOLDEN_AMI_RETENTION_PLAN_DIR=<dir> set, which writes <dir>/<policy name>.json",
            );
        });

        it("measures the printed size as `pulumi preview --diff` prints it (a capture of the CLI's output)", () => {
            // test/unit/fixtures/pending-preview.txt: the `pending` lines `pulumi preview --diff` (v3.259, a file
            // backend, the policy at the top of the stack) printed for pending-preview.json.
            const fixtures = path.join(__dirname, "fixtures");
            const summary = JSON.parse(readFileSync(path.join(fixtures, "pending-preview.json"), "utf8")) as RetentionPendingSummary;
            const printed = readFileSync(path.join(fixtures, "pending-preview.txt"), "utf8");
            const cli = Buffer.byteLength(printed);
            const bytes = printedBytes(summary);
            assert.ok(bytes >= cli && bytes <= cli * 1.06, `estimated ${bytes} bytes, the CLI printed ${cli}`);
            // One line per image, as documented.
            for (const g of summary.groups)
                g.images.forEach((line, i) =>
                    assert.ok(printed.includes(`[${i}]: ${JSON.stringify(line)}\n`), `${line} printed on one line`),
                );
            assert.equal(pendingEntries(summary).length, summary.total);
        });

        it("an entry's why leaves out its group and the policy's settings, and keeps the rest", () => {
            const group = "us-east-1/App=web";
            assert.equal(
                entryReason(
                    `12th newest in group ${group} (keepLatest 3); 105 days old (maxAgeDays 30); deprecated since 2026-09-30`,
                    group,
                ),
                "12th newest; 105 days old; deprecated since 2026-09-30",
            );
            assert.equal(
                entryReason(
                    `disabled (launches from it fail) and older than the 3 newest available images of group ${group} (keepLatest 3)`,
                    group,
                ),
                "disabled (launches from it fail) and older than the 3 newest available images",
            );
            assert.equal(
                entryReason("4th newest in group us-east-1/App=web-2 (keepLatest 3)", group),
                "4th newest in group us-east-1/App=web-2",
            );
            assert.equal(
                entryReason("failed bake (state failed: disk full): it can never launch", group),
                "failed bake (state failed: disk full): it can never launch",
            );
        });

        it("reads a listed line back into its fields, whatever the name and why (property), and refuses a line that is not one", () => {
            const nameChar = fc.constantFrom(..."abcXYZ019 ()[]./-'@_".split(""));
            fc.assert(
                fc.property(
                    fc.stringMatching(/^ami-[0-9a-f]{8,17}$/),
                    fc.date({ min: new Date("2000-01-01"), max: new Date("2099-12-31"), noInvalidDate: true }),
                    fc.array(nameChar, { minLength: 0, maxLength: 128 }).map((c) => c.join("")),
                    fc.string({ minLength: 0, maxLength: 200 }),
                    (imageId, date, name, reason) => {
                        const creationDate = date.toISOString();
                        const line = formatPendingEntry({ imageId, creationDate, name, reason });
                        assert.deepEqual(parsePendingEntry(line), { imageId, created: creationDate.slice(0, 10), name, reason });
                    },
                ),
            );
            assert.equal(
                parsePendingEntry(formatPendingEntry({ imageId: "ami-1", creationDate: "", name: "n", reason: "r" })).created,
                "unknown",
            );
            assert.throws(() => parsePendingEntry("ami-1 no reason here"), /reading a pending entry: "ami-1 no reason here" is not/);
        });

        it("keeps failures up to a bound with the count beyond, each error cut short", async function () {
            this.timeout(60_000);
            ec2.on(DescribeImagesCommand).resolves({ Images: Array.from({ length: 501 }, (_, n) => image(n, 500 - n)) });
            ec2.on(DeregisterImageCommand).rejects(Object.assign(new Error("x".repeat(2000)), { name: "InternalError" }));
            const { inputs } = await hooks.check({}, settings);
            const r = await hooks.update("p", inputs, inputs);
            assert.equal(r.outs.lastRun.counts.failed, 500);
            assert.equal(r.outs.lastRun.failed.length, 50);
            assert.ok(r.outs.lastRun.failed.every((f: { error: string }) => f.error.length <= 301));
            assert.deepEqual(r.outs.lastRun.regions, [
                { region: "us-east-1", retired: 0, snapshotsDeleted: 0, snapshotsKept: 0, skipped: 0, failed: 500 },
            ]);
            assert.ok(err.getCalls().some((c) => /and 450 more failed, retried next run/.test(String(c.args[0]))));
        });

        it("writes the full plan to GOLDEN_AMI_RETENTION_PLAN_DIR when set, one file per policy", async () => {
            const dir = await fs.mkdtemp(path.join(os.tmpdir(), "plan-"));
            process.env.GOLDEN_AMI_RETENTION_PLAN_DIR = dir;
            try {
                ec2.on(DescribeImagesCommand).resolves({ Images: Array.from({ length: 30 }, (_, n) => image(n, 60 - n)) });
                const r = await hooks.check({}, settings);
                const file = JSON.parse(await fs.readFile(path.join(dir, "web-images.json"), "utf8"));
                assert.equal(file.retire.length, 29);
                assert.equal(file.digest, r.inputs.pending.digest);
                assert.equal(planDigest(file.retire), r.inputs.pending.digest);
                assert.equal(listed(r.inputs.pending).length, 29, "29 fit the preview budget: the summary lists them all");
            } finally {
                delete process.env.GOLDEN_AMI_RETENTION_PLAN_DIR;
                await fs.rm(dir, { recursive: true, force: true });
            }
        });
        it("names the variable and the fix when the plan file cannot be written", async () => {
            const dir = await fs.mkdtemp(path.join(os.tmpdir(), "plan-"));
            const notADir = path.join(dir, "file");
            await fs.writeFile(notADir, "");
            process.env.GOLDEN_AMI_RETENTION_PLAN_DIR = path.join(notADir, "sub");
            try {
                ec2.on(DescribeImagesCommand).resolves({ Images: [image(1, 30), image(2, 1)] });
                await assert.rejects(
                    hooks.check({}, settings),
                    /writing the full plan to .*GOLDEN_AMI_RETENTION_PLAN_DIR.*writable directory/,
                );
            } finally {
                delete process.env.GOLDEN_AMI_RETENTION_PLAN_DIR;
                await fs.rm(dir, { recursive: true, force: true });
            }
        });
    });

    describe("inputs not known yet (preview before another resource exists)", () => {
        it("never throws, never plans and never drops the exclusion: the plan is computed at apply", async () => {
            ec2.on(DescribeImagesCommand).resolves({ Images: [image(1, 30), image(2, 20), image(3, 1)] });
            const r = await hooks.check({}, { ...settings, exclude: { imageIds: [UNKNOWN, id(9)] } });
            assert.equal(r.failures, undefined);
            assert.equal(ec2.calls().length, 0, "nothing planned with an exclusion missing");
            assert.equal(r.inputs.pending.status, "at-apply");
            assert.deepEqual(r.inputs.pending.unknownInputs, ["exclude.imageIds"]);
            assert.equal(r.inputs.pending.summary, "plan computed at apply (inputs not known yet: exclude.imageIds)");
            assert.ok(
                log
                    .getCalls()
                    .some((c) => c.args[0] === "retention web-images: plan computed at apply (inputs not known yet: exclude.imageIds)"),
            );

            // At apply the engine passes the known values: the exclusion holds.
            ec2.on(DeregisterImageCommand).resolves({});
            const known = { ...r.inputs, exclude: { ...r.inputs.exclude, imageIds: [id(1)] } };
            const c = await hooks.create(known);
            assert.deepEqual(
                c.outs.lastRun.retired.map((x: { imageId: string }) => x.imageId),
                [id(2)],
            );
            assert.deepEqual(
                ec2.commandCalls(DeregisterImageCommand).map((x) => x.args[0].input.ImageId),
                [id(2)],
            );
        });

        it("names every unknown plan input, a whole unknown object included, and keeps defaults that depend on them unset", async () => {
            const r = await hooks.check(
                {},
                { ...settings, selector: UNKNOWN as never, keepLatest: UNKNOWN as never, action: UNKNOWN as never },
            );
            assert.equal(r.failures, undefined);
            assert.deepEqual(r.inputs.pending.unknownInputs, ["selector", "keepLatest", "action"]);
            assert.equal(r.inputs.deleteSnapshots, undefined);
            assert.equal(ec2.calls().length, 0);
        });

        it("refuses to plan with an unknown value rather than drop it", () => {
            assert.throws(
                () => rulesOf({ ...settings, exclude: { imageIds: [UNKNOWN] } } as never),
                /cannot plan while exclude.imageIds are not known yet/,
            );
        });
    });

    describe("retireShared", () => {
        it("is off by default and passed to the planner when set", () => {
            const base = { ...settings, action: "deregister", deleteSnapshots: true, exclude: { inUse: true }, dryRun: false } as never;
            assert.equal(rulesOf(base).retireShared, false);
            assert.equal(rulesOf({ ...(base as object), retireShared: true } as never).retireShared, true);
        });
        it("reads launch permissions only of candidates nothing uses, and none with retireShared", async () => {
            ec2.on(DescribeImagesCommand).resolves({ Images: [image(1, 40), image(2, 30), image(3, 20), image(4, 1)] });
            ec2.on(DescribeInstancesCommand).resolves({
                Reservations: [{ Instances: [{ InstanceId: "i-1", ImageId: id(2), State: { Name: "running" } }] }],
            });
            ec2.on(DescribeImageAttributeCommand, { ImageId: id(3) } as never).resolves({
                LaunchPermissions: [{ UserId: "444455556666" }],
            });
            const r = await hooks.check({}, settings);
            assert.deepEqual(listed(r.inputs.pending), [id(1)], "2 in use, 3 shared, 4 the newest");
            const read = ec2.commandCalls(DescribeImageAttributeCommand).map((c) => c.args[0].input.ImageId);
            assert.deepEqual(read.sort(), [id(1), id(3)], "not the image in use, not the newest");
            ec2.resetHistory();
            const all = await hooks.check({}, { ...settings, retireShared: true });
            assert.deepEqual(listed(all.inputs.pending), [id(1), id(3)]);
            assert.equal(ec2.commandCalls(DescribeImageAttributeCommand).length, 0);
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
            ["retireShared", { retireShared: "yes" }, '"when-unused"'],
            ["copyOnlyAccounts", { copyOnlyAccounts: "111122223333" }, "must be a list of 12-digit AWS account ids"],
            ["copyOnlyAccounts", { copyOnlyAccounts: ["1111-2222-3333"] }, "is not an AWS account id"],
            ["copyOnlyAccounts", { copyOnlyAccounts: ["111122223333", "111122223333"] }, "repeats"],
            ["launchTemplateVersions", { launchTemplateVersions: "latest" }, 'use "in-use"'],
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
        const planned = [
            {
                imageId: id(1),
                region: "us-east-1",
                name: "web-1",
                creationDate: "2026-01-01T00:00:00.000Z",
                group: "us-east-1",
                reason: "2nd newest",
            },
        ];
        const summary = (retire: typeof planned) => summarizePlan({ retire, skipped: [] }, ["us-east-1"]);
        const state = {
            ...settings,
            action: "deregister",
            deleteSnapshots: true,
            exclude: { inUse: true },
            dryRun: false,
            pending: summary(planned),
        } as never;
        it("shows a change when the set of pending images changes (its digest), never a replacement", async () => {
            const d = await hooks.diff("p", state, { ...(state as object), pending: summary([]) } as never);
            assert.deepEqual(d, { changes: true, replaces: [] });
            const other = await hooks.diff("p", state, {
                ...(state as object),
                pending: summary([{ ...planned[0], imageId: id(2) }]),
            } as never);
            assert.equal(other.changes, true);
        });
        it("shows no change when only the reasons or ages moved on (an age grew by a day)", async () => {
            const later = summarizePlan({ retire: [{ ...planned[0], reason: "older" }], skipped: [] }, ["us-east-1"]);
            assert.notDeepEqual(later, (state as { pending: unknown }).pending);
            const d = await hooks.diff("p", state, { ...(state as object), pending: later } as never);
            assert.equal(d.changes, false);
        });
        it("after a run (nothing pending) an empty plan is no change, a plan computed at apply is one", async () => {
            const done = { ...(state as object), pending: { ...summary([]), status: "done" } } as never;
            assert.equal((await hooks.diff("p", done, { ...(state as object), pending: summary([]) } as never)).changes, false);
            const atApply = { ...(state as object), pending: atApplySummary(["exclude.imageIds"]) } as never;
            assert.equal((await hooks.diff("p", done, atApply)).changes, true);
        });
        it("compares with a plan stored as a list by an older version", async () => {
            const legacy = { ...(state as object), pending: planned } as never;
            assert.equal((await hooks.diff("p", legacy, state)).changes, false);
            assert.equal((await hooks.diff("p", legacy, { ...(state as object), pending: summary([]) } as never)).changes, true);
        });
        it("shows a change of settings as an update", async () => {
            const d = await hooks.diff("p", state, { ...(state as object), keepLatest: 3 } as never);
            assert.deepEqual(d, { changes: true, replaces: [] });
            assert.equal((await hooks.diff("p", state, { ...(state as object), retireShared: true } as never)).changes, true);
        });
    });

    describe("sharing read once (records in state)", () => {
        const attributeCalls = () => ec2.commandCalls(DescribeImageAttributeCommand).map((c) => c.args[0].input.ImageId);

        it("reads only candidates a fresh record does not cover, and says how fresh the facts are", async () => {
            ec2.on(DescribeImagesCommand).resolves({ Images: [image(1, 30), image(2, 20), image(3, 1)] });
            const first = await hooks.check({}, { ...settings, dryRun: true });
            assert.deepEqual(attributeCalls().sort(), [id(1), id(2)]);
            assert.deepEqual(
                first.inputs.sharingRead.map((r: SharingRecord) => r.unshared),
                [[id(1), id(2)]],
            );
            ec2.resetHistory();
            ec2.on(DescribeImagesCommand).resolves({ Images: [image(1, 30), image(2, 20), image(4, 15), image(3, 1)] });
            const second = await hooks.check(first.inputs, { ...settings, dryRun: true });
            assert.deepEqual(attributeCalls(), [id(4)], "only the new candidate");
            assert.deepEqual(listed(second.inputs.pending), [id(1), id(2), id(4)]);
            assert.deepEqual(
                { ...second.inputs.pending.sharing, oldestRecord: undefined },
                { readNow: 1, fromRecords: 2, oldestRecord: undefined },
            );
            assert.match(
                second.inputs.pending.summary,
                /sharing: 1 read now, 2 from records up to 1 min old \(read again right before each retirement\)$/,
            );
        });

        it("reads a record again once it is older than SHARING_RECORD_MAX_AGE_HOURS", async () => {
            const clock = sinon.useFakeTimers({ now: Date.now(), toFake: ["Date"] });
            try {
                ec2.on(DescribeImagesCommand).resolves({ Images: [image(1, 30), image(2, 1)] });
                const first = await hooks.check({}, { ...settings, dryRun: true });
                clock.tick(SHARING_RECORD_MAX_AGE_HOURS * 3_600_000 - 60_000);
                ec2.resetHistory();
                await hooks.check(first.inputs, { ...settings, dryRun: true });
                assert.deepEqual(attributeCalls(), [], "a day old less a minute: taken");
                clock.tick(120_000);
                ec2.resetHistory();
                await hooks.check(first.inputs, { ...settings, dryRun: true });
                assert.deepEqual(attributeCalls(), [id(1)], "older than a day: read again");
            } finally {
                clock.restore();
            }
        });

        it("keeps records of the candidates it holds back, not of those it retires (they will be gone)", async () => {
            ec2.on(DescribeImagesCommand).resolves({ Images: [image(1, 30), image(2, 20), image(3, 1)] });
            ec2.on(DescribeImageAttributeCommand, { ImageId: id(1) } as never).resolves({
                LaunchPermissions: [{ UserId: "444455556666" }],
            });
            const r = await hooks.check({}, settings);
            assert.deepEqual(listed(r.inputs.pending), [id(2)]);
            assert.deepEqual(
                r.inputs.sharingRead.map((x: SharingRecord) => [x.unshared, x.shared]),
                [[[], [{ imageId: id(1), launchPermissions: [{ userId: "444455556666" }] }]]],
            );
        });

        it("never takes sharing records from the program's inputs", async () => {
            ec2.on(DescribeImagesCommand).resolves({ Images: [image(1, 30), image(2, 1)] });
            const forged = [{ region: "us-east-1", at: new Date().toISOString(), unshared: [id(1)], shared: [] }];
            await hooks.check({}, { ...settings, sharingRead: forged } as never);
            assert.deepEqual(attributeCalls(), [id(1)]);
        });

        it("knownSharing takes fresh records only, and a record from the future as read now", () => {
            const now = Date.parse("2026-12-06T12:00:00Z");
            const known = knownSharing(
                [
                    { region: "r", at: "2026-12-06T11:00:00Z", unshared: ["ami-a"], shared: [] },
                    { region: "r", at: "2026-12-05T11:00:00Z", unshared: ["ami-old"], shared: [] },
                    {
                        region: "r",
                        at: "2026-12-07T11:00:00Z",
                        unshared: [],
                        shared: [{ imageId: "ami-s", launchPermissions: [{ group: "all" }] }],
                    },
                ],
                now,
            );
            assert.deepEqual([...known.keys()].sort(), ["r/ami-a", "r/ami-s"]);
            assert.equal(known.get("r/ami-s")!.at, now);
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
            assert.deepEqual(r.outs.lastRun.counts, { retired: 2, snapshotsDeleted: 2, snapshotsKept: 0, skipped: 0, failed: 0 });
            assert.equal(r.outs.pending.status, "done");
            assert.equal(r.outs.pending.total, 0);
            assert.deepEqual(r.outs.pending.groups, []);
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

        it("acts on the check's own facts within RECHECK_AFTER_SECONDS of it: no image is described twice, only its sharing read again", async () => {
            const inputs = await plan([image(1, 30), image(2, 20), image(3, 1)]);
            const before = ec2.calls().length;
            ec2.on(DeregisterImageCommand).callsFake((input: { ImageId: string }) => ({
                DeleteSnapshotResults: [{ SnapshotId: `snap-${input.ImageId.slice(4)}`, ReturnCode: "success" }],
            }));
            const r = await hooks.update("p", inputs, inputs);
            assert.equal(r.outs.lastRun.counts.retired, 2);
            assert.equal(r.outs.lastRun.counts.snapshotsDeleted, 2);
            const after = ec2
                .calls()
                .slice(before)
                .map((c) => c.args[0].constructor.name);
            assert.deepEqual(
                after.sort(),
                ["DeregisterImageCommand", "DeregisterImageCommand", "DescribeImageAttributeCommand", "DescribeImageAttributeCommand"],
                "per retirement: its sharing read right before, then one call",
            );
        });

        it("keeps an image shared since the plan was made: its sharing is read again right before it is retired", async () => {
            const inputs = await plan([image(1, 30), image(2, 20), image(3, 1)]);
            ec2.on(DescribeImageAttributeCommand, { ImageId: id(1) } as never).resolves({
                LaunchPermissions: [{ UserId: "444455556666" }],
            });
            ec2.on(DeregisterImageCommand).resolves({});
            const r = await hooks.update("p", inputs, inputs);
            assert.deepEqual(
                r.outs.lastRun.retired.map((x: { imageId: string }) => x.imageId),
                [id(2)],
            );
            assert.deepEqual(r.outs.lastRun.skipped, [
                { imageId: id(1), region: "us-east-1", reason: "shared with account 444455556666 (read right before retiring)" },
            ]);
            assert.deepEqual(
                ec2.commandCalls(DeregisterImageCommand).map((c) => c.args[0].input.ImageId),
                [id(2)],
            );
        });

        it("retires an image shared only with copyOnlyAccounts, saying so at preview; its sharing read again right before, a new share with another account keeps it", async () => {
            ec2.on(DescribeImageAttributeCommand).resolves({ LaunchPermissions: [{ UserId: "777788889999" }] });
            const inputs = await plan([image(1, 30), image(2, 20), image(3, 1)], { copyOnlyAccounts: ["777788889999"] });
            assert.deepEqual(listed(inputs.pending), [id(1), id(2)]);
            assert.ok(
                log.args.some(
                    (a) =>
                        String(a[0]).includes("retires although shared, because the only shares are with accounts that copy it") &&
                        String(a[0]).includes(`us-east-1/${id(1)} (account 777788889999)`),
                ),
                log.args.map((a) => a[0]).join("\n"),
            );
            assert.deepEqual(rulesOf(inputs).copyOnlyAccounts, ["777788889999"]);
            ec2.on(DescribeImageAttributeCommand, { ImageId: id(2) } as never).resolves({
                LaunchPermissions: [{ UserId: "777788889999" }, { UserId: "444455556666" }],
            });
            ec2.on(DeregisterImageCommand).resolves({});
            const r = await hooks.update("p", inputs, inputs);
            assert.deepEqual(
                r.outs.lastRun.retired.map((x: { imageId: string }) => x.imageId),
                [id(1)],
            );
            assert.deepEqual(r.outs.lastRun.skipped, [
                { imageId: id(2), region: "us-east-1", reason: "shared with account 444455556666 (read right before retiring)" },
            ]);
            const without = await plan([image(1, 30), image(2, 20), image(3, 1)]);
            assert.deepEqual(listed(without.pending), [], "without copyOnlyAccounts the shares keep both");
        });

        it("says so at apply too when the plan is made there (inputs unknown at preview)", async () => {
            ec2.on(DescribeImageAttributeCommand).resolves({ LaunchPermissions: [{ UserId: "777788889999" }] });
            const inputs = await plan([image(1, 30), image(2, 1)], { copyOnlyAccounts: ["777788889999"] });
            ec2.on(DeregisterImageCommand).resolves({});
            log.resetHistory();
            const r = await hooks.update("p", inputs, { ...inputs, pending: atApplySummary(["exclude.imageIds"]) });
            assert.deepEqual(
                r.outs.lastRun.retired.map((x: { imageId: string }) => x.imageId),
                [id(1)],
            );
            assert.ok(
                log.args.some((a) => String(a[0]).includes(`copy it (copyOnlyAccounts): us-east-1/${id(1)} (account 777788889999)`)),
                log.args.map((a) => a[0]).join("\n"),
            );
        });

        it("reads no sharing with retireShared: true", async () => {
            const inputs = await plan([image(1, 30), image(2, 20), image(3, 1)], { retireShared: true });
            ec2.on(DeregisterImageCommand).resolves({});
            await hooks.update("p", inputs, inputs);
            assert.equal(ec2.commandCalls(DescribeImageAttributeCommand).length, 0);
        });

        it("re-checks facts older than RECHECK_AFTER_SECONDS right before acting: an image now in use or now protected is skipped, not retired", async () => {
            const clock = sinon.useFakeTimers({ now: Date.now(), toFake: ["Date"] });
            after(() => clock.restore());
            const inputs = await plan([image(1, 30), image(2, 20), image(3, 1)]);
            clock.tick(RECHECK_AFTER_SECONDS * 1000 + 1);
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
            clock.restore();
        });

        it("counts and lists the images the plan held back as skipped, with why", async () => {
            const running = (n: number) => ({ InstanceId: `i-${n}`, ImageId: id(n), State: { Name: "running" as const } });
            ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [running(1), running(2), running(4)] }] });
            const inputs = await plan([image(1, 30), image(2, 20), image(4, 25), image(5, 10), image(3, 1)]);
            assert.equal((inputs.pending as RetentionPendingSummary).heldBack.total, 3);
            ec2.on(DeregisterImageCommand).resolves({});
            ec2.on(DeleteSnapshotCommand).resolves({});
            const r = await hooks.update("p", inputs, inputs);
            assert.equal(r.outs.lastRun.counts.retired, 1);
            assert.equal(r.outs.lastRun.counts.skipped, 3);
            assert.equal(r.outs.lastRun.regions[0].skipped, 3);
            assert.deepEqual(r.outs.lastRun.skipped.map((s: { imageId: string; reason: string }) => [s.imageId, s.reason]).sort(), [
                [id(1), "in use: instance i-1 (running)"],
                [id(2), "in use: instance i-2 (running)"],
                [id(4), "in use: instance i-4 (running)"],
            ]);
            assert.ok(log.args.some(([line]) => /1 retired, 1 snapshots deleted, 3 skipped, 0 failed/.test(String(line))));
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
            assert.ok(
                err.getCalls().some((c) => /warning: retention web-images: ami-0+1 .*failed, retried next run/.test(String(c.args[0]))),
            );
        });

        it("with dryRun retires nothing and keeps showing what it would retire", async () => {
            const inputs = await plan([image(1, 30), image(2, 1)], { dryRun: true });
            const r = await hooks.update("p", inputs, inputs);
            assert.equal(ec2.commandCalls(DeregisterImageCommand).length, 0);
            assert.deepEqual(listed(r.outs.pending), [id(1)]);
            assert.equal(r.outs.pending.status, "planned");
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
