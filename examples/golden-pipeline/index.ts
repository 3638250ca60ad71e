// The whole golden-image job in one stack, reviewed as one `pulumi preview --diff`:
//   Amazon Linux 2023 (AWS's public SSM parameter) + provision.sh
//   → a builder instance runs the script and powers itself off
//   → the stopped builder is baked into an AMI, then terminated
//   → a copy in a second region
//   → the AMI id published as SSM parameter /golden/web/latest
//   → a launch template that launches whatever that parameter holds
//   → the pipeline's older images retired, keeping the newest 3.
//
//   pulumi config set aws:region us-east-1
//   pulumi config set copyRegion us-west-2          # optional
//   pulumi preview --diff                           # shows baseImageId and buildHash
//   pulumi up
//
// A new Amazon Linux release (the parameter moves) or an edit of provision.sh
// shows as a replacement in the next preview: the new image is made, the
// parameter switches to it, then the old image and its copy are deleted.
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { GoldenImage } from "golden-ami";

const config = new pulumi.Config();
const region = new pulumi.Config("aws").require("region");

const web = new GoldenImage("web", {
    baseImage: { ssmParameter: config.get("baseParameter") ?? "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64" },
    build: {
        instanceType: "t3.small",
        userData: fs.readFileSync(path.join(__dirname, "provision.sh"), "utf8"),
        timeoutMinutes: 30,
    },
    image: { tags: { App: "web" } },
    regions: [config.get("copyRegion") ?? "us-west-2"],
    publish: { ssmParameter: "/golden/web/latest" },
    keepLatest: 3,
});

// A launch template that takes its AMI from the parameter: instances launched
// from it (an Auto Scaling group, say) get the newest golden image without a
// new template version. With @pulumi/aws this is
//   new aws.ec2.LaunchTemplate("web", { imageId: "resolve:ssm:/golden/web/latest", instanceType: "t3.small" })
// This example has no @pulumi/aws dependency, so it makes the template with a
// few lines of dynamic provider.
interface TemplateInputs {
    region: string;
    name: string;
    imageId: string;
    instanceType: string;
}
const launchTemplates: pulumi.dynamic.ResourceProvider = {
    async create(inputs: TemplateInputs) {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const ec2 = require("@aws-sdk/client-ec2") as typeof import("@aws-sdk/client-ec2");
        const client = new ec2.EC2Client({ region: inputs.region });
        const out = await client.send(
            new ec2.CreateLaunchTemplateCommand({
                LaunchTemplateName: inputs.name,
                LaunchTemplateData: { ImageId: inputs.imageId, InstanceType: inputs.instanceType as never },
            }),
        );
        return { id: out.LaunchTemplate!.LaunchTemplateId!, outs: inputs };
    },
    async delete(id: string, props: TemplateInputs) {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const ec2 = require("@aws-sdk/client-ec2") as typeof import("@aws-sdk/client-ec2");
        await new ec2.EC2Client({ region: props.region }).send(new ec2.DeleteLaunchTemplateCommand({ LaunchTemplateId: id }));
    },
};
class LaunchTemplate extends pulumi.dynamic.Resource {
    constructor(name: string, props: pulumi.Inputs, opts?: pulumi.CustomResourceOptions) {
        super(launchTemplates, name, props, opts);
    }
}
const template = new LaunchTemplate(
    "web-template",
    { region, name: `web-${pulumi.getStack()}`, imageId: "resolve:ssm:/golden/web/latest", instanceType: "t3.small" },
    // The parameter must exist before the template names it; on destroy the template goes first.
    { dependsOn: [web] },
);

export const imageId = web.imageId;
export const imageIds = web.imageIds;
export const baseImageId = web.baseImageId;
export const buildHash = web.buildHash;
export const launchTemplateId = template.id;
