// Conformance: paging as EC2 and SSM document it (emulator/paging.ts), driven
// through the AWS SDK (its paginators) and the AWS CLI (its automatic paging)
// against `startEmulator()`. Each test names the page it follows.
import {
    CreateLaunchTemplateCommand,
    CreateLaunchTemplateVersionCommand,
    CreateSnapshotCommand,
    CreateVolumeCommand,
    DeleteSnapshotCommand,
    DeleteVolumeCommand,
    DescribeInstancesCommand,
    DescribeLaunchTemplateVersionsCommand,
    DescribeSnapshotsCommand,
    EC2Client,
    paginateDescribeInstances,
    paginateDescribeLaunchTemplateVersions,
    paginateDescribeSnapshots,
    RunInstancesCommand,
} from "@aws-sdk/client-ec2";
import {
    DescribeParametersCommand,
    GetParameterCommand,
    paginateDescribeParameters,
    PutParameterCommand,
    SSMClient,
} from "@aws-sdk/client-ssm";
import assert from "node:assert/strict";
import { startEc2Proxy } from "../../emulator/ec2-proxy";
import { DEFAULT_PAGE_SIZE } from "../../emulator/emulator";
import { ec2PagingHandler } from "../../emulator/paging";
import { cliOk, cliRefused, refusedWith, startSession, type Session } from "../support/conformance";
import { currentMoto } from "../support/moto-hooks";

const BASE = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";

describe("emulator conformance: paging (EC2 and SSM API references)", () => {
    let session: Session;
    let ec2: EC2Client;
    let ssm: SSMClient;
    const snapshotIds: string[] = [];
    const instanceIds: string[] = [];
    let templateId: string;

    before(async function () {
        this.timeout(120_000);
        session = await startSession();
        ec2 = session.ec2();
        ssm = session.ssm();
        // Test data larger than a page: 7 snapshots, 6 reservations, 17 launch-template versions, 7 parameters.
        const volume = await ec2.send(new CreateVolumeCommand({ AvailabilityZone: "us-east-1a", Size: 1 }));
        for (let i = 0; i < 7; i++) {
            const s = await ec2.send(new CreateSnapshotCommand({ VolumeId: volume.VolumeId!, Description: `paging-${i}` }));
            snapshotIds.push(s.SnapshotId!);
        }
        const imageId = (await ssm.send(new GetParameterCommand({ Name: BASE }))).Parameter!.Value!;
        for (let i = 0; i < 6; i++) {
            const r = await ec2.send(new RunInstancesCommand({ ImageId: imageId, MinCount: 1, MaxCount: 1, InstanceType: "t3.micro" }));
            instanceIds.push(r.Instances![0].InstanceId!);
        }
        const t = await ec2.send(
            new CreateLaunchTemplateCommand({ LaunchTemplateName: "paging", LaunchTemplateData: { ImageId: imageId } }),
        );
        templateId = t.LaunchTemplate!.LaunchTemplateId!;
        for (let v = 2; v <= 17; v++) {
            await ec2.send(
                new CreateLaunchTemplateVersionCommand({
                    LaunchTemplateId: templateId,
                    LaunchTemplateData: { ImageId: imageId },
                    VersionDescription: `v${v}`,
                }),
            );
        }
        for (let i = 0; i < 7; i++) {
            await ssm.send(new PutParameterCommand({ Name: `/paging/p${i}`, Value: `v${i}`, Type: "String" }));
        }
    });

    after(async function () {
        this.timeout(30_000);
        await session?.stop(); // the emulator's own moto goes with it, and all it held
    });

    describe("DescribeSnapshots (API_DescribeSnapshots.html: MaxResults 5..1000, not with SnapshotIds)", () => {
        it("pages without MaxResults: at most DEFAULT_PAGE_SIZE a page, every snapshot once over the pages", async () => {
            const pages: number[] = [];
            const seen: string[] = [];
            for await (const page of paginateDescribeSnapshots({ client: ec2 }, { OwnerIds: ["self"] })) {
                pages.push(page.Snapshots!.length);
                seen.push(...page.Snapshots!.map((s) => s.SnapshotId!));
            }
            assert.ok(pages.length >= 2, `more than one page (${pages.join(",")})`);
            assert.ok(pages.every((n) => n <= DEFAULT_PAGE_SIZE));
            assert.deepEqual([...seen].sort(), [...snapshotIds].sort());
        });

        it("a first answer without NextToken handling misses snapshots: the caller must follow nextToken", async () => {
            const first = await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ["self"] }));
            assert.equal(first.Snapshots!.length, DEFAULT_PAGE_SIZE);
            assert.ok(first.NextToken);
        });

        it("refuses MaxResults under 5 (InvalidParameterValue) and answers at most 1,000 for a larger one", async () => {
            await refusedWith(ec2.send(new DescribeSnapshotsCommand({ MaxResults: 4 })), "InvalidParameterValue");
            const big = await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ["self"], MaxResults: 5000 }));
            assert.ok(big.Snapshots!.length <= DEFAULT_PAGE_SIZE && big.NextToken);
        });

        it("asked by SnapshotIds, answers them all in one answer (ec2-api-pagination.html: describe by ids)", async () => {
            const out = await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: snapshotIds }));
            assert.deepEqual(out.Snapshots!.map((s) => s.SnapshotId!).sort(), [...snapshotIds].sort());
            assert.equal(out.NextToken, undefined);
        });

        it("refuses MaxResults together with SnapshotIds (InvalidParameterCombination)", async () => {
            await refusedWith(
                ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snapshotIds[0]], MaxResults: 5 })),
                "InvalidParameterCombination",
            );
        });

        it("refuses a token it did not issue, and one replayed with other filters (InvalidPaginationToken)", async () => {
            await refusedWith(ec2.send(new DescribeSnapshotsCommand({ NextToken: "garbage" })), "InvalidPaginationToken");
            const first = await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ["self"], MaxResults: 5 }));
            await refusedWith(
                ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ["amazon"], NextToken: first.NextToken })),
                "InvalidPaginationToken",
            );
        });

        it("continues from the end of the items returned: deleting what was read skips nothing", async () => {
            const volume = await ec2.send(new CreateVolumeCommand({ AvailabilityZone: "us-east-1a", Size: 1 }));
            const extra: string[] = [];
            for (let i = 0; i < 8; i++) {
                extra.push(
                    (await ec2.send(new CreateSnapshotCommand({ VolumeId: volume.VolumeId!, Description: "sweep-me" }))).SnapshotId!,
                );
            }
            const swept: string[] = [];
            const filter = [{ Name: "description", Values: ["sweep-me"] }];
            for await (const page of paginateDescribeSnapshots({ client: ec2, pageSize: 5 }, { Filters: filter })) {
                for (const s of page.Snapshots!) {
                    await ec2.send(new DeleteSnapshotCommand({ SnapshotId: s.SnapshotId! }));
                    swept.push(s.SnapshotId!);
                }
            }
            assert.deepEqual(swept.sort(), extra.sort());
        });

        it("AWS CLI: describe-snapshots follows the tokens and lists every snapshot; --max-items hands back a token", async () => {
            const all = cliOk<{ Snapshots: { SnapshotId: string }[] }>(
                await session.aws(["ec2", "describe-snapshots", "--owner-ids", "self", "--filters", "Name=description,Values=paging-*"]),
            );
            assert.deepEqual(all.Snapshots.map((s) => s.SnapshotId).sort(), [...snapshotIds].sort());
            const some = cliOk<{ Snapshots: unknown[]; NextToken?: string }>(
                await session.aws(["ec2", "describe-snapshots", "--owner-ids", "self", "--max-items", "3"]),
            );
            assert.equal(some.Snapshots.length, 3);
            assert.ok(some.NextToken);
            cliRefused(await session.aws(["ec2", "describe-snapshots", "--max-results", "4", "--no-paginate"]), "InvalidParameterValue");
        });
    });

    describe("DescribeInstances (API_DescribeInstances.html: MaxResults 5..1000, not with InstanceIds)", () => {
        it("pages reservations: at most DEFAULT_PAGE_SIZE a page, every instance once", async () => {
            const pages: number[] = [];
            const seen: string[] = [];
            for await (const page of paginateDescribeInstances({ client: ec2 }, {})) {
                pages.push(page.Reservations!.length);
                seen.push(...page.Reservations!.flatMap((r) => r.Instances!.map((i) => i.InstanceId!)));
            }
            assert.ok(pages.length >= 2 && pages.every((n) => n <= DEFAULT_PAGE_SIZE), `pages ${pages.join(",")}`);
            assert.deepEqual(seen.sort(), [...instanceIds].sort());
        });

        it("asked by InstanceIds, answers them all in one answer", async () => {
            const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: instanceIds }));
            assert.equal(out.Reservations!.flatMap((r) => r.Instances!).length, instanceIds.length);
            assert.equal(out.NextToken, undefined);
        });

        it("refuses MaxResults outside 5..1000 (InvalidParameterValue) and with InstanceIds (InvalidParameterCombination)", async () => {
            await refusedWith(ec2.send(new DescribeInstancesCommand({ MaxResults: 4 })), "InvalidParameterValue");
            await refusedWith(ec2.send(new DescribeInstancesCommand({ MaxResults: 1001 })), "InvalidParameterValue");
            await refusedWith(
                ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceIds[0]], MaxResults: 5 })),
                "InvalidParameterCombination",
            );
            await refusedWith(ec2.send(new DescribeInstancesCommand({ NextToken: "bm90LWEtdG9rZW4" })), "InvalidPaginationToken");
        });

        it("AWS CLI: describe-instances lists every instance over the pages", async () => {
            const out = cliOk<{ Reservations: { Instances: { InstanceId: string }[] }[] }>(
                await session.aws(["ec2", "describe-instances"]),
            );
            assert.deepEqual(out.Reservations.flatMap((r) => r.Instances.map((i) => i.InstanceId)).sort(), [...instanceIds].sort());
        });
    });

    describe("DescribeLaunchTemplateVersions (API_DescribeLaunchTemplateVersions.html: MaxResults 1..200)", () => {
        it("hands out all 17 versions over pages (moto alone stops at 15 without a token)", async () => {
            const numbers: number[] = [];
            let pages = 0;
            for await (const page of paginateDescribeLaunchTemplateVersions({ client: ec2 }, { LaunchTemplateId: templateId })) {
                pages++;
                assert.ok(page.LaunchTemplateVersions!.length <= DEFAULT_PAGE_SIZE);
                numbers.push(...page.LaunchTemplateVersions!.map((v) => v.VersionNumber!));
            }
            assert.ok(pages >= 4);
            assert.deepEqual(
                numbers.sort((a, b) => a - b),
                Array.from({ length: 17 }, (_, i) => i + 1),
            );
        });

        it("refuses MaxResults 0 and 201 (InvalidParameterValue)", async () => {
            await refusedWith(
                ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: templateId, MaxResults: 0 })),
                "InvalidParameterValue",
            );
            await refusedWith(
                ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: templateId, MaxResults: 201 })),
                "InvalidParameterValue",
            );
        });

        it("AWS CLI: describe-launch-template-versions lists all 17", async () => {
            const out = cliOk<{ LaunchTemplateVersions: unknown[] }>(
                await session.aws(["ec2", "describe-launch-template-versions", "--launch-template-id", templateId]),
            );
            assert.equal(out.LaunchTemplateVersions.length, 17);
        });
    });

    describe("SSM DescribeParameters (systems-manager API_DescribeParameters.html: MaxResults 1..50, InvalidNextToken)", () => {
        it("pages without MaxResults and with MaxResults 50: every parameter once", async () => {
            for (const MaxResults of [undefined, 50]) {
                const names: string[] = [];
                let pages = 0;
                for await (const page of paginateDescribeParameters(
                    { client: ssm },
                    { MaxResults, ParameterFilters: [{ Key: "Name", Option: "BeginsWith", Values: ["/paging/"] }] },
                )) {
                    pages++;
                    assert.ok(page.Parameters!.length <= DEFAULT_PAGE_SIZE);
                    names.push(...page.Parameters!.map((p) => p.Name!));
                }
                assert.ok(pages >= 2);
                assert.deepEqual(
                    names.sort(),
                    Array.from({ length: 7 }, (_, i) => `/paging/p${i}`),
                );
            }
        });

        it("refuses MaxResults 51 (ValidationException) and a token it did not issue (InvalidNextToken)", async () => {
            await refusedWith(ssm.send(new DescribeParametersCommand({ MaxResults: 51 })), "ValidationException");
            await refusedWith(ssm.send(new DescribeParametersCommand({ NextToken: "garbage" })), "InvalidNextToken");
        });

        it("AWS CLI: describe-parameters lists all 7", async () => {
            const out = cliOk<{ Parameters: { Name: string }[] }>(
                await session.aws(["ssm", "describe-parameters", "--parameter-filters", "Key=Name,Option=BeginsWith,Values=/paging/"]),
            );
            assert.equal(out.Parameters.length, 7);
        });
    });

    it("switch: without the paging handler, moto answers DescribeSnapshots whole (and ignores a garbage token)", async () => {
        const moto = currentMoto();
        const direct = new EC2Client({ region: "us-east-1", endpoint: moto.endpoint });
        const volume = await direct.send(new CreateVolumeCommand({ AvailabilityZone: "us-east-1a", Size: 1 }));
        const made: string[] = [];
        for (let i = 0; i < 6; i++) {
            made.push(
                (await direct.send(new CreateSnapshotCommand({ VolumeId: volume.VolumeId!, Description: "switch-paging" }))).SnapshotId!,
            );
        }
        const filter = [{ Name: "description", Values: ["switch-paging"] }];
        const strict = await startEc2Proxy({ target: moto.endpoint, handlers: [ec2PagingHandler({ pageSize: 5 })] });
        const lenient = await startEc2Proxy({ target: moto.endpoint });
        try {
            const viaStrict = new EC2Client({ region: "us-east-1", endpoint: strict.endpoint });
            const viaLenient = new EC2Client({ region: "us-east-1", endpoint: lenient.endpoint });
            assert.equal((await viaStrict.send(new DescribeSnapshotsCommand({ Filters: filter }))).Snapshots!.length, 5);
            const whole = await viaLenient.send(new DescribeSnapshotsCommand({ Filters: filter, NextToken: "garbage" }));
            assert.equal(whole.Snapshots!.length, 6);
            assert.equal(whole.NextToken, undefined);
            viaStrict.destroy();
            viaLenient.destroy();
        } finally {
            await strict.stop();
            await lenient.stop();
            for (const id of made) await direct.send(new DeleteSnapshotCommand({ SnapshotId: id }));
            await direct.send(new DeleteVolumeCommand({ VolumeId: volume.VolumeId! }));
            direct.destroy();
        }
    });
});
