import {
    CreateTagsCommand,
    DeleteTagsCommand,
    DeregisterImageCommand,
    DescribeImageAttributeCommand,
    DescribeImagesCommand,
    DescribeSnapshotsCommand,
    DisableImageDeprecationCommand,
    DisableImageDeregistrationProtectionCommand,
    EC2Client,
    EnableImageDeregistrationProtectionCommand,
    Image,
    ModifyImageAttributeCommand,
} from "@aws-sdk/client-ec2";
import { DeleteParameterCommand, GetParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { mockClient } from "aws-sdk-client-mock";
import assert from "node:assert/strict";
import sinon from "sinon";
import { planAdoption, untouchedSettings } from "../../dynamic-providers/adoption-plan";
import * as waiters from "../../dynamic-providers/ec2/waiters";
import * as impl from "../../dynamic-providers/managed-ami-hooks";
import { check, diff } from "../../dynamic-providers/managed-ami-planning";
import { descriptor } from "../../sdk/managed-ami";
import { checkManagedAmiInputs } from "../../sdk/validation";
import { nothingUsesImages } from "../support/no-references";

/** The hooks as the provider object puts them together (sdk/providers/managed-ami.ts). */
const hooks = { ...impl, check, diff };
const ec2 = mockClient(EC2Client);
const AMI = "ami-0123456789abcdef0";
const OTHER = "ami-0fedcba9876543210";
const SNAP = "snap-0123456789abcdef0";
/** An image somebody else made: shared, tagged, protected and deprecated. */
const image: Image = {
    ImageId: AMI,
    Name: "web-legacy",
    State: "available",
    OwnerId: "111122223333",
    Description: "made by packer",
    RootDeviceName: "/dev/xvda",
    BlockDeviceMappings: [{ DeviceName: "/dev/xvda", Ebs: { SnapshotId: SNAP } }],
    Tags: [
        { Key: "App", Value: "web" },
        { Key: "Team", Value: "core" },
    ],
    DeprecationTime: "2030-01-01T00:00:00.000Z",
    DeregistrationProtection: "enabled",
};

const MUTATIONS = [
    CreateTagsCommand,
    DeleteTagsCommand,
    ModifyImageAttributeCommand,
    DisableImageDeprecationCommand,
    DisableImageDeregistrationProtectionCommand,
    EnableImageDeregistrationProtectionCommand,
    DeregisterImageCommand,
] as const;
const mutations = () => MUTATIONS.flatMap((c) => ec2.commandCalls(c as never).map(() => c.name));

describe("ManagedAmi provider hooks", () => {
    let printed: string[];
    beforeEach(() => {
        ec2.reset();
        ec2.on(DescribeImagesCommand).resolves({ Images: [image] });
        ec2.on(DescribeImageAttributeCommand).resolves({ LaunchPermissions: [{ UserId: "444455556666" }] });
        ec2.on(DescribeSnapshotsCommand).resolves({ Snapshots: [{ SnapshotId: SNAP, Tags: [] }] });
        ec2.on(CreateTagsCommand).resolves({});
        ec2.on(ModifyImageAttributeCommand).resolves({});
        printed = [];
        sinon.stub(waiters, "printProgress").callsFake((l: string) => void printed.push(l));
    });
    afterEach(() => sinon.restore());

    it("refuses a malformed image id and a name (an adopted image keeps its own)", () => {
        const f = checkManagedAmiInputs({ imageId: "web", name: "x", region: "us-east-1" });
        assert.deepEqual(f.map((x) => x.property).sort(), ["imageId", "name"]);
    });

    it("adopts with nothing given: changes nothing (shares, tags, protection, deprecation, description stay)", async () => {
        const { inputs, failures } = await hooks.check({}, { imageId: AMI, region: "us-east-1" });
        assert.deepEqual(failures, []);
        assert.equal(inputs.deregistrationProtection, undefined, "no default invented for protection");
        assert.equal(inputs.deleteSnapshotsOnDestroy, false, "an adopted image's snapshots are not ours");
        const r = await hooks.create(inputs as never);
        assert.equal(r.id, AMI);
        assert.equal(r.outs.name, "web-legacy");
        assert.deepEqual(mutations(), []);
        assert.match(printed.join("\n"), /adopting changes nothing/);
        assert.match(printed.join("\n"), /left as they are: 2 other tag\(s\) \(App, Team\); description; deprecation \(2030/);
    });

    it("sets only the listed tags, and preview prints exactly that change", async () => {
        const { inputs } = await hooks.check({}, { imageId: AMI, region: "us-east-1", tags: { App: "web2", Version: "1" } });
        assert.match(
            printed.join("\n"),
            /adopting changes 2 setting\(s\):\n {2}tag App: "web" -> "web2"\n {2}tag Version: \(unset\) -> "1"/,
        );
        await hooks.create(inputs as never);
        assert.deepEqual(mutations(), ["CreateTagsCommand"]);
        const call = ec2.commandCalls(CreateTagsCommand)[0].args[0].input;
        assert.deepEqual(call.Resources, [AMI]);
        assert.deepEqual(call.Tags, [
            { Key: "App", Value: "web2" },
            { Key: "Version", Value: "1" },
        ]);
    });

    it("an update after a refresh does not report the tags it does not manage as changes", async () => {
        const olds = {
            imageId: AMI,
            region: "us-east-1",
            name: "web-legacy",
            tags: { App: "web", Team: "core" },
            description: "x",
        } as never;
        const d = await hooks.diff(AMI, olds, { imageId: AMI, region: "us-east-1", tags: { App: "web" } } as never);
        assert.equal(d.changes, false);
    });

    it("revokes a share only when launchPermissions is given", async () => {
        const { inputs } = await hooks.check({}, { imageId: AMI, region: "us-east-1", launchPermissions: {} });
        await hooks.create(inputs as never);
        assert.deepEqual(ec2.commandCalls(ModifyImageAttributeCommand)[0].args[0].input.LaunchPermission, {
            Remove: [{ UserId: "444455556666" }],
        });
    });

    it("refuses an image this account does not own, in check already", async () => {
        ec2.on(DescribeImagesCommand).resolves({ Images: [] });
        const { failures } = await hooks.check({}, { imageId: AMI, region: "us-east-1" });
        assert.match(failures![0].reason, /not an image this account owns/);
        await assert.rejects(
            hooks.create({ imageId: AMI, region: "us-east-1" } as never),
            /adopting AMI ami-0123456789abcdef0 in us-east-1: it is not an image this account owns/,
        );
    });

    it("replaces only when the image id or region changes, adopting the new image before releasing the old", async () => {
        const olds = { imageId: AMI, region: "us-east-1", name: "web-legacy", tags: {} } as never;
        const r = await hooks.diff(AMI, olds, { imageId: OTHER, region: "us-east-1" } as never);
        assert.deepEqual(r.replaces, ["imageId"]);
        assert.equal(r.deleteBeforeReplace, false);
        const d = await hooks.diff(AMI, olds, { imageId: AMI, region: "us-east-1", tags: { A: "1" } } as never);
        assert.deepEqual(d.replaces, []);
        assert.equal(d.changes, true);
        assert.equal((await hooks.diff(AMI, olds, { imageId: AMI, region: "us-east-1", deleteOnRelease: true } as never)).changes, true);
    });

    it("releases the old image untouched on destroy or replacement unless deleteOnRelease is true", async () => {
        await hooks.delete(AMI, { imageId: AMI, region: "us-east-1", name: "web-legacy", snapshotIds: [SNAP] } as never);
        assert.deepEqual(mutations(), []);
        assert.match(printed.join("\n"), /released ami-0123456789abcdef0 untouched/);
        ec2.on(DeregisterImageCommand).resolves({});
        nothingUsesImages(ec2);
        await hooks.delete(AMI, {
            imageId: AMI,
            region: "us-east-1",
            name: "web-legacy",
            snapshotIds: [SNAP],
            deleteOnRelease: true,
            deleteSnapshotsOnDestroy: false,
        } as never);
        assert.equal(ec2.commandCalls(DeregisterImageCommand).length, 1);
        assert.notEqual(ec2.commandCalls(DeregisterImageCommand)[0].args[0].input.DeleteAssociatedSnapshots, true, "snapshots kept");
    });

    it("deleteOnRelease never deregisters an image another account can launch: destroy fails naming it, the image stays untagged", async () => {
        nothingUsesImages(ec2);
        ec2.on(DescribeImageAttributeCommand).resolves({ LaunchPermissions: [{ UserId: "444455556666" }] });
        ec2.on(DeregisterImageCommand).resolves({});
        await assert.rejects(
            hooks.delete(AMI, {
                imageId: AMI,
                region: "us-east-1",
                name: "web-legacy",
                snapshotIds: [SNAP],
                deleteOnRelease: true,
                owner: "p/s/ManagedAmi/legacy",
            } as never),
            /still in use: shared with account 444455556666/,
        );
        assert.deepEqual(mutations(), []);
    });

    it("a release withdraws the resource's SSM parameter and leaves the image", async () => {
        const ssm = mockClient(SSMClient);
        ssm.on(GetParameterCommand).resolves({ Parameter: { Name: "/golden/legacy", Value: AMI, Version: 1 } });
        ssm.on(DeleteParameterCommand).resolves({});
        try {
            await hooks.delete(AMI, {
                imageId: AMI,
                region: "us-east-1",
                name: "web-legacy",
                snapshotIds: [SNAP],
                publish: { ssmParameter: "/golden/legacy", owner: "p/s/ManagedAmi/legacy" },
            } as never);
            assert.equal(ssm.commandCalls(DeleteParameterCommand).length, 1);
            assert.deepEqual(mutations(), []);
        } finally {
            ssm.restore();
        }
    });

    it("descriptor: an adopted image does not own its snapshots", () => {
        assert.equal(descriptor.ownsSnapshots, false);
    });
});

describe("planAdoption", () => {
    const current = {
        description: "d",
        tags: { A: "1", B: "2" },
        deprecationTime: "2030-01-01T00:00:00.000Z",
        deregistrationProtection: true,
        launchPermissions: { userIds: ["444455556666"] },
    };

    it("plans nothing when nothing is given, and names what it leaves", () => {
        assert.deepEqual(planAdoption(current, {}), []);
        assert.equal(untouchedSettings(current, {}).length, 6);
    });

    it("never removes a tag, and plans only the settings given", () => {
        const changes = planAdoption(current, { tags: { A: "1", C: "3" }, deregistrationProtection: false, description: "d" });
        assert.deepEqual(changes, [
            { property: "tags", key: "C", from: undefined, to: "3" },
            { property: "deregistrationProtection", from: true, to: false },
        ]);
    });

    it("a deprecation time equal to the minute is no change", () => {
        assert.deepEqual(planAdoption(current, { deprecationTime: "2030-01-01T00:00:20Z" }), []);
    });
});
