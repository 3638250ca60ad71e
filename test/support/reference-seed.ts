// Seeds one region with every kind of reference to an image that issue 12
// names, plus unreferenced old images, and says why each referenced one must
// be kept: shared by the integration and the end-to-end retention tests.
import {
    AutoScalingClient,
    CreateAutoScalingGroupCommand,
    CreateLaunchConfigurationCommand,
    DeleteAutoScalingGroupCommand,
    DeleteLaunchConfigurationCommand,
} from "@aws-sdk/client-auto-scaling";
import {
    waitUntilImageAvailable,
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
import { createSourceInstance } from "../../scripts/lib/ec2-fixtures";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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
    // EC2 launches (and SSM accepts as aws:ec2:image) only available images.
    await waitUntilImageAvailable({ client: ec2, maxWaitTime: 120, minDelay: 1, maxDelay: 2 }, { ImageIds: images });
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
export function expectedReasons(prefix: string, running: string, parameter: string): RegExp[] {
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
