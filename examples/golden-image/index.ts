// The classic golden-image workflow, as one stack:
//   an instance (made by your provisioning, e.g. Packer or an aws.ec2.Instance)
//   → an AMI baked from it without a reboot, tagged with version and environment
//   → a copy in the disaster-recovery region, encrypted with a KMS key there
//   → a retention policy that replaces "deregister AMIs older than 30 days",
//     snapshots included, and never touches the images this stack manages
//   → both image ids published as SSM parameters (`aws:ec2:image`), the way
//     AWS recommends handing golden AMIs to launch templates.
//
//   pulumi config set aws:region us-east-1
//   pulumi config set sourceInstanceId i-0123456789abcdef0   # or use aws.ec2.Instance(...).id
//   pulumi config set drRegion us-west-2
//   pulumi config set drKmsKey alias/ami-dr                   # a key in the DR region
//   pulumi up
import * as pulumi from "@pulumi/pulumi";
import { AmiCopy, AmiFromInstance, AmiRetentionPolicy } from "golden-ami";

const config = new pulumi.Config();
const region = new pulumi.Config("aws").require("region");
const version = config.get("version") ?? "1.0.0";
const environment = pulumi.getStack();

const golden = new AmiFromInstance("web", {
    sourceInstanceId: config.require("sourceInstanceId"),
    snapshotWithoutReboot: true,
    description: `web ${version} (${environment})`,
    tags: { App: "web", Version: version, Environment: environment },
    // A new bake writes the new id here first; only then is the old image deleted.
    publish: { ssmParameter: `/golden/web/${environment}` },
});

const dr = new AmiCopy("web-dr", {
    sourceAmiId: golden.imageId,
    sourceAmiRegion: region,
    region: config.get("drRegion") ?? "us-west-2",
    encrypted: true,
    kmsKeyId: config.get("drKmsKey"),
    copyImageTags: true,
    tags: { Role: "disaster-recovery" },
    publish: { ssmParameter: `/golden/web/${environment}` }, // the same name, in the DR region
});

// Was: a cron job running describe-images | deregister-image for AMIs older than 30 days.
const retention = new AmiRetentionPolicy("web-retention", {
    selector: { tags: { App: "web" } },
    keepLatest: 3,
    maxAgeDays: 30,
    exclude: { imageIds: [golden.imageId], tags: { Retain: "true" } },
});

// Consumers read the parameter, never the id: with @pulumi/aws,
//
//   new aws.ec2.LaunchTemplate("web", {
//       imageId: pulumi.interpolate`resolve:ssm:${golden.publishedParameter}`,
//       instanceType: "t3.micro",
//   });
//
// launches then always get the current golden image with no change to the
// template (and AmiRetentionPolicy counts the parameter's image as in use).
export const imageId = golden.imageId;
export const parameter = golden.publishedParameter;
export const drImageId = dr.imageId;
export const retiredNext = retention.pending;
