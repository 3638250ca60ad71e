// For unit tests of hooks that delete images: the guard (ec2/delete-image.ts)
// asks the reference finder and the image's sharing first. This answers
// "nothing uses it" from every source, on the file's own EC2 mock and fresh
// Auto Scaling and SSM mocks.
import { AutoScalingClient, DescribeAutoScalingGroupsCommand, DescribeLaunchConfigurationsCommand } from "@aws-sdk/client-auto-scaling";
import {
    DescribeFleetsCommand,
    DescribeImageAttributeCommand,
    DescribeImageReferencesCommand,
    DescribeInstancesCommand,
    DescribeLaunchTemplateVersionsCommand,
    DescribeSpotFleetRequestsCommand,
    EC2Client,
} from "@aws-sdk/client-ec2";
import { DescribeParametersCommand, SSMClient } from "@aws-sdk/client-ssm";
import { AwsStub, mockClient } from "aws-sdk-client-mock";

/** Call in `beforeEach`, after the file's `ec2.reset()`: every reference source answers nothing, the image is shared with no one. */
export function nothingUsesImages(ec2: AwsStub<any, any, any>, options: { ssm?: boolean } = {}): void {
    ec2.on(DescribeImageReferencesCommand).resolves({ ImageReferences: [] });
    // Only the enumeration's listing of live instances: a file's own DescribeInstances answers (a source instance) stay.
    ec2.on(DescribeInstancesCommand, {
        Filters: [{ Name: "instance-state-name", Values: ["pending", "running", "shutting-down", "stopping", "stopped"] }],
    }).resolves({ Reservations: [] });
    ec2.on(DescribeLaunchTemplateVersionsCommand).resolves({ LaunchTemplateVersions: [] });
    ec2.on(DescribeFleetsCommand).resolves({ Fleets: [] });
    ec2.on(DescribeSpotFleetRequestsCommand).resolves({ SpotFleetRequestConfigs: [] });
    ec2.on(DescribeImageAttributeCommand, { Attribute: "launchPermission" }).resolves({ LaunchPermissions: [] });
    const asg = mockClient(AutoScalingClient);
    asg.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [] });
    asg.on(DescribeLaunchConfigurationsCommand).resolves({ LaunchConfigurations: [] });
    // A file that mocks SSM itself says so, and answers DescribeParameters on its own mock.
    if (options.ssm !== false) mockClient(SSMClient).on(DescribeParametersCommand).resolves({ Parameters: [] });
}

export type { EC2Client };
