// AmiRetentionPolicy's inventory finds every kind of reference (issue 12),
// through the real AWS SDK against moto behind the emulator proxy, once with
// DescribeImageReferences emulated and once with the endpoint answering it
// InvalidAction (the direct enumeration), and once against moto's own answer
// to an action it has not implemented (an HTTP 500 page). Auto Scaling and
// SSM are moto's own.
import {
    AutoScalingClient,
    CreateAutoScalingGroupCommand,
    CreateLaunchConfigurationCommand,
    DeleteAutoScalingGroupCommand,
    DeleteLaunchConfigurationCommand,
} from "@aws-sdk/client-auto-scaling";
import {
    CreateImageCommand,
    CreateLaunchTemplateCommand,
    CreateLaunchTemplateVersionCommand,
    DeleteLaunchTemplateCommand,
    EC2Client,
    ModifyImageAttributeCommand,
    ModifyLaunchTemplateCommand,
    RunInstancesCommand,
    TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import { DeleteParameterCommand, PutParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import assert from "node:assert/strict";
import * as sinon from "sinon";
import * as hooks from "../../dynamic-providers/retention-policy";
import { Ec2Proxy, startEc2Proxy } from "../../emulator/ec2-proxy";
import type { Handler } from "../../emulator/handler";
import { imageReferencesHandler } from "../../emulator/references";
import { ec2Error } from "../../emulator/xml";
import { motoEnv } from "../../scripts/lib/moto";
import { createSourceInstance, inventory } from "../../scripts/lib/ec2-fixtures";
import { currentMoto } from "../support/moto-hooks";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
type Mode = "emulate" | "unsupported" | "moto";

/** Every kind of reference the issue names, plus unreferenced old images, in one region. */
export async function seedReferences(region: string, prefix: string) {
    const ec2 = new EC2Client({ region });
    const asg = new AutoScalingClient({ region });
    const ssm = new SSMClient({ region });
    const { instanceId, baseImageId } = await createSourceInstance(region);
    const images: string[] = [];
    for (let n = 0; n < 10; n++) {
        const r = await ec2.send(new CreateImageCommand({ InstanceId: instanceId, Name: `${prefix}-${n}` }));
        images.push(r.ImageId!);
        await sleep(1100); // creation dates have one-second resolution
    }
    const cleanup: (() => Promise<unknown>)[] = [];
    const template = async (name: string, imageId: string) => {
        const t = await ec2.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: name, LaunchTemplateData: { ImageId: imageId } }));
        const id = t.LaunchTemplate!.LaunchTemplateId!;
        cleanup.push(() => ec2.send(new DeleteLaunchTemplateCommand({ LaunchTemplateId: id })));
        return id;
    };
    /** Version 2 (the base image) becomes $Default: version 1 is only reachable by its number. */
    const moveDefault = async (id: string) => {
        await ec2.send(new CreateLaunchTemplateVersionCommand({ LaunchTemplateId: id, LaunchTemplateData: { ImageId: baseImageId } }));
        await ec2.send(new ModifyLaunchTemplateCommand({ LaunchTemplateId: id, DefaultVersion: "2" }));
    };
    const az = `${region}a`;
    const group = async (name: string, extra: object) => {
        await asg.send(
            new CreateAutoScalingGroupCommand({
                AutoScalingGroupName: name,
                MinSize: 0,
                MaxSize: 1,
                DesiredCapacity: 0,
                AvailabilityZones: [az],
                ...extra,
            }),
        );
        cleanup.push(() => asg.send(new DeleteAutoScalingGroupCommand({ AutoScalingGroupName: name, ForceDelete: true })));
    };
    // 0: an Auto Scaling group pinned to launch-template version 1; $Default moved on
    const pinned = await template(`${prefix}-pinned`, images[0]);
    await moveDefault(pinned);
    await group(`${prefix}-pinned`, { LaunchTemplate: { LaunchTemplateId: pinned, Version: "1" } });
    // 1: a MixedInstancesPolicy override's launch template, version 1 ($Default moved on)
    const main = await template(`${prefix}-mixed-main`, baseImageId);
    const override = await template(`${prefix}-mixed-override`, images[1]);
    await moveDefault(override);
    await group(`${prefix}-mixed`, {
        MixedInstancesPolicy: {
            LaunchTemplate: {
                LaunchTemplateSpecification: { LaunchTemplateId: main, Version: "$Default" },
                Overrides: [
                    { InstanceType: "t3.micro" },
                    { InstanceType: "m5.large", LaunchTemplateSpecification: { LaunchTemplateId: override, Version: "1" } },
                ],
            },
        },
    });
    // 2: the launch configuration of a legacy Auto Scaling group
    await asg.send(
        new CreateLaunchConfigurationCommand({ LaunchConfigurationName: `${prefix}-lc`, ImageId: images[2], InstanceType: "t3.micro" }),
    );
    cleanup.push(() => asg.send(new DeleteLaunchConfigurationCommand({ LaunchConfigurationName: `${prefix}-lc` })));
    await group(`${prefix}-legacy`, { LaunchConfigurationName: `${prefix}-lc` });
    // 3: an SSM parameter of data type aws:ec2:image that consumers resolve
    const parameter = `/${prefix}/web/ami`;
    await ssm.send(
        new PutParameterCommand({ Name: parameter, Value: images[3], Type: "String", DataType: "aws:ec2:image", Overwrite: true }),
    );
    cleanup.push(() => ssm.send(new DeleteParameterCommand({ Name: parameter })));
    // 4: a running instance
    const run = await ec2.send(new RunInstancesCommand({ ImageId: images[4], InstanceType: "t3.micro", MinCount: 1, MaxCount: 1 }));
    const running = run.Instances![0].InstanceId!;
    cleanup.push(() => ec2.send(new TerminateInstancesCommand({ InstanceIds: [running, instanceId] })));
    // 5: shared with another account
    await ec2.send(new ModifyImageAttributeCommand({ ImageId: images[5], LaunchPermission: { Add: [{ UserId: "444455556666" }] } }));
    // 6, 7: old and referenced by nothing; 8, 9: the two newest (keepLatest 2)
    return {
        images,
        referenced: images.slice(0, 6),
        unreferenced: [images[6], images[7]],
        parameter,
        running,
        async cleanup() {
            for (const c of cleanup.reverse()) await c();
            ec2.destroy();
            asg.destroy();
            ssm.destroy();
        },
    };
}

/** The reason each referenced image (by index) is kept, in every mode. */
function expectedReasons(prefix: string, running: string, parameter: string): RegExp[] {
    return [
        new RegExp(`in use: .*launch template lt-[0-9a-f]+ \\(version 1, pinned by Auto Scaling group ${prefix}-pinned\\)`),
        new RegExp(
            `in use: .*launch template lt-[0-9a-f]+ \\(version 1, pinned by an override \\(m5\\.large\\) of Auto Scaling group ${prefix}-mixed\\)`,
        ),
        new RegExp(`in use: .*launch configuration ${prefix}-lc \\(of Auto Scaling group ${prefix}-legacy\\)`),
        new RegExp(`in use: .*SSM parameter ${parameter.replace(/\//g, "\\/")}`),
        new RegExp(`in use: .*instance ${running}`),
        /shared with account 444455556666/,
    ];
}

describe("retention inventory finds every kind of reference (moto, emulator proxy)", () => {
    let proxy: Ec2Proxy;
    let mode: Mode = "emulate";
    let fleetsRefused = false;
    const emulate = imageReferencesHandler({ imageReferences: "emulate" });
    const unsupported = imageReferencesHandler({ imageReferences: "unsupported" });
    const handler: Handler = async (ctx) => {
        if (fleetsRefused && ctx.action === "DescribeFleets")
            return ec2Error(403, "UnauthorizedOperation", "You are not authorized to perform this operation.");
        if (mode === "moto") return undefined; // moto's own answer: an HTTP 500 page
        return (mode === "emulate" ? emulate : unsupported)(ctx);
    };
    const saved: Record<string, string | undefined> = {};
    let log: sinon.SinonStub;
    const seeds: Record<string, Awaited<ReturnType<typeof seedReferences>>> = {};
    // One region per mode that retires (clients are cached per region, so each keeps the proxy's endpoint).
    const REGIONS: Record<Mode, string> = { emulate: "eu-west-2", unsupported: "ap-northeast-2", moto: "ap-northeast-3" };

    before(async function () {
        this.timeout(120_000);
        proxy = await startEc2Proxy({ target: currentMoto().endpoint, handlers: [handler] });
        const env = motoEnv(proxy.endpoint);
        for (const k of Object.keys(env)) saved[k] = process.env[k];
        Object.assign(process.env, env);
        for (const [m, region] of Object.entries(REGIONS)) seeds[m] = await seedReferences(region, `refs-int-${m}`);
    });
    after(async function () {
        this.timeout(60_000);
        for (const [k, v] of Object.entries(saved)) {
            if (v === undefined) delete process.env[k];
            else process.env[k] = v;
        }
        for (const s of Object.values(seeds)) await s.cleanup();
        await proxy.stop();
    });
    beforeEach(() => {
        log = sinon.stub(console, "log");
        fleetsRefused = false;
    });
    afterEach(() => log.restore());

    const settings = (m: Mode) => ({ regions: [REGIONS[m]], selector: { namePattern: `refs-int-${m}-*` }, keepLatest: 2 });

    for (const m of ["emulate", "unsupported", "moto"] as const) {
        const label = {
            emulate: "with DescribeImageReferences",
            unsupported: "without it (InvalidAction)",
            moto: "against moto's HTTP 500 page",
        }[m];
        describe(label, () => {
            before(() => {
                mode = m;
            });

            it("plans exactly the unreferenced old images, and says why each referenced one is kept", async () => {
                mode = m;
                const s = seeds[m];
                const before = proxy.stats().byAction.DescribeImageReferences ?? 0;
                const instancesBefore = proxy.stats().byAction.DescribeInstances ?? 0;
                const r = await hooks.check({}, settings(m));
                assert.deepEqual(r.failures, undefined);
                assert.deepEqual(r.inputs.pending.map((p: { imageId: string }) => p.imageId).sort(), [...s.unreferenced].sort());
                // DescribeImageReferences was asked (about the candidates only, ten at a time).
                assert.ok((proxy.stats().byAction.DescribeImageReferences ?? 0) > before, "DescribeImageReferences was tried");
                // Instances are enumerated directly only where the endpoint lacks the reference check.
                const enumerated = (proxy.stats().byAction.DescribeInstances ?? 0) > instancesBefore;
                assert.equal(enumerated, m !== "emulate", "instances enumerated directly only without DescribeImageReferences");

                const plan = await hooks.computePlan(r.inputs as never, new Date());
                const reasons = expectedReasons(`refs-int-${m}`, s.running, s.parameter);
                s.referenced.forEach((imageId, i) => {
                    const skipped = plan.skipped.find((k) => k.imageId === imageId);
                    assert.ok(skipped, `image ${i} (${imageId}) is reported as kept: ${JSON.stringify(plan.skipped)}`);
                    assert.match(skipped.reason, reasons[i], `image ${i}`);
                });
            });

            it("up retires them and none of the referenced images", async () => {
                mode = m;
                const s = seeds[m];
                const { inputs } = await hooks.check({}, settings(m));
                const r = await hooks.update("policy", inputs, inputs);
                assert.deepEqual(r.outs.lastRun.failed, []);
                assert.deepEqual(r.outs.lastRun.retired.map((x: { imageId: string }) => x.imageId).sort(), [...s.unreferenced].sort());
                const left = new Set((await inventory(REGIONS[m])).images.map((i: { id: string }) => i.id));
                for (const id of s.referenced) assert.ok(left.has(id), `${id} is still there`);
                for (const id of s.unreferenced) assert.ok(!left.has(id), `${id} is gone`);
                const again = await hooks.check(inputs, settings(m));
                assert.deepEqual(again.inputs.pending, []);
            });
        });
    }

    it("a source that cannot be read stops the plan, naming the action and the IAM permission", async () => {
        mode = "emulate";
        fleetsRefused = true;
        const r = await hooks.check({}, { ...settings("emulate"), keepLatest: 1 });
        assert.equal(r.failures?.length, 1);
        assert.match(r.failures![0].reason, /DescribeFleets failed \(UnauthorizedOperation\).*grant ec2:DescribeFleets/);
    });
});
