// GoldenImage's bake hooks through the real AWS SDK against moto: check
// resolves the base image, create builds and bakes, update republishes,
// refresh and delete sweep builders, delete leaves nothing; a build without a
// script, the success marker, the test step and publish ownership. Moto runs
// no user data: the provider's EC2 client goes through the emulator's build
// instances (emulator/builders.ts), which play the scripts.
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
import * as hooks from "../../dynamic-providers/golden-image-bake-hooks";
import { GoldenImageBakeInputs } from "../../sdk/golden-image-bake";
import { findBuilders } from "../../dynamic-providers/ec2/builder-instance";
import { readParameter, ssmClient } from "../../dynamic-providers/ec2/ssm-parameter";
import { createSourceInstance, inventory, leftBehind } from "../../scripts/lib/ec2-fixtures";
import { builderEmulation, BuilderEmulation } from "../../emulator/builders";
import { Ec2Proxy, startEc2Proxy } from "../../emulator/ec2-proxy";
import { readmePolicyActions } from "../support/iam-policy";
import { currentMoto } from "../support/moto-hooks";

// A region no other integration file uses: clients are cached per region for the process.
const REGION = "af-south-1";
const OWNER = "urn:pulumi:integ::proj::golden-ami:index:GoldenImage::web";

describe("GoldenImage bake against moto", () => {
    let ec2: EC2Client;
    let baseImageId: string;
    let baseline: Awaited<ReturnType<typeof inventory>>;
    let log: sinon.SinonStub;
    let saved: string | undefined;
    let proxy: Ec2Proxy;
    let builders: BuilderEmulation;
    let direct: string | undefined;

    before(async () => {
        saved = process.env.GOLDEN_AMI_POLL_SCALE;
        process.env.GOLDEN_AMI_POLL_SCALE = "0.02";
        builders = builderEmulation({ seed: 5, builderBootMs: 300 });
        proxy = await startEc2Proxy({ target: currentMoto().endpoint, handlers: [builders.handler] });
        // Every EC2 client of this file (the provider's too) goes through the emulator; the SDK reads the endpoint per client lazily.
        direct = process.env.AWS_ENDPOINT_URL_EC2;
        process.env.AWS_ENDPOINT_URL_EC2 = proxy.endpoint;
        ec2 = new EC2Client({ region: REGION });
        ({ baseImageId } = await createSourceInstance(REGION, { name: "bake-base" }));
        await ssmClient(REGION).send(
            new PutParameterCommand({ Name: "/integ/bake/base", Value: baseImageId, Type: "String", DataType: "aws:ec2:image" }),
        );
        baseline = await inventory(REGION);
        proxy.resetStats(); // the fixtures' own calls (RegisterImage, CreateSnapshot) are not golden-ami's
    });
    after(async () => {
        process.env.AWS_ENDPOINT_URL_EC2 = direct;
        builders.dispose();
        await proxy.stop();
        ec2.destroy();
        if (saved === undefined) delete process.env.GOLDEN_AMI_POLL_SCALE;
        else process.env.GOLDEN_AMI_POLL_SCALE = saved;
    });
    beforeEach(() => {
        log = sinon.stub(console, "log");
    });
    afterEach(() => {
        log.restore();
    });

    const news = (extra: Partial<GoldenImageBakeInputs> = {}) => ({
        pipeline: "proj/integ/web",
        builderOwner: OWNER,
        baseImage: { ssmParameter: "/integ/bake/base" },
        instanceType: "t3.small",
        userData: '#!/bin/bash\nset -e\necho hi\necho "golden-ami: success"\npoweroff\n',
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
        assert.equal(builders.instance(state.builderInstanceId as string)?.outcome, "stopped", "the script powered it off");
        const builder = (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [state.builderInstanceId as string] })))
            .Reservations![0].Instances![0];
        assert.equal(builder.State?.Name, "terminated");
        assert.equal(builder.ImageId, baseImageId);
    });

    it("a changed script replaces; a changed publish parameter updates", async () => {
        const same = await checked({}, state);
        assert.deepEqual((await hooks.diff(imageId, state as never, same)).changes, false);
        const script = await checked({ userData: '#!/bin/bash\necho v2\necho "golden-ami: success"\npoweroff\n' }, state);
        const d = await hooks.diff(imageId, state as never, script);
        assert.deepEqual(d.replaces, ["userData"], "name and buildHash are made from it: not causes");
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

    it("destroy of an image an instance uses fails naming it (image and parameter stay), and deletes both once free", async () => {
        const user = (await ec2.send(new RunInstancesCommand({ ImageId: imageId, MinCount: 1, MaxCount: 1 }))).Instances![0].InstanceId!;
        await assert.rejects(hooks.delete(imageId, state as never), new RegExp(`still in use: instance ${user}.*retainOnDelete`, "s"));
        assert.equal((await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images![0].State, "available");
        assert.equal((await readParameter(ssmClient(REGION), "/golden/integ/web2"))?.value, imageId, "its parameter stays too");
        await ec2.send(new TerminateInstancesCommand({ InstanceIds: [user] }));
        await hooks.delete(imageId, state as never);
        assert.equal(await readParameter(ssmClient(REGION), "/golden/integ/web2"), undefined);
        assert.deepEqual(leftBehind(baseline, await inventory(REGION)), { images: [], snapshots: [] });
    });

    it("a script that never powers off fails at the timeout with the console tail, and the builder is terminated", async () => {
        const inputs = await checked({
            buildTimeoutMinutes: 0.05,
            namePrefix: "integ-fail",
            userData: "#!/bin/bash\nset -e\nfalse\npoweroff\n",
        });
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

    const live = async () => (await findBuilders(ec2, OWNER)).map((i) => i.InstanceId);
    const launches = () => proxy.stats().byAction.RunInstances ?? 0;

    it("a script that powers off without the success marker is not baked", async () => {
        // `trap poweroff EXIT` powers the builder off even though `false` failed under set -e.
        const inputs = await checked({
            namePrefix: "integ-nomark",
            userData: "#!/bin/bash\nset -e\ntrap 'poweroff' EXIT\nfalse\necho never\n",
        });
        const err = await hooks.create(inputs).then(
            () => assert.fail("a failed script was baked"),
            (e) => e as Error,
        );
        assert.match(err.message, /powered off, but the provisioning script did not print "golden-ami: success"/);
        assert.match(err.message, /Last console output:[\s\S]*\+ false/);
        assert.deepEqual(await live(), []);
        assert.deepEqual(leftBehind(baseline, await inventory(REGION)).images, []);
    });

    it("without a script: the builder is stopped once its status checks pass, then baked", async () => {
        const inputs = await checked({ namePrefix: "integ-noscript", userData: undefined, publishParameter: undefined });
        assert.equal(inputs.userData, "");
        const r = await hooks.create(inputs);
        const b = builders.instance(r.outs.builderInstanceId as string)!;
        assert.equal(b.script.length, 0);
        const stopped = log.args.map((a) => String(a[0])).find((m) => /stopped after/.test(m));
        assert.ok(stopped, "progress says the builder stopped");
        assert.ok(Date.now() >= b.statusOkAt.getTime(), "stopped only after the status checks passed");
        assert.ok((proxy.stats().byAction.DescribeInstanceStatus ?? 0) > 0);
        assert.ok((proxy.stats().byAction.StopInstances ?? 0) > 0, "golden-ami stopped it");
        assert.deepEqual(await live(), []);
        await hooks.delete(r.id, r.outs as never);
        assert.deepEqual(leftBehind(baseline, await inventory(REGION)).images, []);
    });

    const TEST_OK = '#!/bin/bash\nset -e\ncurl -sf localhost\necho "golden-ami: success"\npoweroff\n';
    const TEST_FAIL = "#!/bin/bash\nset -e\necho testing\nfalse\npoweroff\n";
    let tested: { id: string; outs?: Record<string, unknown> };

    it("with a passing test: an instance of the new image runs the test, then the image is published", async () => {
        const inputs = await checked({ namePrefix: "integ-tested", test: { userData: TEST_OK }, testTimeoutMinutes: 0.2 });
        const before = launches();
        tested = await hooks.create(inputs);
        assert.equal(launches() - before, 2, "a builder and a test instance");
        assert.equal((await readParameter(ssmClient(REGION), "/golden/integ/web"))?.value, tested.id);
        const out = await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: "image-id", Values: [tested.id] }] }));
        const testInstance = out.Reservations!.flatMap((x) => x.Instances ?? [])[0];
        assert.equal(testInstance.State?.Name, "terminated");
        assert.ok(
            testInstance.Tags!.some((t) => t.Key === "golden-ami:builder" && t.Value === OWNER),
            "tagged like the builder",
        );
        assert.equal(builders.instance(testInstance.InstanceId!)?.outcome, "stopped");
        assert.deepEqual(await live(), []);
    });

    it("with a failing test: the untested image is removed, nothing is published, no instance is left", async () => {
        const inputs = await checked({
            namePrefix: "integ-tested",
            userData: "#!/bin/bash\necho v3\necho 'golden-ami: success'\npoweroff\n",
            test: { userData: TEST_FAIL },
            testTimeoutMinutes: 0.05,
        });
        const err = await hooks.create(inputs).then(
            () => assert.fail("an image that failed its test shipped"),
            (e) => e as Error,
        );
        assert.match(err.message, /testing the new image ami-\w+ \(test step\)/);
        assert.match(err.message, /the test of ami-\w+ failed \(test\.userData\): test instance i-\w+ was still running/);
        assert.match(err.message, /Last console output:[\s\S]*testing/);
        assert.match(err.message, /image ami-\w+ and its snapshots deleted/);
        assert.equal(
            (await readParameter(ssmClient(REGION), "/golden/integ/web"))?.value,
            tested.id,
            "the parameter still holds the tested image",
        );
        assert.deepEqual(await live(), []);
        const images = leftBehind(baseline, await inventory(REGION)).images.map((i) => i.id);
        assert.deepEqual(images, [tested.id], "only the tested image is left");
    });

    it("publish refuses a parameter another owner holds, before anything is launched; overwrite takes it over", async () => {
        const theirs = "/golden/integ/team-b";
        await ssmClient(REGION).send(
            new PutParameterCommand({ Name: theirs, Value: baseImageId, Type: "String", DataType: "aws:ec2:image" }),
        );
        const inputs = await checked({ namePrefix: "integ-theirs", publishParameter: theirs });
        const before = launches();
        await assert.rejects(
            hooks.create(inputs),
            new RegExp(`SSM parameter ${theirs} already exists and holds ${baseImageId}, which is not an image of this pipeline`),
        );
        assert.equal(launches(), before, "nothing was launched");
        assert.equal((await readParameter(ssmClient(REGION), theirs))?.value, baseImageId);
        // One that holds this pipeline's image is taken over.
        const ours = "/golden/integ/ours";
        await ssmClient(REGION).send(new PutParameterCommand({ Name: ours, Value: tested.id, Type: "String", DataType: "aws:ec2:image" }));
        const u = await hooks.update(
            tested.id,
            tested.outs as never,
            await checked(
                { namePrefix: "integ-tested", test: { userData: TEST_OK }, testTimeoutMinutes: 0.2, publishParameter: ours },
                tested.outs,
            ),
        );
        assert.equal(u.outs!.publishedImageId, tested.id);
        const over = await checked({ namePrefix: "integ-theirs", publishParameter: theirs, publishOverwrite: true });
        const r = await hooks.create(over);
        assert.equal((await readParameter(ssmClient(REGION), theirs))?.value, r.id);
        await hooks.delete(r.id, r.outs as never);
        assert.equal(await readParameter(ssmClient(REGION), theirs), undefined, "destroy deletes it while it holds this pipeline's image");
        await hooks.delete(tested.id, { ...tested.outs, publishParameter: ours } as never);
        assert.deepEqual(leftBehind(baseline, await inventory(REGION)), { images: [], snapshots: [] });
    });

    it("every EC2 action this file's builds called through the emulator is in the README's minimal policy", () => {
        const granted = new Set(readmePolicyActions());
        const called = Object.keys(proxy.stats().byAction).map((a) => `ec2:${a}`);
        assert.ok(called.includes("ec2:RunInstances") && called.includes("ec2:DescribeInstanceStatus"), called.join(" "));
        assert.deepEqual(
            called.filter((a) => !granted.has(a)),
            [],
        );
    });
});
