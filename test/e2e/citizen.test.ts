// A good Pulumi citizen under the real CLI: a secret tag stays secret in
// state and previews, a renamed resource keeps its image, a replacement says
// why, and an image kept by retainOnDelete is never taken back silently.
// The proxy refuses duplicate names as EC2 does (moto allows them).
import { DeregisterImageCommand, DescribeImagesCommand, EC2Client } from "@aws-sdk/client-ec2";
import assert from "node:assert/strict";
import { motoEnv } from "../../scripts/lib/moto";
import { createSourceInstance, inventory, leftBehind } from "../../scripts/lib/ec2-fixtures";
import { newStack } from "../support/consumer";
import { Ec2Proxy, startEc2Proxy } from "../../emulator/ec2-proxy";
import { currentMoto } from "../support/moto-hooks";
import { sweepAfterSuite } from "../support/sweep-teardown";

const REGION = "me-south-1";
const SECRET = "s3cr3t-t0ken-7d2e";
// A parameter name is a secret too, and so is every output copied from it (publishedParameter).
const SECRET_PARAM = "/citizen/s3cr3t-param-5c1f";

describe("a good Pulumi citizen (real CLI, moto)", () => {
    let proxy: Ec2Proxy;
    const env = () => ({ ...motoEnv(proxy.endpoint, REGION), GOLDEN_AMI_POLL_SCALE: "0.05" });

    before(async () => {
        proxy = await startEc2Proxy({ target: currentMoto().endpoint, duplicateNames: true });
    });
    after(async () => proxy.stop());

    it("keeps secrets out of state and previews, keeps the image through renames, adopts with import, and names the cause of a replacement", async () => {
        const { instanceId } = await createSourceInstance(REGION);
        const stack = await newStack("citizen", "citizen-secret", env());
        await stack.config({ "aws:region": REGION, sourceInstanceId: instanceId });
        await stack.run(["config", "set", "--secret", "token", SECRET]);
        await stack.run(["config", "set", "--secret", "param", SECRET_PARAM]);
        const created = await stack.run(["preview", "--diff"]);
        assert.ok(!`${created.stdout}${created.stderr}`.includes(SECRET_PARAM), "no plaintext parameter name in the preview");
        await stack.run(["up", "--yes", "--skip-preview"]);
        const { imageId } = (await stack.outputs()) as { imageId: string };

        const exported = (await stack.run(["stack", "export"])).stdout;
        assert.ok(!exported.includes(SECRET), "no plaintext secret in state (tags, snapshotTags)");
        assert.ok(!exported.includes(SECRET_PARAM.slice(1)), "no plaintext parameter name in state (publish, publishedParameter)");
        const shown = (await stack.run(["stack", "output", "--json"])).stdout;
        assert.ok(!shown.includes(SECRET_PARAM) && shown.includes('"publishedParameter": "[secret]"'), shown);
        await stack.run(["config", "set", "--secret", "token", `${SECRET}-rotated`]);
        const rotated = await stack.run(["preview", "--diff"]);
        assert.ok(!`${rotated.stdout}${rotated.stderr}`.includes(SECRET), "no plaintext secret, old or new, in the preview");
        await stack.run(["up", "--yes", "--skip-preview"]);

        // Renamed with an alias: the name decided at create stays, nothing changes in EC2.
        await stack.config({ resourceName: "site" });
        const renamed = await stack.run(["preview", "--json"]);
        const summary = JSON.parse(renamed.stdout).changeSummary as Record<string, number>;
        assert.deepEqual(Object.keys(summary), ["same"], `the renamed image is the same: ${JSON.stringify(summary)}`);
        await stack.run(["up", "--yes", "--skip-preview"]);
        assert.equal(((await stack.outputs()) as { imageId: string }).imageId, imageId);

        // `pulumi stack rename`: the automatic name and the owner marks were decided once; nothing changes in EC2.
        await stack.rename("citizen-renamed");
        const stackRenamed = await stack.run(["preview", "--json"]);
        const same = JSON.parse(stackRenamed.stdout).changeSummary as Record<string, number>;
        assert.deepEqual(Object.keys(same), ["same"], `the image of the renamed stack is the same: ${JSON.stringify(same)}`);

        // The import resource option adopts the image as ManagedAmi's imageId does (here, the stack's own image).
        await stack.config({ adoptId: imageId });
        await stack.run(["up", "--yes", "--skip-preview"]);
        assert.equal(((await stack.outputs()) as { adoptedImageId: string }).adoptedImageId, imageId);

        // replaceOnChanges: a tag change replaces, and the plain preview says why.
        await stack.config({ replaceOnTags: "true" });
        await stack.run(["config", "set", "--secret", "token", `${SECRET}-again`]);
        const replace = await stack.run(["preview", "--diff"]);
        const text = `${replace.stdout}${replace.stderr}`;
        assert.match(text, /replaced because tags \(replaceOnChanges\) changed/, text);
        assert.ok(!text.includes(SECRET), "and no secret");
        await stack.run(["destroy", "--yes", "--skip-preview"]);
        assert.deepEqual(await describeImages(imageId), [], "destroy deregisters it: the adopted image was released, not kept twice");
    });

    it("a GoldenImage with a secret prefix, script and parameter: none of them in state or previews, the image name secret", async () => {
        const stack = await newStack("citizen", "citizen-golden", {
            ...motoEnv(currentMoto().endpoint, REGION),
            GOLDEN_AMI_POLL_SCALE: "0.05",
        });
        const prefix = "s3cr3t-pr3fix-91ab";
        const note = "s3cr3t-scr1pt-44cd";
        await stack.config({ "aws:region": REGION });
        await stack.run(["config", "set", "--secret", "goldenPrefix", prefix]);
        await stack.run(["config", "set", "--secret", "scriptNote", note]);
        await stack.run(["config", "set", "--secret", "param", SECRET_PARAM]);
        const texts: string[] = [];
        const preview = await stack.run(["preview", "--diff"]);
        texts.push(preview.stdout, preview.stderr);
        await stack.run(["up", "--yes", "--skip-preview"]);
        const again = await stack.run(["preview", "--diff"]);
        texts.push(again.stdout, again.stderr, (await stack.run(["stack", "export"])).stdout);
        const shown = (await stack.run(["stack", "output", "--json"])).stdout;
        texts.push(shown);
        for (const plain of [prefix, note, SECRET_PARAM.slice(1)]) {
            assert.ok(!texts.some((t) => t.includes(plain)), `${plain} in plaintext in a preview, the state or the outputs`);
        }
        assert.match(shown, /"imageName": "\[secret\]"/, shown);
        await stack.run(["destroy", "--yes", "--skip-preview"]);
    });

    it("an image kept by retainOnDelete is not adopted by the next up: the error names it and the ways out", async () => {
        const { instanceId } = await createSourceInstance(REGION);
        const baseline = await inventory(REGION);
        const stack = await newStack("citizen", "citizen-retain", env());
        await stack.config({ "aws:region": REGION, sourceInstanceId: instanceId, retain: "true" });
        await stack.run(["config", "set", "--secret", "token", SECRET]);
        await stack.run(["up", "--yes", "--skip-preview"]);
        const { imageId } = (await stack.outputs()) as { imageId: string };
        await stack.run(["destroy", "--yes", "--skip-preview"]);
        await stack.config({ retain: "false" });
        const again = await stack.run(["up", "--yes", "--skip-preview"], { check: false });
        const text = `${again.stdout}${again.stderr}`;
        assert.notEqual(again.code, 0, "up fails");
        assert.match(text, new RegExp(`${imageId} \\(.*\\) already exists and this create did not make it`), text);
        assert.match(text, /ManagedAmi/, text);
        const state = await stack.export();
        assert.ok(!(state.deployment.resources ?? []).some((r) => r.id === imageId), "the kept image is not in state");
        const ec2 = new EC2Client({ region: REGION, endpoint: currentMoto().endpoint });
        await ec2.send(new DeregisterImageCommand({ ImageId: imageId }));
        ec2.destroy();
        assert.deepEqual(leftBehind(baseline, await inventory(REGION)).images, []);
    });

    async function describeImages(imageId: string): Promise<string[]> {
        const ec2 = new EC2Client({ region: REGION, endpoint: currentMoto().endpoint });
        try {
            const r = await ec2.send(new DescribeImagesCommand({ Filters: [{ Name: "image-id", Values: [imageId] }] }));
            return (r.Images ?? []).filter((i) => i.ImageId === imageId && i.State !== "deregistered").map((i) => i.ImageId!);
        } finally {
            ec2.destroy();
        }
    }

    sweepAfterSuite([REGION]);
});
