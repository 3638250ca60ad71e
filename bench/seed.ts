// The account every contender of the retention benchmark starts from, seeded
// through each region's proxy (uncounted by the router), whose image service
// makes images as EC2 does, one snapshot per volume: AMIs of every age, one
// in five with two data volumes besides its root (three snapshots), some
// used by instances, some by launch templates that Auto Scaling groups launch
// from. The policy selects by name; images carry no tags.
import {
    CreateImageCommand,
    CreateLaunchTemplateCommand,
    CreateSnapshotCommand,
    CreateVolumeCommand,
    EC2Client,
    Image,
    paginateDescribeImages,
    paginateDescribeSnapshots,
    RegisterImageCommand,
    RunInstancesCommand,
} from "@aws-sdk/client-ec2";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import pLimit from "p-limit";

const DAY_MS = 86_400_000;

/** Creation dates are "now" minus the age in the name: the emulator stamps every image with the second it was made. */
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

/** Image i of a plan is made from the instance with data volumes when this holds: one in five. */
export const withDataVolumes = (i: number) => i % 5 === 2;

/** The data volumes of that instance, besides its 8 GiB root: what production images carry (issue "images as EC2 makes them"). */
export const DATA_VOLUMES = [
    { DeviceName: "/dev/sdf", Ebs: { VolumeSize: 20, VolumeType: "gp3" as const, DeleteOnTermination: true } },
    { DeviceName: "/dev/sdg", Ebs: { VolumeSize: 5, VolumeType: "gp2" as const, DeleteOnTermination: true } },
];

/**
 * Seeds one region through `endpoint` (the region's proxy, not counted by the
 * router). Auto Scaling groups are made with boto3 from `python` (the bench's
 * venv), since the repository has no Auto Scaling client.
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
        const launch = async (extra: typeof DATA_VOLUMES = []) =>
            (await ec2.send(new RunInstancesCommand({ ImageId: base.ImageId, MinCount: 1, MaxCount: 1, BlockDeviceMappings: extra })))
                .Instances![0].InstanceId!;
        const rootOnly = await launch();
        const withData = await launch(DATA_VOLUMES);
        const ids: string[] = new Array(plan.images);
        const limit = pLimit(8);
        await Promise.all(
            Array.from({ length: plan.images }, (_, i) =>
                limit(async () => {
                    const out = await ec2.send(
                        new CreateImageCommand({
                            InstanceId: withDataVolumes(i) ? withData : rootOnly,
                            Name: imageName(plan, i),
                            NoReboot: true,
                        }),
                    );
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

/**
 * Names of the bench images left (not deregistered), how many snapshots the
 * account has, how many of them live images map, and how many images have
 * more than one snapshot. Every page of both listings.
 */
export async function survey(
    endpoint: string,
    region: string,
): Promise<{ names: Set<string>; snapshots: number; imageSnapshots: number; multiVolumeImages: number }> {
    const ec2 = new EC2Client({ region, endpoint, credentials: { accessKeyId: "testing", secretAccessKey: "testing" } });
    try {
        const images: Image[] = [];
        for await (const page of paginateDescribeImages({ client: ec2, pageSize: 1000 }, { Owners: ["self"] }))
            images.push(...(page.Images ?? []));
        const live = images.filter((i) => i.State !== "deregistered");
        const snapshots: string[] = [];
        for await (const page of paginateDescribeSnapshots({ client: ec2, pageSize: 1000 }, { OwnerIds: ["self"] }))
            snapshots.push(...(page.Snapshots ?? []).map((s) => s.SnapshotId!));
        const snapshotsOf = (i: Image) => (i.BlockDeviceMappings ?? []).map((m) => m.Ebs?.SnapshotId).filter(Boolean);
        const used = new Set(live.flatMap(snapshotsOf));
        return {
            names: new Set(live.filter((i) => i.Name?.startsWith("bench-")).map((i) => `${region}/${i.Name}`)),
            snapshots: snapshots.length,
            imageSnapshots: snapshots.filter((s) => used.has(s)).length,
            multiVolumeImages: live.filter((i) => i.Name?.startsWith("bench-") && snapshotsOf(i).length > 1).length,
        };
    } finally {
        ec2.destroy();
    }
}

export { DAY_MS };
