// DescribeImageReferences as the emulator (emulator/references.ts) answers
// it from moto's data, through the real AWS SDK.
import {
    CreateImageCommand,
    CreateLaunchTemplateCommand,
    CreateLaunchTemplateVersionCommand,
    DeleteLaunchTemplateCommand,
    DeleteSnapshotCommand,
    DeleteVolumeCommand,
    DeregisterImageCommand,
    DescribeImageReferencesCommand,
    DescribeImageReferencesCommandInput,
    DescribeImagesCommand,
    DescribeSnapshotsCommand,
    EC2Client,
    ImageReference,
    paginateDescribeImageReferences,
    RunInstancesCommand,
    TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import { DeleteParametersCommand, PutParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import assert from "node:assert/strict";
import { Ec2Proxy, startEc2Proxy } from "../../emulator/ec2-proxy";
import { DEFAULT_PAGE_SIZE, imageReferencesHandler, ReferencesOptions } from "../../emulator/references";
import { createSourceInstance, inventory, leftBehind } from "../../scripts/lib/ec2-fixtures";
import { currentMoto } from "../support/moto-hooks";

const REGION = "us-east-1";
const ACCOUNT = "123456789012"; // moto's default account

describe("emulator: DescribeImageReferences", () => {
    let direct: EC2Client;
    let ssm: SSMClient;
    let proxy: Ec2Proxy;
    let ec2: EC2Client;
    let before0: Awaited<ReturnType<typeof inventory>>;
    let source: { instanceId: string; baseImageId: string; baseSnapshotId: string };
    const instances: string[] = [];
    const templates: string[] = [];
    const parameters: string[] = [];
    const images: string[] = [];
    const tag = `refs-${process.pid}-${Date.now()}`;
    let n = 0;

    async function through(options: ReferencesOptions = {}) {
        await proxy?.stop();
        ec2?.destroy();
        proxy = await startEc2Proxy({ target: currentMoto().endpoint, handlers: [imageReferencesHandler(options)] });
        ec2 = new EC2Client({ region: REGION, endpoint: proxy.endpoint, maxAttempts: 1 });
    }

    async function newImage(): Promise<string> {
        const { ImageId } = await direct.send(new CreateImageCommand({ InstanceId: source.instanceId, Name: `${tag}-${++n}` }));
        images.push(ImageId!);
        return ImageId!;
    }

    async function launch(imageId: string): Promise<string> {
        const run = await direct.send(new RunInstancesCommand({ ImageId: imageId, InstanceType: "t3.micro", MinCount: 1, MaxCount: 1 }));
        const id = run.Instances![0].InstanceId!;
        instances.push(id);
        return id;
    }

    /** A launch template whose versions name these images, oldest first; returns its id. */
    async function template(imageIds: string[]): Promise<string> {
        const made = await direct.send(
            new CreateLaunchTemplateCommand({ LaunchTemplateName: `${tag}-${++n}`, LaunchTemplateData: { ImageId: imageIds[0] } }),
        );
        const id = made.LaunchTemplate!.LaunchTemplateId!;
        templates.push(id);
        for (const imageId of imageIds.slice(1)) {
            await direct.send(new CreateLaunchTemplateVersionCommand({ LaunchTemplateId: id, LaunchTemplateData: { ImageId: imageId } }));
        }
        return id;
    }

    async function all(input: DescribeImageReferencesCommandInput): Promise<ImageReference[]> {
        const refs: ImageReference[] = [];
        for await (const page of paginateDescribeImageReferences({ client: ec2 }, input)) refs.push(...(page.ImageReferences ?? []));
        return refs;
    }

    async function rejection(call: Promise<unknown>): Promise<{ code: string; status?: number }> {
        try {
            await call;
        } catch (e) {
            return { code: (e as Error).name, status: (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode };
        }
        assert.fail("expected the call to fail");
    }

    before(async () => {
        direct = new EC2Client({ region: REGION });
        ssm = new SSMClient({ region: REGION });
        before0 = await inventory(REGION);
        const made = await createSourceInstance(REGION, { name: `${tag}-base` });
        source = { instanceId: made.instanceId!, baseImageId: made.baseImageId!, baseSnapshotId: made.baseSnapshotId! };
        await through();
    });

    after(async () => {
        await proxy?.stop();
        ec2?.destroy();
        if (parameters.length) await ssm.send(new DeleteParametersCommand({ Names: parameters }));
        for (const id of templates) await direct.send(new DeleteLaunchTemplateCommand({ LaunchTemplateId: id }));
        await direct.send(new TerminateInstancesCommand({ InstanceIds: [source.instanceId, ...instances] }));
        const snapshots = new Set<string>([source.baseSnapshotId]);
        for (const imageId of [...images, source.baseImageId]) {
            const image = (await direct.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images![0];
            for (const m of image.BlockDeviceMappings ?? []) if (m.Ebs?.SnapshotId) snapshots.add(m.Ebs.SnapshotId);
            await direct.send(new DeregisterImageCommand({ ImageId: imageId }));
        }
        const volume = (await direct.send(new DescribeSnapshotsCommand({ SnapshotIds: [source.baseSnapshotId] }))).Snapshots![0].VolumeId;
        for (const id of snapshots) await direct.send(new DeleteSnapshotCommand({ SnapshotId: id }));
        if (volume) await direct.send(new DeleteVolumeCommand({ VolumeId: volume }));
        const left = leftBehind(before0, await inventory(REGION));
        direct.destroy();
        ssm.destroy();
        assert.deepEqual(left, { images: [], snapshots: [] }, "the reference tests leave no image or snapshot behind");
    });

    it("reports an instance launched from the image with its ARN, in every state unless state-name narrows it", async () => {
        const image = await newImage();
        const unused = await newImage();
        const instance = await launch(image);
        const arn = `arn:aws:ec2:${REGION}:${ACCOUNT}:instance/${instance}`;
        assert.deepEqual(await all({ ImageIds: [image, unused], ResourceTypes: [{ ResourceType: "ec2:Instance" }] }), [
            { ImageId: image, ResourceType: "ec2:Instance", Arn: arn },
        ]);

        await direct.send(new TerminateInstancesCommand({ InstanceIds: [instance] }));
        // The documented default is all states, terminated ones included.
        assert.deepEqual(
            (await all({ ImageIds: [image], IncludeAllResourceTypes: true })).map((r) => r.Arn),
            [arn],
        );
        const live = await all({
            ImageIds: [image],
            ResourceTypes: [
                {
                    ResourceType: "ec2:Instance",
                    ResourceTypeOptions: [{ OptionName: "state-name", OptionValues: ["pending", "running", "stopped"] }],
                },
            ],
        });
        assert.deepEqual(live, [], "a terminated instance is left out when only live states are asked for");
    });

    it("checks the most recent version-depth versions of each launch template, 10 by default", async () => {
        const old = await newImage();
        const current = await newImage();
        const id = await template([old, current, current, current]); // old is in version 1 of 4
        const arn = `arn:aws:ec2:${REGION}:${ACCOUNT}:launch-template/${id}`;
        const depth = (d: number) =>
            all({
                ImageIds: [old, current],
                ResourceTypes: [
                    {
                        ResourceType: "ec2:LaunchTemplate",
                        ResourceTypeOptions: [{ OptionName: "version-depth", OptionValues: [String(d)] }],
                    },
                ],
            });
        assert.deepEqual(
            await depth(3),
            [{ ImageId: current, ResourceType: "ec2:LaunchTemplate", Arn: arn }],
            "three versions back, only the current image",
        );
        assert.deepEqual(
            (await depth(4)).map((r) => r.ImageId),
            [old, current],
            "the fourth version back names the old image, reported once per template",
        );
        const byDefault = await all({ ImageIds: [old], IncludeAllResourceTypes: true });
        assert.deepEqual(
            byDefault.map((r) => r.Arn),
            [arn],
            "the default depth of 10 reaches version 1",
        );
    });

    it("reports an aws:ec2:image SSM parameter, not a text one, and not the launch template that resolves it", async () => {
        const image = await newImage();
        const name = `/${tag}/golden`;
        const text = `/${tag}/text`;
        await ssm.send(new PutParameterCommand({ Name: name, Type: "String", DataType: "aws:ec2:image", Value: image }));
        parameters.push(name);
        await ssm.send(new PutParameterCommand({ Name: text, Type: "String", DataType: "text", Value: image }));
        parameters.push(text);
        const other = `/${tag}/other`;
        await ssm.send(new PutParameterCommand({ Name: other, Type: "String", DataType: "aws:ec2:image", Value: source.baseImageId }));
        parameters.push(other);
        await template([`resolve:ssm:${name}`]);

        const refs = await all({ ImageIds: [image], IncludeAllResourceTypes: true });
        assert.deepEqual(refs, [
            { ImageId: image, ResourceType: "ssm:Parameter", Arn: `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter${name}` },
        ]);
        assert.deepEqual(
            await all({ ImageIds: [image], ResourceTypes: [{ ResourceType: "ec2:Instance" }, { ResourceType: "ec2:LaunchTemplate" }] }),
            [],
            "without ssm:Parameter the image behind a resolve:ssm: template is not reported",
        );
    });

    it("pages the answer: MaxResults per page, and a page of DEFAULT_PAGE_SIZE without it", async () => {
        const image = await newImage();
        const count = DEFAULT_PAGE_SIZE + 2;
        const run = await direct.send(
            new RunInstancesCommand({ ImageId: image, InstanceType: "t3.micro", MinCount: count, MaxCount: count }),
        );
        const launched = run.Instances!.map((i) => i.InstanceId!);
        instances.push(...launched);

        const first = await ec2.send(
            new DescribeImageReferencesCommand({ ImageIds: [image], ResourceTypes: [{ ResourceType: "ec2:Instance" }], MaxResults: 5 }),
        );
        assert.equal(first.ImageReferences!.length, 5);
        assert.ok(first.NextToken, "a next token while more remain");
        const unpaged = await ec2.send(
            new DescribeImageReferencesCommand({ ImageIds: [image], ResourceTypes: [{ ResourceType: "ec2:Instance" }] }),
        );
        assert.equal(unpaged.ImageReferences!.length, DEFAULT_PAGE_SIZE, "without MaxResults, one default-sized page");
        assert.ok(unpaged.NextToken);

        const everything = await all({ ImageIds: [image], ResourceTypes: [{ ResourceType: "ec2:Instance" }], MaxResults: 5 });
        assert.deepEqual(
            everything.map((r) => r.Arn!.split("/")[1]).sort(),
            [...launched].sort(),
            "the pages together hold each instance exactly once",
        );
    });

    it("refuses bad requests with EC2's error codes", async () => {
        const image = source.baseImageId;
        const send = (input: DescribeImageReferencesCommandInput) => rejection(ec2.send(new DescribeImageReferencesCommand(input)));
        assert.equal((await send({ ImageIds: [image] })).code, "MissingParameter", "neither IncludeAllResourceTypes nor ResourceTypes");
        assert.equal((await send({ ImageIds: [image], IncludeAllResourceTypes: true, MaxResults: 4 })).code, "InvalidParameterValue");
        assert.equal(
            (await send({ ImageIds: Array.from({ length: 11 }, () => image), IncludeAllResourceTypes: true })).code,
            "InvalidParameterValue",
        );
        assert.equal((await send({ ImageIds: ["ami-0123456789abcdef0"], IncludeAllResourceTypes: true })).code, "InvalidAMIID.NotFound");
        assert.equal((await send({ ImageIds: ["nonsense"], IncludeAllResourceTypes: true })).code, "InvalidAMIID.Malformed");
        assert.equal(
            (
                await send({
                    ImageIds: [image],
                    ResourceTypes: [
                        { ResourceType: "ec2:LaunchTemplate", ResourceTypeOptions: [{ OptionName: "version-depth", OptionValues: ["0"] }] },
                    ],
                })
            ).code,
            "InvalidParameterValue",
        );
        assert.equal((await send({ ImageIds: [image], IncludeAllResourceTypes: true, NextToken: "bogus" })).code, "InvalidNextToken");
    });

    it("answers InvalidAction (HTTP 400) when set to unsupported, as an endpoint without the action does", async () => {
        await through({ imageReferences: "unsupported" });
        try {
            const refused = await rejection(
                ec2.send(new DescribeImageReferencesCommand({ ImageIds: [source.baseImageId], IncludeAllResourceTypes: true })),
            );
            assert.deepEqual(refused, { code: "InvalidAction", status: 400 });
        } finally {
            await through();
        }
        const ok = await ec2.send(
            new DescribeImageReferencesCommand({ ImageIds: [source.baseImageId], ResourceTypes: [{ ResourceType: "ec2:Instance" }] }),
        );
        assert.deepEqual(
            ok.ImageReferences!.map((r) => r.Arn),
            [`arn:aws:ec2:${REGION}:${ACCOUNT}:instance/${source.instanceId}`],
            "emulated again: the source instance runs the base image",
        );
    });
});
