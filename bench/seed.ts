// The account every contender of the retention benchmark starts from, seeded
// straight into each region's moto (uncounted): AMIs of every age, some used
// by instances, some by launch templates that Auto Scaling groups launch from.
//
// Images carry no tags: moto looks up an image's tags by scanning every tag
// of the region, so tagged images make each DescribeImages cost O(images²)
// in the emulator, a cost real EC2 does not have. The policy selects by name.
import {
    CreateImageCommand,
    CreateLaunchTemplateCommand,
    CreateSnapshotCommand,
    CreateVolumeCommand,
    DescribeImagesCommand,
    DescribeSnapshotsCommand,
    EC2Client,
    RegisterImageCommand,
    RunInstancesCommand,
} from "@aws-sdk/client-ec2";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import pLimit from "p-limit";

const DAY_MS = 86_400_000;

/** Creation dates are "now" minus the age in the name: moto stamps every image with the second it was made. */
export function creationDateFromName(epoch: number): (name: string) => string | undefined {
    return (name) => {
        const m = /^bench-a(\d+)m-i\d+$/.exec(name);
        return m ? new Date(epoch - Number(m[1]) * 60_000).toISOString() : undefined;
    };
}

export interface SeedPlan {
    images: number;
    /** Age in days of image i (0 = the newest). */
    ageDays(i: number): number;
    /** Indices of images instances run from, and of images launch templates (used by ASGs) name. */
    instanceImages: number[];
    templateImages: number[];
}

/**
 * The retention data set: ages spread evenly over a year, none within half a
 * day of `maxAgeDays` (so that both golden-ami's `maxAgeDays` and Cloud
 * Custodian's `image-age` see the same side of the line however long the
 * bench takes); a few old images in use.
 */
export function retentionPlan(images: number, maxAgeDays: number, instances: number, templates: number): SeedPlan {
    const step = 365 / images;
    const ageDays = (i: number) => {
        const a = i * step;
        return Math.abs(a - maxAgeDays) < 0.5 ? a + 1 : a;
    };
    const old = (k: number, salt: number) => images - 1 - ((k * 37 + salt) % Math.floor(images * 0.8));
    return {
        images,
        ageDays,
        instanceImages: Array.from({ length: instances }, (_, k) => old(k, 0)),
        templateImages: Array.from({ length: templates }, (_, k) => old(k, 11)),
    };
}

/** The 10,000-AMI data set: every image but the newest older than `maxAgeDays`, none in use. */
export function allOldPlan(images: number, maxAgeDays: number): SeedPlan {
    return {
        images,
        ageDays: (i) => (i === 0 ? 0 : maxAgeDays + 1 + (i * 365) / images),
        instanceImages: [],
        templateImages: [],
    };
}

export function imageName(plan: SeedPlan, i: number): string {
    return `bench-a${String(Math.round(plan.ageDays(i) * 1440)).padStart(7, "0")}m-i${String(i).padStart(5, "0")}`;
}

/**
 * Seeds one region through `endpoint` (the region's moto, or its cache in
 * front of it). Auto Scaling groups are made with boto3 from `python`
 * (the bench's venv), since the repository has no Auto Scaling client.
 */
export async function seedRegion(
    endpoint: string,
    region: string,
    plan: SeedPlan,
    python?: string,
    baseName = `base-${region}`,
): Promise<void> {
    const ec2 = new EC2Client({ region, endpoint, credentials: { accessKeyId: "testing", secretAccessKey: "testing" } });
    try {
        const volume = await ec2.send(new CreateVolumeCommand({ AvailabilityZone: `${region}a`, Size: 8 }));
        const snapshot = await ec2.send(new CreateSnapshotCommand({ VolumeId: volume.VolumeId }));
        const base = await ec2.send(
            new RegisterImageCommand({
                Name: baseName,
                RootDeviceName: "/dev/xvda",
                Architecture: "x86_64",
                VirtualizationType: "hvm",
                BlockDeviceMappings: [{ DeviceName: "/dev/xvda", Ebs: { SnapshotId: snapshot.SnapshotId } }],
            }),
        );
        const source = await ec2.send(new RunInstancesCommand({ ImageId: base.ImageId, MinCount: 1, MaxCount: 1 }));
        const instanceId = source.Instances![0].InstanceId!;
        const ids: string[] = new Array(plan.images);
        const limit = pLimit(8);
        await Promise.all(
            Array.from({ length: plan.images }, (_, i) =>
                limit(async () => {
                    const out = await ec2.send(new CreateImageCommand({ InstanceId: instanceId, Name: imageName(plan, i) }));
                    ids[i] = out.ImageId!;
                }),
            ),
        );
        for (const i of plan.instanceImages) await ec2.send(new RunInstancesCommand({ ImageId: ids[i], MinCount: 1, MaxCount: 1 }));
        const templateIds: string[] = [];
        for (const [k, i] of plan.templateImages.entries()) {
            const t = await ec2.send(
                new CreateLaunchTemplateCommand({ LaunchTemplateName: `bench-${k}`, LaunchTemplateData: { ImageId: ids[i] } }),
            );
            templateIds.push(t.LaunchTemplate!.LaunchTemplateId!);
        }
        if (templateIds.length > 0) await createAutoScalingGroups(endpoint, region, templateIds, python);
    } finally {
        ec2.destroy();
    }
}

/** Asynchronous: the endpoint may be served by this very process (the bench's answer cache). */
async function createAutoScalingGroups(endpoint: string, region: string, templateIds: string[], python?: string): Promise<void> {
    if (!python) throw new Error("seeding launch templates needs the bench venv's python (boto3) for their Auto Scaling groups");
    const script = [
        "import boto3, json, sys",
        "a = json.loads(sys.argv[1])",
        "c = boto3.client('autoscaling', region_name=a['region'], endpoint_url=a['endpoint'], aws_access_key_id='testing', aws_secret_access_key='testing')",
        "for k, t in enumerate(a['templates']):",
        "    c.create_auto_scaling_group(AutoScalingGroupName=f'bench-{k}', LaunchTemplate={'LaunchTemplateId': t, 'Version': '$Default'},",
        "        MinSize=0, MaxSize=0, DesiredCapacity=0, AvailabilityZones=[a['region'] + 'a'])",
    ].join("\n");
    try {
        await promisify(execFile)(python, ["-c", script, JSON.stringify({ region, endpoint, templates: templateIds })]);
    } catch (e) {
        throw new Error(`creating Auto Scaling groups in ${region} failed: ${(e as { stderr?: string }).stderr ?? e}`, { cause: e });
    }
}

/** Names of the bench images left (not deregistered), and how many snapshots the account has. */
export async function survey(endpoint: string, region: string): Promise<{ names: Set<string>; snapshots: number; imageSnapshots: number }> {
    const ec2 = new EC2Client({ region, endpoint, credentials: { accessKeyId: "testing", secretAccessKey: "testing" } });
    try {
        const images = (await ec2.send(new DescribeImagesCommand({ Owners: ["self"] }))).Images ?? [];
        const live = images.filter((i) => i.State !== "deregistered");
        const snapshots = (await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ["self"] }))).Snapshots ?? [];
        const used = new Set(live.flatMap((i) => (i.BlockDeviceMappings ?? []).map((m) => m.Ebs?.SnapshotId)));
        return {
            names: new Set(live.filter((i) => i.Name?.startsWith("bench-")).map((i) => `${region}/${i.Name}`)),
            snapshots: snapshots.length,
            imageSnapshots: snapshots.filter((s) => used.has(s.SnapshotId)).length,
        };
    } finally {
        ec2.destroy();
    }
}

export { DAY_MS };
