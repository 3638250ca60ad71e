// ec2/builder-instance.ts through the real AWS SDK against moto. Moto runs no
// user data, so a test powers the builder off itself (StopInstances), as the
// provisioning script's final `poweroff` would.
import { DescribeInstanceAttributeCommand, DescribeInstancesCommand, EC2Client, StopInstancesCommand } from "@aws-sdk/client-ec2";
import { PutParameterCommand } from "@aws-sdk/client-ssm";
import assert from "node:assert/strict";
import { createSourceInstance } from "../../scripts/lib/ec2-fixtures";
import {
    BUILDER_TAG,
    BuildTimeoutError,
    consoleTail,
    createImageFromBuilder,
    findBuilders,
    launchBuilder,
    resolveBaseImage,
    terminateBuilders,
    waitForBuilderStopped,
} from "../../dynamic-providers/ec2/builder-instance";
import { ec2Client } from "../../dynamic-providers/ec2/client";
import { ssmClient } from "../../dynamic-providers/ec2/ssm-parameter";

const REGION = "ap-northeast-1";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("builder instances against moto", () => {
    let baseImageId: string;
    let ec2: EC2Client;
    const owner = "urn:pulumi:integ::proj::golden-ami:index:GoldenImage::web";
    let saved: string | undefined;

    before(async () => {
        saved = process.env.GOLDEN_AMI_POLL_SCALE;
        process.env.GOLDEN_AMI_POLL_SCALE = "0.02";
        ec2 = ec2Client(REGION);
        ({ baseImageId } = await createSourceInstance(REGION, { name: "builder-base" }));
    });
    after(() => {
        if (saved === undefined) delete process.env.GOLDEN_AMI_POLL_SCALE;
        else process.env.GOLDEN_AMI_POLL_SCALE = saved;
    });
    afterEach(async () => {
        await terminateBuilders(ec2, owner);
    });

    const launch = () =>
        launchBuilder(ec2, {
            baseImageId,
            instanceType: "t3.small",
            userData: "#!/bin/bash\necho provisioned\npoweroff\n",
            owner,
            tags: { "golden-ami:pipeline": "proj/integ/web", "golden-ami:build-hash": "abc" },
        });

    it("resolves a base image by id, by SSM parameter, and by owner and name pattern (the newest)", async () => {
        const ssm = ssmClient(REGION);
        assert.equal((await resolveBaseImage(ec2, ssm, { imageId: baseImageId })).ImageId, baseImageId);
        await ssm.send(new PutParameterCommand({ Name: "/integ/base", Value: baseImageId, Type: "String", DataType: "aws:ec2:image" }));
        assert.equal((await resolveBaseImage(ec2, ssm, { ssmParameter: "/integ/base" })).ImageId, baseImageId);
        await sleep(1100);
        const { baseImageId: newer } = await createSourceInstance(REGION, { name: "builder-base" });
        assert.equal((await resolveBaseImage(ec2, ssm, { owners: ["self"], namePattern: "builder-base-*" })).ImageId, newer);
        await assert.rejects(resolveBaseImage(ec2, ssm, { ssmParameter: "/integ/missing" }), /does not exist/);
        await assert.rejects(resolveBaseImage(ec2, ssm, { imageId: "ami-0123456789abcdef0" }), /does not exist/);
        await assert.rejects(resolveBaseImage(ec2, ssm, { owners: ["self"], namePattern: "nothing-*" }), /no available AMI/);
    });

    it("launches a builder tagged with its owner, stopping on power-off, with the script as user data", async () => {
        const id = await launch();
        const i = (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations![0].Instances![0];
        assert.equal(i.ImageId, baseImageId);
        assert.ok(i.Tags!.some((t) => t.Key === BUILDER_TAG && t.Value === owner));
        assert.deepEqual(
            (await findBuilders(ec2, owner)).map((b) => b.InstanceId),
            [id],
        );
        const behaviour = await ec2.send(
            new DescribeInstanceAttributeCommand({ InstanceId: id, Attribute: "instanceInitiatedShutdownBehavior" }),
        );
        assert.equal(behaviour.InstanceInitiatedShutdownBehavior?.Value, "stop");
        const userData = await ec2.send(new DescribeInstanceAttributeCommand({ InstanceId: id, Attribute: "userData" }));
        assert.match(Buffer.from(userData.UserData!.Value!, "base64").toString(), /poweroff\n$/);
    });

    it("waits until the builder is stopped, then bakes it", async () => {
        const id = await launch();
        const lines: string[] = [];
        const waiting = waitForBuilderStopped(ec2, id, { timeoutMinutes: 1, label: "test", report: (l) => lines.push(l) });
        await sleep(1500);
        await ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));
        const stopped = await waiting;
        assert.equal(stopped.State?.Name, "stopped");
        assert.ok(
            lines.some((l) => /builder i-[0-9a-f]+ running for/.test(l)),
            `progress: ${lines.join(" | ")}`,
        );
        const imageId = await createImageFromBuilder(ec2, id, { name: "integ-baked", tags: { App: "web" } });
        assert.match(imageId, /^ami-/);
    });

    it("times out on a builder the script never powered off, with the console tail", async () => {
        const id = await launch();
        const err = await waitForBuilderStopped(ec2, id, { timeoutMinutes: 0.05, label: "test", report: () => {} }).then(
            () => assert.fail("no timeout"),
            (e) => e,
        );
        assert.ok(err instanceof BuildTimeoutError, String(err));
        assert.match(err.message, /still running after 0.05 minutes/);
        assert.match(err.message, /Last console output/);
        assert.equal(typeof (await consoleTail(ec2, id)), "string");
    });

    it("finds and terminates stray builders of one owner only", async () => {
        const mine = await launch();
        await launchBuilder(ec2, { baseImageId, instanceType: "t3.small", userData: "", owner: "someone-else", tags: {} });
        assert.deepEqual(await terminateBuilders(ec2, owner), [mine]);
        assert.deepEqual(await findBuilders(ec2, owner), []);
        assert.equal((await findBuilders(ec2, "someone-else")).length, 1);
        await terminateBuilders(ec2, "someone-else");
    });
});
