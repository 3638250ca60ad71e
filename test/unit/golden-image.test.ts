import {
    CreateImageCommand,
    CreateTagsCommand,
    DescribeFleetsCommand,
    DescribeImageReferencesCommand,
    DescribeImageAttributeCommand,
    DescribeImagesCommand,
    DescribeInstancesCommand,
    DescribeSpotFleetRequestsCommand,
    DescribeSubnetsCommand,
    DescribeLaunchTemplateVersionsCommand,
    DeregisterImageCommand,
    DeleteSnapshotCommand,
    EC2Client,
    GetConsoleOutputCommand,
    Image,
    InstanceStateName,
    RunInstancesCommand,
    TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import { AutoScalingClient, DescribeAutoScalingGroupsCommand, DescribeLaunchConfigurationsCommand } from "@aws-sdk/client-auto-scaling";
import {
    DeleteParameterCommand,
    DescribeParametersCommand,
    GetParameterCommand,
    PutParameterCommand,
    SSMClient,
} from "@aws-sdk/client-ssm";
import { mockClient } from "aws-sdk-client-mock";
import fc from "fast-check";
import assert from "node:assert/strict";
import * as sinon from "sinon";
import * as hooks from "../../dynamic-providers/golden-image-bake-hooks";
import { GoldenImageBakeState } from "../../dynamic-providers/golden-image-bake-hooks";
import { buildHash, GoldenImageBakeInputs } from "../../sdk/golden-image-bake";
import { PartialCreateError } from "../../dynamic-providers/ec2/errors";
import {
    architectureOf,
    builderMappings,
    consoleTail,
    hasSuccessMarker,
    launchWithRetries,
    newestImage,
    terminateInstances,
} from "../../dynamic-providers/ec2/builder-instance";
import { publishImageParameter } from "../../dynamic-providers/ec2/ssm-parameter";
import { baseImageProblem, checkGoldenImageBakeInputs, UNKNOWN } from "../../sdk/validation";
import { ec2Error } from "../support/aws-errors";

const ec2 = mockClient(EC2Client);
const ssm = mockClient(SSMClient);
const asg = mockClient(AutoScalingClient);
const REGION = "us-east-1";
const BASE = "ami-0aaaaaaaaaaaaaaaa";
const NEW_BASE = "ami-0bbbbbbbbbbbbbbbb";
const IMAGE_ID = "ami-0123456789abcdef0";
const BUILDER = "i-0123456789abcdef0";
const STRAY = "i-0fedcba9876543210";
const SNAP = "snap-0123456789abcdef0";
const OWNER = "urn:pulumi:dev::proj::golden-ami:index:GoldenImage::web";
/** How the sweep asks for a pipeline's builders. */
const BUILDER_FILTERS = {
    Filters: [
        { Name: "tag:golden-ami:builder", Values: [OWNER] },
        { Name: "instance-state-name", Values: ["pending", "running", "stopping", "stopped"] },
    ],
};

function image(overrides: Partial<Image> = {}): Image {
    return {
        ImageId: IMAGE_ID,
        Name: "web-12345678",
        State: "available",
        OwnerId: "111122223333",
        CreationDate: "2026-11-22T10:00:00.000Z",
        RootDeviceName: "/dev/xvda",
        BlockDeviceMappings: [{ DeviceName: "/dev/xvda", Ebs: { SnapshotId: SNAP } }],
        ...overrides,
    };
}

const base = (id = BASE) => image({ ImageId: id, Name: "al2023-base", BlockDeviceMappings: [] });

const news = (extra: Partial<GoldenImageBakeInputs> = {}): Partial<GoldenImageBakeInputs> => ({
    pipeline: "proj/dev/web",
    builderOwner: OWNER,
    baseImage: { ssmParameter: "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64" },
    instanceType: "t3.small",
    userData: "#!/bin/bash\ndnf install -y nginx\npoweroff\n",
    namePrefix: "web",
    region: REGION,
    tags: { App: "web" },
    ...extra,
});

function builder(state: InstanceStateName) {
    return { Reservations: [{ Instances: [{ InstanceId: BUILDER, State: { Name: state } }] }] };
}

/** check with the base parameter answering `baseId`. */
async function checked(extra: Partial<GoldenImageBakeInputs> = {}, baseId = BASE): Promise<GoldenImageBakeInputs> {
    ssm.on(GetParameterCommand).resolves({ Parameter: { Name: "p", Value: baseId, Version: 1 } });
    ec2.on(DescribeImagesCommand, { ImageIds: [baseId] }).resolves({ Images: [base(baseId)] });
    const r = await hooks.check({}, news(extra));
    assert.deepEqual(r.failures ?? [], []);
    return r.inputs as GoldenImageBakeInputs;
}

/** A console output as GetConsoleOutput answers it (base64), with cloud-init's prefix on each line. */
const consoleOf = (...lines: string[]) => Buffer.from(lines.map((l) => `cloud-init[780]: ${l}`).join("\n") + "\n").toString("base64");

describe("GoldenImage", () => {
    let log: sinon.SinonStub;
    before(() => {
        process.env.GOLDEN_AMI_POLL_SCALE = "0.001";
    });
    after(() => {
        delete process.env.GOLDEN_AMI_POLL_SCALE;
    });
    beforeEach(() => {
        ec2.reset();
        ssm.reset();
        asg.reset();
        log = sinon.stub(console, "log");
    });
    afterEach(() => log.restore());

    describe("check rules", () => {
        const failing = (extra: Record<string, unknown>) => checkGoldenImageBakeInputs({ ...news(), ...extra });
        const cases: [string, Record<string, unknown>, string, RegExp][] = [
            ["instanceType is required", { instanceType: undefined }, "instanceType", /build\.instanceType: is required/],
            ["instanceType must look like one", { instanceType: "small" }, "instanceType", /not an EC2 instance type/],
            ["baseImage is required", { baseImage: undefined }, "baseImage", /baseImage: is required/],
            ["baseImage gives one form only", { baseImage: { imageId: BASE, ssmParameter: "/x" } }, "baseImage", /exactly one of/],
            ["baseImage is not empty", { baseImage: {} }, "baseImage", /is empty/],
            ["owners need a namePattern", { baseImage: { owners: ["amazon"] } }, "baseImage", /owners needs namePattern/],
            ["owners are accounts or aliases", { baseImage: { owners: ["me"], namePattern: "x*" } }, "baseImage", /owners has "me"/],
            ["imageId is an AMI id", { baseImage: { imageId: "ami-1" } }, "baseImage", /imageId: "ami-1" is not an AMI id/],
            ["ssmParameter is a parameter name", { baseImage: { ssmParameter: "a b" } }, "baseImage", /not an SSM parameter name/],
            [
                "timeoutMinutes has a floor",
                { buildTimeoutMinutes: 0 },
                "buildTimeoutMinutes",
                /build\.timeoutMinutes: must be .* at most 1440/,
            ],
            ["timeoutMinutes has a ceiling", { buildTimeoutMinutes: 1441 }, "buildTimeoutMinutes", /got 1441/],
            ["publish parameter is writable", { publishParameter: "/aws/golden" }, "publishParameter", /publish\.ssmParameter: .*reserves/],
            ["publish parameter has a format", { publishParameter: "golden web" }, "publishParameter", /not an SSM parameter name/],
            ["subnet ids", { subnetId: "subnet-1" }, "subnetId", /build\.subnetId: "subnet-1" is not a subnet id/],
            ["security group ids", { securityGroupIds: ["sg-1"] }, "securityGroupIds", /build\.securityGroupIds: has "sg-1"/],
            [
                "instance profiles",
                { iamInstanceProfile: "has space" },
                "iamInstanceProfile",
                /neither an instance profile name nor its ARN/,
            ],
            ["user data fits EC2's 16 KB", { userData: "x".repeat(16 * 1024 + 1) }, "userData", /16385 bytes; EC2 takes at most 16384/],
            ["name prefix fits an AMI name", { namePrefix: "w".repeat(120) }, "namePrefix", /image\.namePrefix: .* 1 to 119/],
            ["root volume is whole GiB", { rootVolumeSize: 8.5 }, "rootVolumeSize", /whole number of GiB/],
            ["image tags are checked", { tags: { "aws:x": "1" } }, "tags", /^image\.tags: key "aws:x"/],
            ["a test needs its script", { test: {} }, "test.userData", /test\.userData: is required/],
            [
                "test fields are checked",
                { test: { userData: "#!/bin/bash", instanceType: "big" } },
                "test.instanceType",
                /not an EC2 instance type/,
            ],
            ["test options are known ones", { test: { userData: "#!/bin/bash", timeout: 3 } }, "test.timeout", /not a test option/],
            ["test.timeoutMinutes has a ceiling", { testTimeoutMinutes: 2000 }, "testTimeoutMinutes", /test\.timeoutMinutes: .*got 2000/],
            [
                "instanceTypes are instance types",
                { instanceTypes: ["t3.small", "huge"] },
                "instanceTypes",
                /build\.instanceTypes: has "huge"/,
            ],
            ["kmsKeyId is a key", { kmsKeyId: "my key" }, "kmsKeyId", /image\.kmsKeyId: "my key" is not a KMS key/],
            [
                "the AWS-managed key cannot be shared",
                { kmsKeyId: "alias/aws/ebs", launchPermissions: { userIds: ["111122223333"] } },
                "kmsKeyId",
                /image\.kmsKeyId: is the AWS managed key alias\/aws\/ebs.*cannot be shared.*customer managed key/,
            ],
            [
                "publish.overwrite is a boolean",
                { publishOverwrite: "yes" },
                "publishOverwrite",
                /publish\.overwrite: must be true or false/,
            ],
        ];
        for (const [what, extra, property, reason] of cases) {
            it(what, () => {
                const failures = failing(extra);
                assert.equal(failures.length, 1, JSON.stringify(failures));
                assert.equal(failures[0].property, property);
                assert.match(failures[0].reason, reason);
            });
        }
        it("accepts every base image form, and values not known yet", () => {
            assert.equal(baseImageProblem({ ssmParameter: "/aws/service/ami-amazon-linux-latest/x" }), undefined);
            assert.equal(baseImageProblem({ imageId: BASE }), undefined);
            assert.equal(baseImageProblem({ owners: ["amazon", "123456789012"], namePattern: "al2023-*" }), undefined);
            assert.equal(baseImageProblem({ namePattern: "al2023-*" }), undefined);
            assert.deepEqual(checkGoldenImageBakeInputs({ ...news(), instanceType: UNKNOWN, baseImage: { imageId: UNKNOWN } }), []);
        });
    });

    describe("scripts, architectures and the build hash", () => {
        it("the success marker counts on a console line of its own, not in the trace of its echo", () => {
            assert.ok(hasSuccessMarker("[   12.5] cloud-init[1560]: golden-ami: success\r\n[  13.0] reboot: Power down\n"));
            assert.ok(hasSuccessMarker("golden-ami: success\n"));
            assert.ok(!hasSuccessMarker("cloud-init[780]: + echo golden-ami: success\n"));
            assert.ok(!hasSuccessMarker("cloud-init[780]: golden-ami: success, or not\n"));
        });

        it("with image.kmsKeyId every EBS volume of the base image is encrypted with the key, the root resized too", () => {
            const spec = {
                baseImageId: BASE,
                instanceType: "t3.small",
                userData: "",
                owner: OWNER,
                tags: {},
                rootDeviceName: "/dev/xvda",
                baseMappings: [
                    { DeviceName: "/dev/xvda", Ebs: { SnapshotId: "snap-1" } },
                    { DeviceName: "/dev/sdb", Ebs: { SnapshotId: "snap-2" } },
                    { DeviceName: "/dev/sdc", VirtualName: "ephemeral0" },
                ],
            };
            assert.equal(builderMappings(spec), undefined, "nothing to change without a key or a size");
            assert.deepEqual(builderMappings({ ...spec, kmsKeyId: "alias/golden", rootVolumeSize: 20 }), [
                { DeviceName: "/dev/xvda", Ebs: { Encrypted: true, KmsKeyId: "alias/golden", VolumeSize: 20, DeleteOnTermination: true } },
                { DeviceName: "/dev/sdb", Ebs: { Encrypted: true, KmsKeyId: "alias/golden" } },
            ]);
            // build.blockDeviceMappings: a new data volume (encrypted with the key), one of the base image's left out.
            assert.deepEqual(
                JSON.parse(
                    JSON.stringify(
                        builderMappings({
                            ...spec,
                            kmsKeyId: "alias/golden",
                            blockDeviceMappings: [
                                { deviceName: "/dev/sdf", ebs: { volumeSize: 20, volumeType: "gp3" } },
                                { deviceName: "/dev/sdb", noDevice: true },
                            ],
                        }),
                    ),
                ), // the SDK's shapes without their unset fields
                [
                    { DeviceName: "/dev/xvda", Ebs: { Encrypted: true, KmsKeyId: "alias/golden" } },
                    { DeviceName: "/dev/sdb", NoDevice: "" },
                    { DeviceName: "/dev/sdf", Ebs: { VolumeSize: 20, VolumeType: "gp3", Encrypted: true, KmsKeyId: "alias/golden" } },
                ],
            );
        });

        it("build.blockDeviceMappings is part of the build hash; unset keeps the hash of builds without it", () => {
            const inputs = { baseImageId: "ami-0123456789abcdef0", instanceType: "t3.small", region: "us-east-1" };
            const without = buildHash(inputs);
            assert.equal(buildHash({ ...inputs, blockDeviceMappings: [] }), without);
            assert.notEqual(buildHash({ ...inputs, blockDeviceMappings: [{ deviceName: "/dev/sdf", ebs: { volumeSize: 20 } }] }), without);
        });

        it("tells the architecture from the instance type", () => {
            for (const [type, arch] of [
                ["t3.small", "x86_64"],
                ["m7i-flex.large", "x86_64"],
                ["t4g.micro", "arm64"],
                ["c7gn.xlarge", "arm64"],
                ["a1.medium", "arm64"],
                ["mac1.metal", "x86_64_mac"],
                ["mac2-m2pro.metal", "arm64_mac"],
                ["u-6tb1.metal", undefined],
            ] as const) {
                assert.equal(architectureOf(type), arch, type);
            }
        });

        it("a test and a KMS key go into the hash; without them the hash is what it was; the test's time limit does not", () => {
            const plain = { baseImageId: BASE, instanceType: "t3.small", region: "us-east-1", userData: "x" };
            // The hash of a build without test or key, as earlier versions computed it: existing images are not rebuilt.
            assert.equal(buildHash(plain), buildHash({ ...plain, test: undefined, kmsKeyId: undefined }));
            const tested = buildHash({ ...plain, test: { userData: "t" } });
            assert.notEqual(tested, buildHash(plain));
            assert.notEqual(buildHash({ ...plain, test: { userData: "t2" } }), tested);
            assert.equal(buildHash({ ...plain, test: { userData: "t", securityGroupIds: [] } }), tested, "unset and empty are the same");
            assert.notEqual(buildHash({ ...plain, kmsKeyId: "alias/golden" }), buildHash(plain));
        });
    });

    describe("launch retries", () => {
        const spec = { baseImageId: BASE, instanceType: "t3.small", userData: "", owner: OWNER, tags: {}, iamInstanceProfile: "builder" };
        const client = () => new EC2Client({ region: "us-east-1" });
        const tried = () =>
            ec2.commandCalls(RunInstancesCommand).map((c) => `${c.args[0].input.InstanceType}@${c.args[0].input.SubnetId ?? "-"}`);

        it("retries while a new instance profile propagates through IAM", async () => {
            ec2.on(RunInstancesCommand)
                .rejectsOnce(
                    ec2Error(
                        "InvalidParameterValue",
                        "Value (builder) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name",
                    ),
                )
                .resolves({ Instances: [{ InstanceId: BUILDER }] });
            const r = await launchWithRetries(client(), spec);
            assert.equal(r.instanceId, BUILDER);
            assert.equal(ec2.commandCalls(RunInstancesCommand).length, 2);
        });

        it("on InsufficientInstanceCapacity tries a subnet in each other zone, then the next instance type", async () => {
            ec2.on(DescribeSubnetsCommand).resolves({
                Subnets: [
                    { SubnetId: "subnet-0000000b", AvailabilityZone: "us-east-1b", VpcId: "vpc-1" },
                    { SubnetId: "subnet-0000000a", AvailabilityZone: "us-east-1a", VpcId: "vpc-1" },
                    { SubnetId: "subnet-000000a2", AvailabilityZone: "us-east-1a", VpcId: "vpc-1" },
                ],
            });
            ec2.on(RunInstancesCommand).rejects(ec2Error("InsufficientInstanceCapacity", "no capacity"));
            ec2.on(RunInstancesCommand, { InstanceType: "t3a.small", SubnetId: undefined }).resolves({
                Instances: [{ InstanceId: BUILDER }],
            });
            const r = await launchWithRetries(client(), spec, { instanceTypes: ["t3a.small"] });
            assert.deepEqual(r, { instanceId: BUILDER, instanceType: "t3a.small", subnetId: undefined });
            assert.deepEqual(tried(), ["t3.small@-", "t3.small@subnet-0000000a", "t3.small@subnet-0000000b", "t3a.small@-"]);
        });

        it("names every type and subnet tried when none has capacity; other errors fail at once", async () => {
            ec2.on(DescribeSubnetsCommand).resolves({ Subnets: [] });
            ec2.on(RunInstancesCommand).rejects(ec2Error("InsufficientInstanceCapacity", "no capacity"));
            await assert.rejects(
                launchWithRetries(client(), spec, { instanceTypes: ["t3a.small"] }),
                /RunInstances failed after 2 attempt\(s\): t3\.small in the default subnet: InsufficientInstanceCapacity: no capacity; t3a\.small in the default subnet: .*build\.instanceTypes/,
            );
            ec2.reset();
            ec2.on(RunInstancesCommand).rejects(ec2Error("InvalidAMIID.NotFound", "gone"));
            await assert.rejects(
                launchWithRetries(client(), spec, { instanceTypes: ["t3a.small"] }),
                /after 1 attempt\(s\).*InvalidAMIID\.NotFound/,
            );
        });
    });

    describe("check and diff", () => {
        it("resolves the base image and derives the hash, the name and the pipeline tags", async () => {
            const inputs = await checked();
            assert.equal(inputs.baseImageId, BASE);
            assert.equal(inputs.buildHash, buildHash(inputs));
            assert.equal(inputs.name, `web-${inputs.buildHash.slice(0, 8)}`);
            assert.deepEqual(inputs.tags, {
                App: "web",
                "golden-ami:pipeline": "proj/dev/web",
                "golden-ami:build-hash": inputs.buildHash,
                "golden-ami:base-image": BASE,
            });
            assert.equal(inputs.buildTimeoutMinutes, 30);
            assert.deepEqual(inputs, JSON.parse(JSON.stringify(inputs)), "no undefined values");
        });

        it("a new base AMI behind the parameter replaces the image, naming baseImageId", async () => {
            const before = await checked();
            const after = await checked({}, NEW_BASE);
            const d = await hooks.diff(IMAGE_ID, before as GoldenImageBakeState, after);
            assert.equal(d.changes, true);
            assert.deepEqual(d.replaces, ["baseImageId"], "name and buildHash are made from it: not causes");
            assert.equal(d.deleteBeforeReplace, false, "the new image is made before the old one goes");
        });

        it("nothing else rebuilds: timeout, publish parameter and the base image's spelling update in place", async () => {
            const before = await checked();
            for (const extra of [
                { buildTimeoutMinutes: 60 },
                { publishParameter: "/golden/web/latest" },
                { baseImage: { imageId: BASE } },
                { tags: { App: "web", Team: "a" } },
            ]) {
                const after = await checked(extra);
                const d = await hooks.diff(IMAGE_ID, before as GoldenImageBakeState, after);
                assert.equal(d.changes, true, JSON.stringify(extra));
                assert.deepEqual(d.replaces, [], JSON.stringify(extra));
            }
            assert.equal((await hooks.diff(IMAGE_ID, before as GoldenImageBakeState, await checked())).changes, false);
        });

        it("a test step previews as a replace naming test, and says what it will do; its time limit updates in place", async () => {
            const before = await checked();
            const tested = await checked({ test: { userData: "#!/bin/bash\npoweroff\n" } });
            const d = await hooks.diff(IMAGE_ID, before as GoldenImageBakeState, tested);
            assert.deepEqual(d.replaces, ["test"], "name and buildHash are made from it: not causes");
            assert.match(
                log.args.map((a) => String(a[0])).join("\n"),
                /test step: after the bake an instance of the new image runs test\.userData/,
            );
            const longer = await checked({ test: { userData: "#!/bin/bash\npoweroff\n" }, testTimeoutMinutes: 45 });
            assert.deepEqual((await hooks.diff(IMAGE_ID, tested as GoldenImageBakeState, longer)).replaces, []);
        });

        it("a parameter repointed outside Pulumi (seen by refresh) is an update that puts it back", async () => {
            const inputs = await checked({ publishParameter: "/golden/web/latest" });
            const state = { ...inputs, imageId: IMAGE_ID } as GoldenImageBakeState;
            assert.equal((await hooks.diff(IMAGE_ID, { ...state, publishedImageId: IMAGE_ID }, inputs)).changes, false);
            const d = await hooks.diff(IMAGE_ID, { ...state, publishedImageId: "ami-0ffffffffffffffff" }, inputs);
            assert.equal(d.changes, true);
            assert.deepEqual(d.replaces, []);
        });

        it("a bad base image fails check on baseImage with EC2's reason", async () => {
            ssm.on(GetParameterCommand).rejects(ec2Error("ParameterNotFound"));
            const r = await hooks.check({}, news());
            assert.equal(r.failures?.[0].property, "baseImage");
            assert.match(r.failures![0].reason, /does not exist in this region/);
        });

        it("namePattern picks the newest available, not deprecated image of the builder's architecture, and says which", async () => {
            const x86 = (id: string, created: string, extra: Partial<Image> = {}) =>
                image({ ImageId: id, Name: `al-${id}`, Architecture: "x86_64", CreationDate: created, ...extra });
            ec2.on(DescribeImagesCommand).resolves({
                Images: [
                    x86("ami-00000001", "2026-10-01T00:00:00Z"),
                    x86("ami-00000002", "2026-11-01T00:00:00Z", { DeprecationTime: "2026-11-02T00:00:00Z" }),
                    x86("ami-00000003", "2026-12-01T00:00:00Z", { Architecture: "arm64" }),
                ],
            });
            const r = await hooks.check({}, news({ baseImage: { owners: ["amazon"], namePattern: "al-*" } }));
            assert.deepEqual(r.failures ?? [], []);
            assert.equal(r.inputs.baseImageId, "ami-00000001", "not the deprecated one, not the arm64 one");
            assert.match(log.args.map((a) => String(a[0])).join("\n"), /baseImage: "al-\*" picked ami-00000001 \(al-ami-00000001, x86_64/);
            const arm = await hooks.check({}, news({ instanceType: "t4g.small", baseImage: { owners: ["amazon"], namePattern: "al-*" } }));
            assert.equal(arm.inputs.baseImageId, "ami-00000003");
            ec2.on(DescribeImagesCommand).resolves({ Images: [x86("ami-00000001", "2026-10-01T00:00:00Z")] });
            const none = await hooks.check({}, news({ instanceType: "m7g.large", baseImage: { owners: ["amazon"], namePattern: "al-*" } }));
            assert.equal(none.failures?.[0].property, "baseImage");
            assert.match(
                none.failures![0].reason,
                /1 match but are deprecated or not arm64, the architecture of the builder's instance type/,
            );
        });

        it("a pinned or resolved base image that no longer exists fails the preview naming it", async () => {
            ec2.on(DescribeImagesCommand).resolves({ Images: [] });
            const pinned = await hooks.check({}, news({ baseImage: { imageId: "ami-0dddddddddddddddd" } }));
            assert.equal(pinned.failures?.[0].property, "baseImage");
            assert.match(pinned.failures![0].reason, /AMI ami-0dddddddddddddddd does not exist in this region or is not visible/);
            ssm.on(GetParameterCommand).resolves({ Parameter: { Name: "/base", Value: "ami-0dddddddddddddddd", Version: 3 } });
            const resolved = await hooks.check({}, news({ baseImage: { ssmParameter: "/base" } }));
            assert.match(resolved.failures![0].reason, /AMI ami-0dddddddddddddddd \(from \/base\) does not exist/);
        });

        it("values not known at preview leave the hash and name unknown, without an EC2 call", async () => {
            const r = await hooks.check({}, news({ baseImage: { imageId: UNKNOWN }, subnetId: UNKNOWN }));
            assert.deepEqual(r.failures ?? [], []);
            assert.equal(r.inputs.buildHash, UNKNOWN);
            assert.equal(r.inputs.name, UNKNOWN);
            assert.equal(ec2.calls().length + ssm.calls().length, 0);
        });

        it("the build hash ignores security group order and changes with everything that goes into the bake", () => {
            const parts = {
                baseImageId: fc.constantFrom(BASE, NEW_BASE),
                userData: fc.string(),
                instanceType: fc.constantFrom("t3.small", "m7g.large"),
                subnetId: fc.option(fc.constantFrom("subnet-0123456789abcdef0", "subnet-01234567"), { nil: undefined }),
                securityGroupIds: fc.uniqueArray(fc.constantFrom("sg-01234567", "sg-89abcdef", "sg-0123456789abcdef0")),
                iamInstanceProfile: fc.option(fc.constantFrom("builder", "other"), { nil: undefined }),
                rootVolumeSize: fc.option(fc.integer({ min: 1, max: 100 }), { nil: undefined }),
                region: fc.constantFrom("us-east-1", "eu-west-1"),
            };
            fc.assert(
                fc.property(fc.record(parts), fc.record(parts), (a, b) => {
                    const reordered = { ...a, securityGroupIds: [...a.securityGroupIds].reverse() };
                    assert.equal(buildHash(a), buildHash(reordered));
                    const same =
                        JSON.stringify({ ...a, securityGroupIds: [...a.securityGroupIds].sort() }) ===
                        JSON.stringify({ ...b, securityGroupIds: [...b.securityGroupIds].sort() });
                    assert.equal(buildHash(a) === buildHash(b), same);
                }),
            );
        });

        it("newest base image by creation date, stable on ties", () => {
            const a = image({ ImageId: "ami-0000000a", CreationDate: "2026-01-01T00:00:00Z" });
            const b = image({ ImageId: "ami-0000000b", CreationDate: "2026-02-01T00:00:00Z" });
            const c = image({ ImageId: "ami-0000000c", CreationDate: "2026-02-01T00:00:00Z" });
            assert.equal(newestImage([a, b, c])?.ImageId, "ami-0000000c");
            assert.equal(newestImage([c, b, a])?.ImageId, "ami-0000000c");
            assert.equal(newestImage([]), undefined);
        });
    });

    describe("create: the builder is always terminated", () => {
        function ec2Happy() {
            ec2.on(DescribeImagesCommand).resolves({ Images: [] }); // no leftover image of this name
            ec2.on(DescribeImagesCommand, { ImageIds: [BASE] }).resolves({ Images: [base()] });
            ec2.on(DescribeImagesCommand, { ImageIds: [IMAGE_ID] }).resolves({ Images: [image()] });
            ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] }); // no stray builder
            ec2.on(RunInstancesCommand).resolves({ Instances: [{ InstanceId: BUILDER }] });
            ec2.on(DescribeInstancesCommand, { InstanceIds: [BUILDER] })
                .resolvesOnce(builder("pending"))
                .resolvesOnce(builder("running"))
                .resolves(builder("stopped"));
            ec2.on(CreateImageCommand).resolves({ ImageId: IMAGE_ID });
            ec2.on(CreateTagsCommand).resolves({});
            ec2.on(TerminateInstancesCommand).resolves({});
            ec2.on(GetConsoleOutputCommand, { InstanceId: BUILDER }).resolves({ Output: consoleOf("+ make", "golden-ami: success") });
        }
        const terminated = () => ec2.commandCalls(TerminateInstancesCommand).map((c) => c.args[0].input.InstanceIds);

        it("on success: launches from the base image, bakes the stopped builder, publishes, terminates", async () => {
            const inputs = await checked({ publishParameter: "/golden/web/latest" });
            ec2Happy();
            ssm.on(GetParameterCommand, { Name: "/golden/web/latest" })
                .resolvesOnce({}) // the ownership check: no parameter yet
                .resolvesOnce({})
                .resolves({ Parameter: { Name: "/golden/web/latest", Value: IMAGE_ID, Version: 1 } });
            ssm.on(PutParameterCommand).resolves({ Version: 1 });
            const r = await hooks.create(inputs);
            assert.equal(r.id, IMAGE_ID);
            assert.equal(r.outs.builderInstanceId, BUILDER);
            assert.equal(r.outs.publishedImageId, IMAGE_ID);
            assert.equal(r.outs.baseImageId, BASE);
            const run = ec2.commandCalls(RunInstancesCommand)[0].args[0].input;
            assert.equal(run.ImageId, BASE);
            assert.equal(run.InstanceInitiatedShutdownBehavior, "stop");
            assert.equal(Buffer.from(run.UserData!, "base64").toString(), inputs.userData);
            const tags = run.TagSpecifications![0].Tags!;
            assert.ok(tags.some((t) => t.Key === "golden-ami:builder" && t.Value === OWNER));
            assert.equal(ec2.commandCalls(CreateImageCommand)[0].args[0].input.InstanceId, BUILDER);
            assert.deepEqual(ssm.commandCalls(PutParameterCommand)[0].args[0].input, {
                Name: "/golden/web/latest",
                Value: IMAGE_ID,
                Type: "String",
                DataType: "aws:ec2:image",
                Overwrite: true,
                Description: "golden-ami: latest image of proj/dev/web",
            });
            assert.deepEqual(terminated(), [[BUILDER]]);
        });

        it("on a failed script: times out with the console tail, and terminates", async () => {
            const inputs = await checked({ buildTimeoutMinutes: 0.002 });
            ec2Happy();
            ec2.on(DescribeInstancesCommand, { InstanceIds: [BUILDER] }).resolves(builder("running"));
            ec2.on(GetConsoleOutputCommand).resolves({ Output: Buffer.from("boot\nnginx: package not found\n").toString("base64") });
            await assert.rejects(hooks.create(inputs), (e: Error) => {
                assert.match(e.message, /still running after 0.002 minutes/);
                assert.match(e.message, /nginx: package not found/);
                assert.match(e.message, /builder i-0123456789abcdef0 terminated$/);
                return true;
            });
            assert.deepEqual(terminated(), [[BUILDER]]);
            assert.equal(ec2.commandCalls(CreateImageCommand).length, 0);
        });

        it("on a builder terminated by someone else: fails at once with its state reason", async () => {
            const inputs = await checked();
            ec2Happy();
            ec2.on(DescribeInstancesCommand, { InstanceIds: [BUILDER] }).resolves({
                Reservations: [
                    {
                        Instances: [
                            {
                                InstanceId: BUILDER,
                                State: { Name: "terminated" },
                                StateReason: { Message: "Client.UserInitiatedShutdown" },
                            },
                        ],
                    },
                ],
            });
            await assert.rejects(hooks.create(inputs), /builder i-0123456789abcdef0 is terminated \(Client.UserInitiatedShutdown\)/);
            assert.deepEqual(terminated(), [[BUILDER]]);
        });

        it("on a CreateImage failure: names EC2's code, and terminates", async () => {
            const inputs = await checked();
            ec2Happy();
            ec2.on(CreateImageCommand).rejects(ec2Error("InvalidParameterValue", "bad name"));
            await assert.rejects(hooks.create(inputs), /CreateImage of the stopped builder: InvalidParameterValue: bad name/);
            assert.deepEqual(terminated(), [[BUILDER]]);
        });

        it("when terminating fails too: the error says so and that the next run terminates it", async () => {
            const inputs = await checked();
            ec2Happy();
            ec2.on(CreateImageCommand).rejects(ec2Error("InvalidParameterValue"));
            ec2.on(TerminateInstancesCommand).rejects(ec2Error("RequestLimitExceeded"));
            await assert.rejects(
                hooks.create(inputs),
                /terminating builder i-0123456789abcdef0 also failed \(RequestLimitExceeded\): the next `pulumi up`/,
            );
        });

        it("when terminating fails after the image is made: the image is kept in state", async () => {
            const inputs = await checked();
            ec2Happy();
            ec2.on(TerminateInstancesCommand).rejects(ec2Error("RequestLimitExceeded"));
            await assert.rejects(hooks.create(inputs), (e: unknown) => {
                assert.ok(e instanceof PartialCreateError);
                assert.equal(e.id, IMAGE_ID);
                assert.equal(e.properties.buildHash, inputs.buildHash);
                return true;
            });
        });

        it("after an interrupted run: the stray builder is terminated before a new one is launched", async () => {
            const inputs = await checked();
            ec2Happy();
            ec2.on(DescribeInstancesCommand, BUILDER_FILTERS)
                .resolvesOnce({
                    Reservations: [
                        {
                            Instances: [
                                { InstanceId: STRAY, State: { Name: "running" }, Tags: [{ Key: "golden-ami:builder", Value: OWNER }] },
                            ],
                        },
                    ],
                })
                .resolves({ Reservations: [] });
            await hooks.create(inputs);
            assert.deepEqual(terminated(), [[STRAY], [BUILDER]]);
            const order = ec2.calls().map((c) => c.args[0].constructor.name);
            assert.ok(order.indexOf("TerminateInstancesCommand") < order.indexOf("RunInstancesCommand"), order.join(" "));
        });

        it("after a run interrupted once the image was made: adopts it, launches nothing, terminates its builder", async () => {
            const inputs = await checked();
            ec2Happy();
            ec2.on(DescribeImagesCommand, { Filters: [{ Name: "name", Values: [inputs.name] }] }).resolves({
                Images: [image({ Name: inputs.name, State: "pending", Tags: [{ Key: "golden-ami:build-hash", Value: inputs.buildHash }] })],
            });
            ec2.on(DescribeInstancesCommand, BUILDER_FILTERS).resolves({
                Reservations: [
                    { Instances: [{ InstanceId: STRAY, State: { Name: "stopped" }, Tags: [{ Key: "golden-ami:builder", Value: OWNER }] }] },
                ],
            });
            const r = await hooks.create(inputs);
            assert.equal(r.id, IMAGE_ID);
            assert.equal(ec2.commandCalls(RunInstancesCommand).length, 0);
            assert.equal(ec2.commandCalls(CreateImageCommand).length, 0);
            assert.deepEqual(terminated(), [[STRAY]]);
        });
    });

    describe("delete", () => {
        const state = (): GoldenImageBakeState =>
            ({
                ...(news({ publishParameter: "/golden/web/latest" }) as GoldenImageBakeInputs),
                imageId: IMAGE_ID,
                name: "web-12345678",
                snapshotIds: [SNAP],
                deleteSnapshotsOnDestroy: true,
            }) as GoldenImageBakeState;
        beforeEach(() => {
            // What is in use is read by enumeration here (an endpoint without DescribeImageReferences).
            ec2.on(DescribeImageReferencesCommand).rejects(ec2Error("InvalidAction"));
            ec2.on(DescribeFleetsCommand).resolves({ Fleets: [] });
            ec2.on(DescribeSpotFleetRequestsCommand).resolves({ SpotFleetRequestConfigs: [] });
            asg.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [] });
            asg.on(DescribeLaunchConfigurationsCommand).resolves({ LaunchConfigurations: [] });
            ssm.on(DescribeParametersCommand).resolves({ Parameters: [] });
            ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
            ec2.on(DescribeLaunchTemplateVersionsCommand).resolves({ LaunchTemplateVersions: [] });
            ec2.on(DescribeImageAttributeCommand, { Attribute: "launchPermission" }).resolves({ LaunchPermissions: [] });
            ec2.on(DeregisterImageCommand).resolves({});
            ec2.on(DeleteSnapshotCommand).resolves({});
            ec2.on(TerminateInstancesCommand).resolves({});
        });

        it("terminates stray builders, withdraws the parameter holding this image, deletes image and snapshots", async () => {
            ec2.on(DescribeInstancesCommand, BUILDER_FILTERS).resolves({
                Reservations: [
                    { Instances: [{ InstanceId: STRAY, State: { Name: "stopped" }, Tags: [{ Key: "golden-ami:builder", Value: OWNER }] }] },
                ],
            });
            ssm.on(GetParameterCommand).resolves({ Parameter: { Name: "/golden/web/latest", Value: IMAGE_ID, Version: 3 } });
            ssm.on(DeleteParameterCommand).resolves({});
            await hooks.delete(IMAGE_ID, state());
            assert.deepEqual(ec2.commandCalls(TerminateInstancesCommand)[0].args[0].input.InstanceIds, [STRAY]);
            assert.equal(ssm.commandCalls(DeleteParameterCommand).length, 1);
            assert.equal(ec2.commandCalls(DeregisterImageCommand)[0].args[0].input.ImageId, IMAGE_ID);
            assert.equal(ec2.commandCalls(DeleteSnapshotCommand)[0].args[0].input.SnapshotId, SNAP);
        });

        it("after a replacement the parameter holds the new image: it is left alone, the old image goes", async () => {
            ssm.on(GetParameterCommand).resolves({ Parameter: { Name: "/golden/web/latest", Value: "ami-0ffffffffffffffff", Version: 4 } });
            await hooks.delete(IMAGE_ID, state());
            assert.equal(ssm.commandCalls(DeleteParameterCommand).length, 0);
            assert.equal(ec2.commandCalls(DeregisterImageCommand).length, 1);
        });

        const runningOnIt = () =>
            ec2
                .on(DescribeInstancesCommand, {
                    Filters: [{ Name: "instance-state-name", Values: ["pending", "running", "shutting-down", "stopping", "stopped"] }],
                })
                .resolves({
                    Reservations: [{ Instances: [{ InstanceId: "i-00000000000000001", ImageId: IMAGE_ID, State: { Name: "running" } }] }],
                });
        const owner = "proj/dev/GoldenImageBake/web-bake";

        it("the replaced image an instance still uses is kept, tagged, with a warning naming the instance and keepLatest", async () => {
            runningOnIt();
            ec2.on(DescribeImagesCommand).resolves({ Images: [{ ImageId: "ami-0ffffffffffffffff", State: "available" }] });
            ec2.on(CreateTagsCommand).resolves({});
            const warn = sinon.stub(console, "error");
            try {
                await hooks.delete(IMAGE_ID, { ...state(), owner });
                assert.match(String(warn.args[0][0]), /kept, not deregistered: it is still in use: instance i-00000000000000001/);
                assert.match(String(warn.args[0][0]), /keepLatest/);
            } finally {
                warn.restore();
            }
            assert.equal(ec2.commandCalls(DeregisterImageCommand).length, 0);
            assert.equal(ec2.commandCalls(CreateTagsCommand).length, 1);
            assert.equal(ssm.commandCalls(DeleteParameterCommand).length, 0);
        });

        it("the replaced image's share with its distribute accounts (its own launchPermissions) is no user: it goes; a share added outside the program keeps it", async () => {
            const distributed = { ...state(), owner, publishParameter: undefined, launchPermissions: { userIds: ["111122223333"] } };
            ec2.on(DescribeImageAttributeCommand, { Attribute: "launchPermission" }).resolves({
                LaunchPermissions: [{ UserId: "111122223333" }],
            });
            await hooks.delete(IMAGE_ID, distributed);
            assert.equal(ec2.commandCalls(DeregisterImageCommand).length, 1, "deregistered although shared with the target");
            ec2.resetHistory();
            ec2.on(DescribeImageAttributeCommand, { Attribute: "launchPermission" }).resolves({
                LaunchPermissions: [{ UserId: "111122223333" }, { UserId: "999988887777" }],
            });
            ec2.on(DescribeImagesCommand).resolves({ Images: [{ ImageId: "ami-0ffffffffffffffff", State: "available" }] });
            ec2.on(CreateTagsCommand).resolves({});
            const warn = sinon.stub(console, "error");
            try {
                await hooks.delete(IMAGE_ID, distributed);
                assert.match(String(warn.args[0][0]), /still in use: shared with account 999988887777\./);
            } finally {
                warn.restore();
            }
            assert.equal(ec2.commandCalls(DeregisterImageCommand).length, 0);
        });

        it("destroy of an image an instance still uses fails naming it; nothing is deleted, the parameter stays", async () => {
            runningOnIt();
            ec2.on(DescribeImagesCommand).resolves({ Images: [] });
            await assert.rejects(
                hooks.delete(IMAGE_ID, { ...state(), owner }),
                /still in use: instance i-00000000000000001.*retainOnDelete/s,
            );
            assert.equal(ec2.commandCalls(DeregisterImageCommand).length, 0);
            assert.equal(ssm.commandCalls(DeleteParameterCommand).length, 0);
        });
    });

    describe("EC2 and SSM helpers", () => {
        it("the console tail is the last lines, decoded, without carriage returns", async () => {
            const lines = Array.from({ length: 40 }, (_, i) => `line ${i + 1}\r`).join("\n");
            ec2.on(GetConsoleOutputCommand).resolves({ Output: Buffer.from(lines).toString("base64") });
            const tail = await consoleTail(new EC2Client({ region: REGION }), BUILDER, 3);
            assert.equal(tail, "line 38\nline 39\nline 40");
        });

        it("a console EC2 does not keep is said so, not an error", async () => {
            ec2.on(GetConsoleOutputCommand).rejects(ec2Error("UnsupportedOperation"));
            assert.match(await consoleTail(new EC2Client({ region: REGION }), BUILDER), /no console output/);
            ec2.on(GetConsoleOutputCommand).rejects(ec2Error("UnauthorizedOperation"));
            await assert.rejects(consoleTail(new EC2Client({ region: REGION }), BUILDER), /UnauthorizedOperation/);
        });

        it("terminating instances EC2 no longer knows counts as done, one by one when several were asked", async () => {
            ec2.on(TerminateInstancesCommand, { InstanceIds: [BUILDER, STRAY] }).rejects(ec2Error("InvalidInstanceID.NotFound"));
            ec2.on(TerminateInstancesCommand, { InstanceIds: [BUILDER] }).resolves({});
            ec2.on(TerminateInstancesCommand, { InstanceIds: [STRAY] }).rejects(ec2Error("InvalidInstanceID.NotFound"));
            await terminateInstances(new EC2Client({ region: REGION }), [BUILDER, STRAY]);
            assert.equal(ec2.commandCalls(TerminateInstancesCommand).length, 3);
        });

        it("a parameter that never answers the published image fails the publish, naming what it holds", async () => {
            ssm.on(GetParameterCommand).resolves({ Parameter: { Name: "/golden/web/latest", Value: "ami-0ffffffffffffffff", Version: 2 } });
            ssm.on(PutParameterCommand).resolves({ Version: 3 });
            await assert.rejects(
                publishImageParameter(new SSMClient({ region: REGION }), "/golden/web/latest", IMAGE_ID, { waitSeconds: 0.01 }),
                /still answers ami-0ffffffffffffffff instead of ami-0123456789abcdef0/,
            );
        });
    });
});
