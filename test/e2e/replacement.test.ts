// A same-name replacement (explicit `name`: the old image must go first, EC2
// names are unique per region) never loses the image: `check` preflights the
// new source instance and block devices before the engine deletes anything.
import { DescribeInstancesCommand, DescribeVolumesCommand, EC2Client } from "@aws-sdk/client-ec2";
import assert from "node:assert/strict";
import * as http from "node:http";
import { motoEnv } from "../../scripts/lib/moto";
import { createSourceInstance, inventory, leftBehind } from "../../scripts/lib/ec2-fixtures";
import { newStack, Stack } from "../support/consumer";
import { currentMoto } from "../support/moto-hooks";
import { sweepAfterSuite } from "../support/sweep-teardown";

const REGION = "eu-west-3";
const MISSING = "i-0000000000000dead";

describe("same-name replacement (real pulumi CLI, moto)", () => {
    const ec2 = new EC2Client({ region: REGION });
    let stack: Stack;
    let instanceId: string;
    let baseline: Awaited<ReturnType<typeof inventory>>;
    let first: { imageId: string; imageName: string; snapshotIds: string[] };

    before(async () => {
        ({ instanceId } = await createSourceInstance(REGION));
        baseline = await inventory(REGION);
        stack = await newStack("ami-from-instance", "replace", motoEnv(currentMoto().endpoint, REGION));
        await stack.config({ "aws:region": REGION, sourceInstanceId: instanceId, imageName: "web-fixed-name" });
        await stack.run(["up", "--yes", "--skip-preview"]);
        first = (await stack.outputs()) as typeof first;
    });
    after(() => ec2.destroy());

    async function assertOldImageKept(): Promise<void> {
        const left = await inventory(REGION);
        assert.ok(
            left.images.some((i) => i.id === first.imageId && i.state === "available"),
            "the old image still exists",
        );
        assert.ok(
            left.snapshots.some((s) => s.id === first.snapshotIds[0]),
            "its snapshot still exists",
        );
        const resources = (await stack.export()).deployment.resources ?? [];
        const web = resources.find((r) => r.type.endsWith(":AmiFromInstance"));
        assert.equal(web?.id, first.imageId, "state still names the old image");
        assert.equal(web?.outputs?.sourceInstanceId, instanceId);
        assert.equal(((await stack.outputs()) as typeof first).imageId, first.imageId, "stack outputs name the old image");
    }

    it("a sourceInstanceId that does not exist fails preview and up in check, naming the property and the fix; the old image stays", async () => {
        await stack.config({ sourceInstanceId: MISSING });
        for (const cmd of [["preview"], ["up", "--yes", "--skip-preview"]]) {
            const r = await stack.run(cmd, { check: false });
            assert.notEqual(r.code, 0, `${cmd[0]} must fail`);
            assert.match(
                r.stdout + r.stderr,
                new RegExp(
                    `sourceInstanceId: instance ${MISSING} does not exist in ${REGION} or is terminated; nothing was changed and the current image is kept; set sourceInstanceId to a running or stopped instance`,
                ),
            );
        }
        await assertOldImageKept();
    });

    it("block devices CreateImage would refuse (resizing an existing volume) fail preview and up in check; the old image stays", async () => {
        const described = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
        const root = described.Reservations![0].Instances![0].BlockDeviceMappings![0];
        const volume = (await ec2.send(new DescribeVolumesCommand({ VolumeIds: [root.Ebs!.VolumeId!] }))).Volumes![0];
        const mappings = [{ deviceName: root.DeviceName!, ebs: { volumeSize: volume.Size! + 10 } }];
        await stack.config({ sourceInstanceId: instanceId, blockDeviceMappings: JSON.stringify(mappings) });
        for (const cmd of [["preview"], ["up", "--yes", "--skip-preview"]]) {
            const r = await stack.run(cmd, { check: false });
            assert.notEqual(r.code, 0, `${cmd[0]} must fail`);
            assert.match(
                r.stdout + r.stderr,
                /blockDeviceMappings\[0\]\.ebs\.volumeSize \(\S+\) would change the existing volume vol-\w+ .*CreateImage can change only deleteOnTermination/,
            );
        }
        await assertOldImageKept();
    });

    it("changing only deleteOnTermination of an existing volume passes the preflight and replaces the image under the same name", async () => {
        const described = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
        const root = described.Reservations![0].Instances![0].BlockDeviceMappings![0];
        await stack.config({
            blockDeviceMappings: JSON.stringify([{ deviceName: root.DeviceName!, ebs: { deleteOnTermination: false } }]),
        });
        await stack.run(["up", "--yes", "--skip-preview"]);
        const second = (await stack.outputs()) as typeof first;
        assert.notEqual(second.imageId, first.imageId);
        assert.equal(second.imageName, "web-fixed-name");
        const left = await inventory(REGION);
        assert.ok(!left.images.some((i) => i.id === first.imageId), "the old image is gone");
        await stack.run(["destroy", "--yes", "--skip-preview"]);
        assert.deepEqual(leftBehind(baseline, await inventory(REGION)), { images: [], snapshots: [] });
    });

    // Last, so it runs after the suite's own teardown (instances terminated, clients closed).
    sweepAfterSuite([REGION]);
});

// What users meet before any image exists: a region that only looks like one is
// refused at preview; an endpoint that is not EC2 reads as that, never as the
// SDK's XML parse error.
describe("regions and endpoints at preview and up (real pulumi CLI)", () => {
    it('region "us-east-9" fails preview in check, listing known regions and the nearest', async () => {
        const stack = await newStack("bad-input", "region-9", motoEnv(currentMoto().endpoint, "us-east-1"));
        await stack.config({
            "aws:region": "us-east-1",
            kind: "AmiFromInstance",
            args: JSON.stringify({ sourceInstanceId: "i-0123456789abcdef0", name: "web-region", region: "us-east-9" }),
        });
        const r = await stack.run(["preview"], { check: false });
        assert.notEqual(r.code, 0, "preview must fail");
        assert.match(
            r.stdout + r.stderr,
            /region: "us-east-9" is not an AWS region; known regions: .*us-east-1.* \(did you mean us-east-1\?\)/,
        );
        assert.doesNotMatch(r.stdout + r.stderr, /XML parse error/);
    });

    it("an endpoint answering HTML: up names the endpoint, the region and the fix, not an XML parse error", async () => {
        const server = http.createServer((_req, res) => {
            res.writeHead(404, { "content-type": "text/html" });
            res.end("<!DOCTYPE html><html><body><h1>Not Found</h1><br></body></html>");
        });
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        const endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
        try {
            const stack = await newStack("bad-input", "html-endpoint", motoEnv(endpoint, "us-east-1"));
            await stack.config({
                "aws:region": "us-east-1",
                kind: "AmiFromInstance",
                args: JSON.stringify({ sourceInstanceId: "i-0123456789abcdef0", name: "web-html" }),
            });
            const r = await stack.run(["up", "--yes", "--skip-preview"], { check: false });
            assert.notEqual(r.code, 0, "up must fail");
            const out = r.stdout + r.stderr;
            assert.match(
                out,
                new RegExp(
                    `CreateImage: the endpoint for region us-east-1 answered something that is not EC2 \\(HTTP 404, not EC2's XML\\); AWS_ENDPOINT_URL_EC2 is ${endpoint}: check that it is an EC2 endpoint`,
                ),
            );
            assert.doesNotMatch(out, /XML parse error/);
        } finally {
            server.close();
        }
    });
});
