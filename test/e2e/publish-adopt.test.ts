// Issue 13 end to end, under the real pulumi CLI: an image published to SSM
// follows a replacement (the parameter holds the new id before the old image
// goes) and disappears on destroy; an adopted AMI with shares, extra tags,
// protection, a deprecation time and tagged snapshots keeps all of them
// (its snapshots and their tags too) through `up`, refresh and destroy. The proxy emulates deprecation and protection, which moto lacks;
// SSM passes it untouched to moto.
import {
    CreateImageCommand,
    CreateTagsCommand,
    DeregisterImageCommand,
    DescribeImageAttributeCommand,
    DescribeImagesCommand,
    DescribeSnapshotsCommand,
    DisableImageDeregistrationProtectionCommand,
    EC2Client,
    EnableImageDeprecationCommand,
    EnableImageDeregistrationProtectionCommand,
    Image,
    ModifyImageAttributeCommand,
} from "@aws-sdk/client-ec2";
import { GetParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import assert from "node:assert/strict";
import { Ec2Proxy, startEc2Proxy } from "../../emulator/ec2-proxy";
import { motoEnv } from "../../scripts/lib/moto";
import { createSourceInstance, inventory, leftBehind } from "../../scripts/lib/ec2-fixtures";
import { newStack } from "../support/consumer";
import { currentMoto } from "../support/moto-hooks";
import { sweepAfterSuite } from "../support/sweep-teardown";

const REGION = "ap-northeast-2";
const SHARED_WITH = "444455556666";
const PARAMETER = "/golden/e2e/web";

function stepOf(preview: string, name: string): string | undefined {
    const steps: { op: string; urn: string }[] = JSON.parse(preview).steps ?? [];
    return steps.find((s) => s.urn.endsWith(`::${name}`))?.op;
}

describe("publishing to SSM and safe adoption (real pulumi CLI, moto)", () => {
    let proxy: Ec2Proxy;
    let ec2: EC2Client;
    const ssm = new SSMClient({ region: REGION });
    const parameter = async () => {
        try {
            return (await ssm.send(new GetParameterCommand({ Name: PARAMETER }))).Parameter;
        } catch (e) {
            if ((e as { name?: string }).name === "ParameterNotFound") return undefined;
            throw e;
        }
    };
    const env = () => ({ ...motoEnv(proxy.endpoint, REGION), GOLDEN_AMI_POLL_SCALE: "0.05" });

    before(async () => {
        proxy = await startEc2Proxy({ target: currentMoto().endpoint });
        ec2 = new EC2Client({ region: REGION, endpoint: proxy.endpoint });
    });
    after(async () => {
        ec2.destroy();
        ssm.destroy();
        await proxy.stop();
    });

    it("the parameter follows a replacement (new id first, then the old image goes) and disappears on destroy", async () => {
        const { instanceId } = await createSourceInstance(REGION);
        const baseline = await inventory(REGION);
        const stack = await newStack("publish-adopt", "publish", env());
        await stack.config({ "aws:region": REGION, sourceInstanceId: instanceId, parameter: PARAMETER });

        const preview = (await stack.run(["preview", "--diff"])).stdout;
        assert.match(preview, /ssmParameter\s*:\s*"\/golden\/e2e\/web"/, `preview shows the parameter:\n${preview}`);
        await stack.run(["up", "--yes", "--skip-preview"]);
        const first = (await stack.outputs()) as { imageId: string; publishedParameter: string };
        assert.equal(first.publishedParameter, PARAMETER);
        const p1 = await parameter();
        assert.equal(p1?.Value, first.imageId);
        assert.equal(p1?.DataType, "aws:ec2:image");

        await stack.config({ reboot: "true" });
        assert.equal(stepOf((await stack.run(["preview", "--json"])).stdout, "web"), "replace");
        const up = await stack.run(["up", "--yes", "--skip-preview"]);
        const second = (await stack.outputs()) as { imageId: string };
        assert.notEqual(second.imageId, first.imageId);
        assert.equal((await parameter())?.Value, second.imageId, "the parameter holds the new image");
        const out = up.stdout;
        const published = out.indexOf(`published ${second.imageId} to SSM parameter ${PARAMETER}`);
        const deregistered = out.indexOf(`deregistered ${first.imageId}`);
        assert.ok(published >= 0 && deregistered > published, `published before the old image went:\n${out}`);
        assert.match(out, /SSM parameter \/golden\/e2e\/web: left, it holds another image now/);
        assert.ok(!(await inventory(REGION)).images.some((i) => i.id === first.imageId), "the old image is gone");

        await stack.run(["destroy", "--yes", "--skip-preview"]);
        assert.equal(await parameter(), undefined, "destroy deletes the parameter");
        assert.deepEqual(leftBehind(baseline, await inventory(REGION)), { images: [], snapshots: [] });
    });

    it("adopting an AMI with shares, extra tags, protection, a deprecation time and tagged snapshots changes none of them", async () => {
        const { instanceId } = await createSourceInstance(REGION);
        const { ImageId: imageId } = await ec2.send(new CreateImageCommand({ InstanceId: instanceId, Name: `legacy-${Date.now()}` }));
        const deprecateAt = new Date(Date.now() + 30 * 86_400_000);
        deprecateAt.setUTCSeconds(0, 0);
        await ec2.send(
            new CreateTagsCommand({
                Resources: [imageId!],
                Tags: [
                    { Key: "Team", Value: "core" },
                    { Key: "Built", Value: "packer" },
                ],
            }),
        );
        // The user's own tags on the image's snapshots: adoption never changes or deletes them.
        const snapshotIds = ((await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId!] }))).Images![0].BlockDeviceMappings ?? [])
            .map((m) => m.Ebs?.SnapshotId)
            .filter((s): s is string => !!s);
        assert.ok(snapshotIds.length > 0);
        await ec2.send(
            new CreateTagsCommand({
                Resources: snapshotIds,
                Tags: [
                    { Key: "Team", Value: "core" },
                    { Key: "Backup", Value: "daily" },
                ],
            }),
        );
        await ec2.send(new ModifyImageAttributeCommand({ ImageId: imageId, LaunchPermission: { Add: [{ UserId: SHARED_WITH }] } }));
        await ec2.send(new EnableImageDeprecationCommand({ ImageId: imageId, DeprecateAt: deprecateAt }));
        await ec2.send(new EnableImageDeregistrationProtectionCommand({ ImageId: imageId }));
        const settings = async () => {
            const image: Image = (await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId!] }))).Images![0];
            const perms = await ec2.send(new DescribeImageAttributeCommand({ ImageId: imageId, Attribute: "launchPermission" }));
            return {
                tags: Object.fromEntries((image.Tags ?? []).map((t) => [t.Key, t.Value])),
                shares: perms.LaunchPermissions,
                protection: image.DeregistrationProtection,
                deprecation: image.DeprecationTime,
                description: image.Description,
                // Every snapshot still there (DescribeSnapshots fails on a missing id), with its tags.
                snapshots: Object.fromEntries(
                    ((await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: snapshotIds }))).Snapshots ?? []).map((x) => [
                        x.SnapshotId,
                        Object.fromEntries((x.Tags ?? []).map((t) => [t.Key, t.Value])),
                    ]),
                ),
            };
        };
        const before = await settings();
        assert.equal(before.protection?.startsWith("enabled"), true);
        assert.deepEqual(Object.keys(before.snapshots).sort(), [...snapshotIds].sort());

        const stack = await newStack("publish-adopt", "adopt", env());
        await stack.config({ "aws:region": REGION, adoptImageId: imageId! });
        const preview = (await stack.run(["preview"])).stdout;
        assert.match(preview, /adopting changes 1 setting\(s\):\s+tag ManagedBy: \(unset\) -> "golden-ami"/, preview);
        assert.match(preview, /left as they are: 2 other tag\(s\) \(Team, Built\)/, preview);
        await stack.run(["up", "--yes", "--skip-preview"]);
        assert.deepEqual(await settings(), { ...before, tags: { ...before.tags, ManagedBy: "golden-ami" } }, "only the listed tag was set");
        const summary = JSON.parse((await stack.run(["preview", "--json"])).stdout).changeSummary as Record<string, number>;
        assert.deepEqual(Object.keys(summary), ["same"], `a second preview changes nothing: ${JSON.stringify(summary)}`);
        await stack.run(["up", "--yes", "--skip-preview"]);
        assert.deepEqual(await settings(), { ...before, tags: { ...before.tags, ManagedBy: "golden-ami" } });
        // After a refresh nothing changed: no adoption lines, and the tags output is EC2's.
        await stack.run(["refresh", "--yes", "--skip-preview"]);
        const quiet = (await stack.run(["preview"])).stdout;
        assert.doesNotMatch(quiet, /adopting|updating changes/, quiet);
        assert.deepEqual((await stack.outputs()).adoptedTags, { ...before.tags, ManagedBy: "golden-ami" });

        // Released untouched: the stack did not create it.
        await stack.run(["destroy", "--yes", "--skip-preview"]);
        assert.deepEqual(
            await settings(),
            { ...before, tags: { ...before.tags, ManagedBy: "golden-ami" } },
            "destroy released it as it was",
        );

        // The test's own cleanup of the image it made, as a person does it (deregister with its snapshots).
        await ec2.send(new DisableImageDeregistrationProtectionCommand({ ImageId: imageId }));
        await ec2.send(new DeregisterImageCommand({ ImageId: imageId, DeleteAssociatedSnapshots: true }));
    });

    sweepAfterSuite([REGION]);
});
