// Conformance: an AWS CLI image workflow against `startEmulator()`, as a user
// runs it, each step asserting what the EC2 API reference documents:
//   CreateImage (API_CreateImage.html): TagSpecifications "tag the AMI, the
//     snapshots, or both"; `aws ec2 wait image-available`.
//   CopyImage (API_CopyImage.html): `Encrypted` "Specifies whether the
//     destination snapshots of the copied image should be encrypted".
//   EnableImageDeregistrationProtection / DisableImageDeregistrationProtection
//     (API_EnableImageDeregistrationProtection.html): a protected image cannot be deregistered.
//   DeregisterImage (API_DeregisterImage.html), DeleteSnapshot (API_DeleteSnapshot.html):
//     the snapshots outlive the image and are deleted on their own; right after
//     deregistration DeleteSnapshot may answer InvalidSnapshot.InUse, retried.
// The steps run in order, one test each, so a failing step is named.
import assert from "node:assert/strict";
import { cliOk, cliRefused, startSession, type Session } from "../support/conformance";

const SOURCE = "us-east-1";
const DESTINATION = "us-west-2";
const BASE = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";

interface Image {
    ImageId: string;
    State: string;
    Tags?: { Key: string; Value: string }[];
    BlockDeviceMappings: { DeviceName: string; Ebs?: { SnapshotId: string; Encrypted?: boolean } }[];
}

describe("emulator conformance: an AWS CLI image workflow (create, wait, copy encrypted, protect, deregister, delete snapshots)", function () {
    this.timeout(180_000);
    let session: Session;
    const state: {
        baseImageId?: string;
        instanceId?: string;
        imageId?: string;
        copyId?: string;
        snapshots: { id: string; region: string }[];
    } = {
        snapshots: [],
    };

    const image = async (imageId: string, region: string): Promise<Image> => {
        const out = cliOk<{ Images: Image[] }>(await session.aws(["ec2", "describe-images", "--image-ids", imageId], region));
        assert.equal(out.Images.length, 1, `describe-images ${imageId}`);
        return out.Images[0];
    };
    const need = <T>(value: T | undefined, what: string): T => {
        assert.ok(value, `an earlier step did not produce ${what}`);
        return value;
    };

    before(async function () {
        this.timeout(120_000);
        session = await startSession();
        state.baseImageId = cliOk<{ Parameter: { Value: string } }>(
            await session.aws(["ssm", "get-parameter", "--name", BASE]),
        ).Parameter.Value;
        const run = cliOk<{ Instances: { InstanceId: string }[] }>(
            await session.aws(["ec2", "run-instances", "--image-id", state.baseImageId, "--instance-type", "t3.micro", "--count", "1"]),
        );
        state.instanceId = run.Instances[0].InstanceId;
    });

    after(async function () {
        this.timeout(30_000);
        await session?.stop();
    });

    it("create-image with image and snapshot tag specifications", async () => {
        const out = cliOk<{ ImageId: string }>(
            await session.aws([
                "ec2",
                "create-image",
                "--instance-id",
                need(state.instanceId, "an instance"),
                "--name",
                "workflow-image",
                "--tag-specifications",
                "ResourceType=image,Tags=[{Key=App,Value=web}]",
                "ResourceType=snapshot,Tags=[{Key=App,Value=web-snapshot}]",
            ]),
        );
        state.imageId = out.ImageId;
    });

    it("wait image-available, then the image and each of its snapshots carry their tags", async () => {
        const imageId = need(state.imageId, "an image");
        cliOk(await session.aws(["ec2", "wait", "image-available", "--image-ids", imageId]));
        const made = await image(imageId, SOURCE);
        assert.equal(made.State, "available");
        assert.deepEqual(made.Tags, [{ Key: "App", Value: "web" }]);
        const ids = made.BlockDeviceMappings.flatMap((m) => (m.Ebs ? [m.Ebs.SnapshotId] : []));
        assert.ok(ids.length >= 1);
        state.snapshots.push(...ids.map((id) => ({ id, region: SOURCE })));
        const snaps = cliOk<{ Snapshots: { SnapshotId: string; Tags?: { Key: string; Value: string }[] }[] }>(
            await session.aws(["ec2", "describe-snapshots", "--snapshot-ids", ...ids]),
        );
        for (const s of snaps.Snapshots) assert.deepEqual(s.Tags, [{ Key: "App", Value: "web-snapshot" }], s.SnapshotId);
    });

    it("copy-image --encrypted to another region: the copy's snapshots are encrypted", async () => {
        const out = cliOk<{ ImageId: string }>(
            await session.aws(
                [
                    "ec2",
                    "copy-image",
                    "--source-image-id",
                    need(state.imageId, "an image"),
                    "--source-region",
                    SOURCE,
                    "--name",
                    "workflow-copy",
                    "--encrypted",
                ],
                DESTINATION,
            ),
        );
        state.copyId = out.ImageId;
        cliOk(await session.aws(["ec2", "wait", "image-available", "--image-ids", out.ImageId], DESTINATION));
        const copy = await image(out.ImageId, DESTINATION);
        const ebs = copy.BlockDeviceMappings.flatMap((m) => (m.Ebs ? [m.Ebs] : []));
        assert.ok(ebs.length >= 1);
        state.snapshots.push(...ebs.map((e) => ({ id: e.SnapshotId, region: DESTINATION })));
        assert.ok(
            ebs.every((e) => e.Encrypted === true),
            "every EBS mapping of the copy is encrypted",
        );
        const snaps = cliOk<{ Snapshots: { Encrypted: boolean }[] }>(
            await session.aws(["ec2", "describe-snapshots", "--snapshot-ids", ...ebs.map((e) => e.SnapshotId)], DESTINATION),
        );
        assert.ok(snaps.Snapshots.every((s) => s.Encrypted));
    });

    it("enable-image-deregistration-protection refuses deregister-image; disable lets it through", async () => {
        const copyId = need(state.copyId, "a copy");
        const enabled = cliOk<{ Return: string }>(
            await session.aws(["ec2", "enable-image-deregistration-protection", "--image-id", copyId], DESTINATION),
        );
        assert.equal(enabled.Return, "enabled-without-cooldown");
        const refused = await session.aws(["ec2", "deregister-image", "--image-id", copyId], DESTINATION);
        assert.notEqual(refused.code, 0, "a protected image is not deregistered");
        const disabled = cliOk<{ Return: string }>(
            await session.aws(["ec2", "disable-image-deregistration-protection", "--image-id", copyId], DESTINATION),
        );
        assert.equal(disabled.Return, "disabled");
        cliOk(await session.aws(["ec2", "deregister-image", "--image-id", copyId], DESTINATION));
    });

    it("deregister-image of the source, then delete-snapshot of every snapshot (retrying InvalidSnapshot.InUse)", async () => {
        cliOk(await session.aws(["ec2", "deregister-image", "--image-id", need(state.imageId, "an image")], SOURCE));
        assert.ok(state.snapshots.length >= 2, "snapshots of the image and of its copy were recorded");
        for (const { id, region } of state.snapshots) {
            for (let attempt = 1; ; attempt++) {
                const run = await session.aws(["ec2", "delete-snapshot", "--snapshot-id", id], region);
                if (run.code === 0) break;
                cliRefused(run, "InvalidSnapshot.InUse");
                assert.ok(attempt < 5, `${id} still in use after ${attempt} attempts`);
                await new Promise((r) => setTimeout(r, 500));
            }
        }
        for (const region of [SOURCE, DESTINATION]) {
            const left = cliOk<{ Snapshots: { SnapshotId: string }[] }>(
                await session.aws(["ec2", "describe-snapshots", "--owner-ids", "self"], region),
            );
            const ours = new Set(state.snapshots.map((s) => s.id));
            assert.deepEqual(
                left.Snapshots.filter((s) => ours.has(s.SnapshotId)),
                [],
                `no snapshot of the workflow left in ${region}`,
            );
            const images = cliOk<{ Images: { ImageId: string; State: string }[] }>(
                await session.aws(["ec2", "describe-images", "--owners", "self"], region),
            );
            assert.deepEqual(
                images.Images.filter((i) => i.State !== "deregistered"),
                [],
                `no live image of the workflow left in ${region}`,
            );
        }
        cliOk(await session.aws(["ec2", "terminate-instances", "--instance-ids", need(state.instanceId, "an instance")]));
    });
});
