// Issue 20's "done when", under the real pulumi CLI on the strict emulator: a
// GoldenImage with a copy region and keepLatest 1; an instance and a launch
// template ($Default) in the copy region run from the copy; the script
// changes. `up` keeps that copy (the warning names both users, the kept copy
// is tagged for retention), the next `up` after the uses end (with the next
// build: keepLatest counts besides the current images, so with 1 the newest
// old image stays as the rollback one until then) retires it, and `destroy`
// leaves only the images and snapshots the account had before.
import {
    CreateLaunchTemplateCommand,
    DeleteLaunchTemplateCommand,
    DescribeImagesCommand,
    EC2Client,
    RunInstancesCommand,
    TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import assert from "node:assert/strict";
import { motoEnv } from "../../scripts/lib/moto";
import { inventory, leftBehind } from "../../scripts/lib/ec2-fixtures";
import { newStack, type Stack } from "../support/consumer";
import { currentMoto } from "../support/moto-hooks";
import { sweepAfterSuite } from "../support/sweep-teardown";

const HOME = "ap-southeast-3";
const COPY = "ap-southeast-4";
const BASE = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";

describe("a replaced GoldenImage copy in use is kept, retired once unused, and destroy leaves what was there (real pulumi CLI, strict emulator)", () => {
    const ec2 = new EC2Client({ region: COPY });
    let stack: Stack;
    let baseline: Record<string, Awaited<ReturnType<typeof inventory>>>;
    let oldCopy: string;
    let oldHome: string;
    let instanceId: string | undefined;
    let templateId: string | undefined;
    type Out = { imageId: string; imageIds: Record<string, string> };

    const image = async (id: string) => (await ec2.send(new DescribeImagesCommand({ ImageIds: [id] }))).Images?.[0];

    before(async () => {
        baseline = { [HOME]: await inventory(HOME), [COPY]: await inventory(COPY) };
        stack = await newStack("golden-pipeline", "in-use-copy", {
            ...motoEnv(currentMoto().endpoint, HOME),
            GOLDEN_AMI_POLL_SCALE: "0.05",
        });
        await stack.config({
            "aws:region": HOME,
            baseParameter: BASE,
            version: "1",
            publishParameter: "/golden/in-use/web",
            keepLatest: "1",
        });
        await stack.run(["config", "set", "--path", "regions[0]", COPY]);
        await stack.run(["up", "--yes", "--skip-preview"]);
        const out = (await stack.outputs()) as Out;
        oldHome = out.imageId;
        oldCopy = out.imageIds[COPY];
        assert.ok(oldCopy, `a copy in ${COPY}: ${JSON.stringify(out.imageIds)}`);
        instanceId = (await ec2.send(new RunInstancesCommand({ ImageId: oldCopy, InstanceType: "t3.micro", MinCount: 1, MaxCount: 1 })))
            .Instances![0].InstanceId!;
        templateId = (
            await ec2.send(
                new CreateLaunchTemplateCommand({
                    LaunchTemplateName: "in-use-copy-web",
                    LaunchTemplateData: { ImageId: oldCopy, InstanceType: "t3.micro" },
                }),
            )
        ).LaunchTemplate!.LaunchTemplateId!;
    });
    after(async () => {
        if (instanceId) await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
        if (templateId) await ec2.send(new DeleteLaunchTemplateCommand({ LaunchTemplateId: templateId }));
        ec2.destroy();
    });

    it("a script change: preview and up name the instance and the template; the copy they use is kept and tagged, the unused home image is gone", async () => {
        await stack.config({ version: "2" });
        const preview = await stack.run(["preview", "--diff"]);
        const said = preview.stdout + preview.stderr;
        assert.match(said, new RegExp(`${oldCopy}.*in use: .*instance ${instanceId}`), `preview names the users of ${oldCopy}:\n${said}`);

        const r = await stack.run(["up", "--yes", "--skip-preview"]);
        const out = r.stdout + r.stderr;
        assert.match(out, new RegExp(`the old image is kept, not deregistered: it is still in use: .*instance ${instanceId}`));
        assert.match(out, new RegExp(`launch template ${templateId} \\(version 1, \\$Default`));
        const next = (await stack.outputs()) as Out;
        assert.notEqual(next.imageIds[COPY], oldCopy, "a new copy");
        const kept = await image(oldCopy);
        assert.equal(kept?.State, "available", "the copy in use is kept");
        const tags = Object.fromEntries((kept?.Tags ?? []).map((t) => [t.Key, t.Value]));
        assert.ok(tags["golden-ami:kept-in-use"], "tagged as kept for retention");
        assert.match(tags["golden-ami:pipeline"] ?? "", /\/in-use-copy\/web$/, "still the pipeline's, so keepLatest retires it");
        assert.ok(!(await inventory(HOME)).images.some((i) => i.id === oldHome), "the replaced home image nothing uses is gone");
    });

    it("once the instance and the template are gone, the next up (a new script) retires the kept copy with its snapshots", async () => {
        // keepLatest counts besides the current images (GoldenImage's TSDoc): with keepLatest 1 the newest old image
        // stays as the rollback one. After this build the version-2 copy is that one, and the kept copy goes.
        const snapshots = ((await image(oldCopy))?.BlockDeviceMappings ?? []).map((m) => m.Ebs?.SnapshotId).filter((s) => !!s);
        assert.ok(snapshots.length > 0);
        await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId!] }));
        instanceId = undefined;
        await ec2.send(new DeleteLaunchTemplateCommand({ LaunchTemplateId: templateId! }));
        templateId = undefined;
        await stack.config({ version: "3" });
        const r = await stack.run(["up", "--yes", "--skip-preview"]);
        const left = await inventory(COPY);
        assert.ok(!left.images.some((i) => i.id === oldCopy), `${oldCopy} is retired:\n${r.stdout}${r.stderr}`);
        for (const s of snapshots) assert.ok(!left.snapshots.some((x) => x.id === s), `its snapshot ${s} is gone`);
        assert.doesNotMatch(r.stdout + r.stderr, /is kept, not deregistered/, "nothing uses the version-2 copy: replaced at once");
    });

    it("destroy leaves only the images and snapshots that existed before, in both regions", async () => {
        await stack.run(["destroy", "--yes", "--skip-preview"]);
        for (const region of [HOME, COPY]) {
            assert.deepEqual(leftBehind(baseline[region], await inventory(region)), { images: [], snapshots: [] }, region);
        }
    });

    // Last, so it runs after the suite's own teardown.
    sweepAfterSuite([HOME, COPY]);
});
