import {
    CreateTagsCommand,
    DescribeImageAttributeCommand,
    DescribeImagesCommand,
    DescribeSnapshotsCommand,
    EC2Client,
    Image,
    ModifyImageAttributeCommand,
} from "@aws-sdk/client-ec2";
import { mockClient } from "aws-sdk-client-mock";
import assert from "node:assert/strict";
import * as hooks from "../../dynamic-providers/managed-ami";
import { checkManagedAmiInputs } from "../../sdk/validation";

const ec2 = mockClient(EC2Client);
const AMI = "ami-0123456789abcdef0";
const image: Image = {
    ImageId: AMI,
    Name: "web-legacy",
    State: "available",
    OwnerId: "111122223333",
    RootDeviceName: "/dev/xvda",
    BlockDeviceMappings: [{ DeviceName: "/dev/xvda", Ebs: { SnapshotId: "snap-0123456789abcdef0" } }],
    Tags: [],
};

describe("ManagedAmi provider hooks", () => {
    beforeEach(() => ec2.reset());

    it("refuses a malformed image id and a name (an adopted image keeps its own)", () => {
        const f = checkManagedAmiInputs({ imageId: "web", name: "x", region: "us-east-1" });
        assert.deepEqual(f.map((x) => x.property).sort(), ["imageId", "name"]);
    });

    it("adopts an image of this account: makes no image, and brings tags, snapshot tags and sharing to the args", async () => {
        ec2.on(DescribeImagesCommand).resolves({ Images: [image] });
        ec2.on(DescribeImageAttributeCommand).resolves({ LaunchPermissions: [{ Group: "all" }] });
        ec2.on(DescribeSnapshotsCommand).resolves({ Snapshots: [{ SnapshotId: "snap-0123456789abcdef0", Tags: [] }] });
        ec2.on(CreateTagsCommand).resolves({});
        ec2.on(ModifyImageAttributeCommand).resolves({});
        const { inputs } = await hooks.check({}, { imageId: AMI, region: "us-east-1", tags: { App: "web" } });
        const r = await hooks.create(inputs);
        assert.equal(r.id, AMI);
        assert.equal(r.outs.name, "web-legacy");
        assert.deepEqual(r.outs.tags, { App: "web" });
        assert.equal(ec2.commandCalls(DescribeImagesCommand)[0].args[0].input.Owners?.[0], "self");
        const tagged = ec2
            .commandCalls(CreateTagsCommand)
            .map((c) => c.args[0].input.Resources![0])
            .sort();
        assert.deepEqual(tagged, [AMI, "snap-0123456789abcdef0"]);
        // public by hand, not asked for: revoked
        assert.deepEqual(ec2.commandCalls(ModifyImageAttributeCommand)[0].args[0].input.LaunchPermission, { Remove: [{ Group: "all" }] });
    });

    it("refuses an image this account does not own", async () => {
        ec2.on(DescribeImagesCommand).resolves({ Images: [] });
        const { inputs } = await hooks.check({}, { imageId: AMI, region: "us-east-1" });
        await assert.rejects(hooks.create(inputs), /adopting AMI ami-0123456789abcdef0 in us-east-1: it is not an image this account owns/);
    });

    it("replaces only when the image id or region changes", async () => {
        const olds = { imageId: AMI, region: "us-east-1", name: "web-legacy", tags: {} } as never;
        assert.deepEqual((await hooks.diff(AMI, olds, { imageId: "ami-0fedcba9876543210", region: "us-east-1" })).replaces, ["imageId"]);
        const d = await hooks.diff(AMI, olds, { imageId: AMI, region: "us-east-1", tags: { A: "1" } });
        assert.deepEqual(d.replaces, []);
        assert.equal(d.changes, true);
    });
});
