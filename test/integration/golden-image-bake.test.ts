// GoldenImage's bake hooks through the real AWS SDK against moto: check
// resolves the base image, create builds and bakes, update republishes,
// refresh and delete sweep builders, delete leaves nothing. Moto runs no user
// data: test/support/builder-stopper.ts powers builders off instead.
import {
    DescribeImagesCommand,
    DescribeInstancesCommand,
    EC2Client,
    RunInstancesCommand,
    TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import { PutParameterCommand } from "@aws-sdk/client-ssm";
import assert from "node:assert/strict";
import * as sinon from "sinon";
import * as hooks from "../../dynamic-providers/golden-image-bake";
import { GoldenImageBakeInputs } from "../../sdk/golden-image-bake";
import { findBuilders } from "../../dynamic-providers/ec2/builder-instance";
import { readParameter, ssmClient } from "../../dynamic-providers/ec2/ssm-parameter";
import { createSourceInstance, inventory, leftBehind } from "../../scripts/lib/ec2-fixtures";
import { BuilderStopper, stopBuildersWhenLaunched } from "../support/builder-stopper";

// A region no other integration file uses: clients are cached per region for the process.
const REGION = "af-south-1";
const OWNER = "urn:pulumi:integ::proj::golden-ami:index:GoldenImage::web";

describe("GoldenImage bake against moto", () => {
    let ec2: EC2Client;
    let baseImageId: string;
    let baseline: Awaited<ReturnType<typeof inventory>>;
    let stopper: BuilderStopper | undefined;
    let log: sinon.SinonStub;
    let saved: string | undefined;

    before(async () => {
        saved = process.env.GOLDEN_AMI_POLL_SCALE;
        process.env.GOLDEN_AMI_POLL_SCALE = "0.02";
        ec2 = new EC2Client({ region: REGION });
        ({ baseImageId } = await createSourceInstance(REGION, { name: "bake-base" }));
        await ssmClient(REGION).send(
            new PutParameterCommand({ Name: "/integ/bake/base", Value: baseImageId, Type: "String", DataType: "aws:ec2:image" }),
        );
        baseline = await inventory(REGION);
    });
    after(() => {
        ec2.destroy();
        if (saved === undefined) delete process.env.GOLDEN_AMI_POLL_SCALE;
        else process.env.GOLDEN_AMI_POLL_SCALE = saved;
    });
    beforeEach(() => {
        log = sinon.stub(console, "log");
    });
    afterEach(async () => {
        log.restore();
        await stopper?.stop();
        stopper = undefined;
    });

    const news = (extra: Partial<GoldenImageBakeInputs> = {}) => ({
        pipeline: "proj/integ/web",
        builderOwner: OWNER,
        baseImage: { ssmParameter: "/integ/bake/base" },
        instanceType: "t3.small",
        userData: "#!/bin/bash\necho hi\npoweroff\n",
        namePrefix: "integ-web",
        publishParameter: "/golden/integ/web",
        region: REGION,
        tags: { App: "web" },
        ...extra,
    });

    async function checked(extra: Partial<GoldenImageBakeInputs> = {}, olds = {}) {
        const r = await hooks.check(olds, news(extra));
        assert.deepEqual(r.failures ?? [], []);
        return r.inputs as GoldenImageBakeInputs;
    }

    let state: Record<string, unknown>;
    let imageId: string;

    it("check resolves the base image from SSM, hashes the build and names the image after it", async () => {
        const inputs = await checked();
        assert.equal(inputs.baseImageId, baseImageId);
        assert.match(inputs.buildHash, /^[0-9a-f]{16}$/);
        assert.equal(inputs.name, `integ-web-${inputs.buildHash.slice(0, 8)}`);
        assert.equal(inputs.tags!["golden-ami:pipeline"], "proj/integ/web");
        const bad = await hooks.check({}, news({ baseImage: { ssmParameter: "/integ/bake/missing" } }));
        assert.equal(bad.failures?.[0].property, "baseImage");
        assert.match(bad.failures![0].reason, /does not exist/);
    });

    it("create builds, bakes, publishes, and terminates the builder", async () => {
        stopper = stopBuildersWhenLaunched(REGION, { owner: OWNER, afterMs: 300 });
        const inputs = await checked();
        const r = await hooks.create(inputs);
        imageId = r.id;
        state = r.outs;
        const img = (await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images![0];
        assert.equal(img.State, "available");
        assert.equal(img.Name, inputs.name);
        assert.ok(img.Tags!.some((t) => t.Key === "golden-ami:build-hash" && t.Value === inputs.buildHash));
        assert.equal((await readParameter(ssmClient(REGION), "/golden/integ/web"))?.value, imageId);
        assert.deepEqual(await findBuilders(ec2, OWNER), [], "no builder left");
        assert.equal(state.builderInstanceId, stopper.stopped[0]);
        const builder = (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [stopper.stopped[0]] }))).Reservations![0]
            .Instances![0];
        assert.equal(builder.State?.Name, "terminated");
        assert.equal(builder.ImageId, baseImageId);
    });

    it("a changed script replaces; a changed publish parameter updates", async () => {
        const same = await checked({}, state);
        assert.deepEqual((await hooks.diff(imageId, state as never, same)).changes, false);
        const script = await checked({ userData: "#!/bin/bash\necho v2\npoweroff\n" }, state);
        const d = await hooks.diff(imageId, state as never, script);
        assert.deepEqual(d.replaces, ["userData", "name", "buildHash"]);
        assert.equal(d.deleteBeforeReplace, false);
        const moved = await checked({ publishParameter: "/golden/integ/web2" }, state);
        const d2 = await hooks.diff(imageId, state as never, moved);
        assert.equal(d2.changes, true);
        assert.deepEqual(d2.replaces, []);
        const u = await hooks.update(imageId, state as never, moved);
        state = u.outs!;
        assert.equal((await readParameter(ssmClient(REGION), "/golden/integ/web2"))?.value, imageId);
        assert.equal(await readParameter(ssmClient(REGION), "/golden/integ/web"), undefined, "the old parameter is withdrawn");
    });

    it("refresh terminates a builder an interrupted run left behind", async () => {
        const stray = (
            await ec2.send(
                new RunInstancesCommand({
                    ImageId: baseImageId,
                    MinCount: 1,
                    MaxCount: 1,
                    TagSpecifications: [{ ResourceType: "instance", Tags: [{ Key: "golden-ami:builder", Value: OWNER }] }],
                }),
            )
        ).Instances![0].InstanceId!;
        const r = await hooks.read(imageId, state as never);
        assert.equal(r.id, imageId);
        assert.equal(r.props!.publishedImageId, imageId);
        assert.deepEqual(await findBuilders(ec2, OWNER), []);
        assert.ok(
            log.args.some((a) => String(a[0]).includes(stray)),
            "refresh says it terminated the stray builder",
        );
    });

    it("delete keeps an image still in use by an instance, and deletes it with its parameter and snapshots once free", async () => {
        const user = (await ec2.send(new RunInstancesCommand({ ImageId: imageId, MinCount: 1, MaxCount: 1 }))).Instances![0].InstanceId!;
        const warn = sinon.stub(console, "error");
        try {
            await hooks.delete(imageId, state as never);
            assert.match(String(warn.args[0]?.[0]), /kept, it is still in use by instance/);
        } finally {
            warn.restore();
        }
        assert.equal((await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images![0].State, "available");
        assert.equal((await readParameter(ssmClient(REGION), "/golden/integ/web2"))?.value, imageId, "its parameter stays too");
        await ec2.send(new TerminateInstancesCommand({ InstanceIds: [user] }));
        await hooks.delete(imageId, state as never);
        assert.equal(await readParameter(ssmClient(REGION), "/golden/integ/web2"), undefined);
        assert.deepEqual(leftBehind(baseline, await inventory(REGION)), { images: [], snapshots: [] });
    });

    it("a script that never powers off fails at the timeout with the console tail, and the builder is terminated", async () => {
        const inputs = await checked({ buildTimeoutMinutes: 0.05, namePrefix: "integ-fail" });
        const err = await hooks.create(inputs).then(
            () => assert.fail("the build did not fail"),
            (e) => e as Error,
        );
        assert.match(err.message, /waiting for the provisioning script to power the builder off/);
        assert.match(err.message, /Last console output/);
        assert.match(err.message, /builder i-[0-9a-f]+ terminated$/);
        assert.deepEqual(await findBuilders(ec2, OWNER), []);
        assert.deepEqual(leftBehind(baseline, await inventory(REGION)).images, []);
    });
});
