// AmiRetentionPolicy's hooks through the real AWS SDK against moto, with
// seeded images, instances and launch templates. Moto gaps covered by unit
// tests instead: no DescribeImages pagination, no deprecation or
// deregistration protection, no DisableImage, no lastLaunchedTime.
import {
    CreateImageCommand,
    CreateLaunchTemplateCommand,
    CreateTagsCommand,
    DeleteLaunchTemplateCommand,
    EC2Client,
    RunInstancesCommand,
    TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import assert from "node:assert/strict";
import { PutParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import * as sinon from "sinon";
import * as hooks from "../../dynamic-providers/retention-policy-hooks";
import { pendingEntries } from "../../sdk/retention-pending-entry";
import { createSourceInstance, inventory } from "../../scripts/lib/ec2-fixtures";

const REGION = "eu-central-1";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("AmiRetentionPolicy against moto", () => {
    const ec2 = new EC2Client({ region: REGION });
    const images: string[] = [];
    let log: sinon.SinonStub;
    const templates: string[] = [];
    const instances: string[] = [];

    before(async function () {
        this.timeout(60_000);
        const { instanceId } = await createSourceInstance(REGION);
        instances.push(instanceId);
        // EC2 creation dates have one-second resolution: space the images out.
        for (let n = 1; n <= 6; n++) {
            const r = await ec2.send(
                new CreateImageCommand({
                    InstanceId: instanceId,
                    Name: `integ-ret-${n}`,
                    TagSpecifications: [{ ResourceType: "image", Tags: [{ Key: "App", Value: "web" }] }],
                }),
            );
            images.push(r.ImageId!);
            await sleep(1100);
        }
        // image 1: the $Default of a launch template; image 2: an instance runs it
        const lt = await ec2.send(
            new CreateLaunchTemplateCommand({ LaunchTemplateName: "integ-web", LaunchTemplateData: { ImageId: images[0] } }),
        );
        templates.push(lt.LaunchTemplate!.LaunchTemplateId!);
        for (const [name, data] of [
            ["integ-no-image", { InstanceType: "t3.micro" as const }],
            ["integ-ssm", { ImageId: "resolve:ssm:/golden/web" }],
        ] as const) {
            const t = await ec2.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: name, LaunchTemplateData: data }));
            templates.push(t.LaunchTemplate!.LaunchTemplateId!);
        }
        const run = await ec2.send(new RunInstancesCommand({ ImageId: images[1], MinCount: 1, MaxCount: 1 }));
        instances.push(run.Instances![0].InstanceId!);
        // image 4: behind an SSM parameter a launch template resolves
        const ssm = new SSMClient({ region: REGION });
        await ssm.send(new PutParameterCommand({ Name: "/golden/web", Value: images[3], Type: "String", Overwrite: true }));
        ssm.destroy();
        // image 3: tagged to keep
        await ec2.send(new CreateTagsCommand({ Resources: [images[2]], Tags: [{ Key: "Retain", Value: "true" }] }));
    });
    after(async () => {
        for (const t of templates) await ec2.send(new DeleteLaunchTemplateCommand({ LaunchTemplateId: t }));
        await ec2.send(new TerminateInstancesCommand({ InstanceIds: instances }));
        ec2.destroy();
    });
    beforeEach(() => {
        log = sinon.stub(console, "log");
    });
    afterEach(() => log.restore());

    const settings = {
        regions: [REGION],
        selector: { namePattern: "integ-ret-*", tags: { App: "web" } },
        keepLatest: 1,
        exclude: { tags: { Retain: "true" } },
    };

    it("plans exactly the images that are neither kept, excluded nor in use (by an instance, a template, or a template through SSM)", async () => {
        const r = await hooks.check({}, settings);
        assert.deepEqual(r.failures, undefined);
        // 6 newest is kept; 1 (launch template), 2 (instance), 3 (Retain), 4 (template via SSM) are excluded
        const listed = pendingEntries(r.inputs.pending);
        assert.deepEqual(
            listed.map((p) => p.imageId),
            [images[4]],
        );
        // One line per image; its why leaves out the group (listed with it) and keepLatest (an input beside it).
        for (const p of listed) assert.match(p.reason, /^\d+(st|nd|rd|th) newest$/);
        assert.deepEqual(
            listed.map((p) => p.group),
            ["eu-central-1"],
        );
    });

    it("up retires it with its snapshot, leaves the rest, and a second plan is empty", async () => {
        const before = await inventory(REGION);
        const { inputs } = await hooks.check({}, settings);
        const r = await hooks.update("policy", inputs, inputs);
        assert.deepEqual(
            r.outs.lastRun.retired.map((x: { imageId: string }) => x.imageId),
            [images[4]],
        );
        assert.deepEqual(r.outs.lastRun.failed, []);
        const after = await inventory(REGION);
        const left = after.images.map((i: { id: string }) => i.id);
        assert.deepEqual(
            left.filter((i: string) => images.includes(i)).sort(),
            [images[0], images[1], images[2], images[3], images[5]].sort(),
        );
        assert.equal(before.snapshots.length - after.snapshots.length, 1, "its snapshot is gone");
        assert.equal(r.outs.lastRun.snapshotsDeleted.length, 1);

        const again = await hooks.check(inputs, settings);
        assert.equal(again.inputs.pending.total, 0);
        const d = await hooks.diff("policy", r.outs as never, again.inputs as never);
        assert.equal(d.changes, false, "a second up changes nothing");
    });

    it("a newer image pushes the next one out", async () => {
        const r = await ec2.send(
            new CreateImageCommand({
                InstanceId: instances[0],
                Name: "integ-ret-7",
                TagSpecifications: [{ ResourceType: "image", Tags: [{ Key: "App", Value: "web" }] }],
            }),
        );
        images.push(r.ImageId!);
        const { inputs } = await hooks.check({}, settings);
        assert.deepEqual(
            pendingEntries(inputs.pending).map((p) => p.imageId),
            [images[5]],
        );
    });
});
