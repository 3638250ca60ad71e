// GoldenImage `distribute` and AmiCopy from a shared source under the real
// `pulumi` CLI against the strict emulator with two accounts: the caller's
// (builds) and a role's (receives). One stack (about a minute): up (the image
// is shared with the second account, copied there by its role, owned by it,
// tagged, published in its SSM; an AmiCopy made by that account from the
// shared image with its own KMS key), a rebuild (the copy replaced there, the
// old one kept by the in-use guard run there while that account's instance
// uses it; the old image kept in the build account while an instance there
// uses it), one more rebuild and an up (keepLatest retires that old image once
// unused, although it is shared with the second account: the target copies,
// never launches, it), the target dropped (copy deleted, share revoked),
// destroy (the second account as it was).
import {
    DescribeImageAttributeCommand,
    DescribeImagesCommand,
    DescribeSnapshotsCommand,
    DeregisterImageCommand,
    EC2Client,
    type Image,
    paginateDescribeImages,
    paginateDescribeSnapshots,
    RunInstancesCommand,
    TerminateInstancesCommand,
    waitUntilInstanceTerminated,
} from "@aws-sdk/client-ec2";
import { CreateKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import { GetParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { fromTemporaryCredentials } from "@aws-sdk/credential-providers";
import assert from "node:assert/strict";
import { startEmulator, type Emulator } from "../../emulator/emulator";
import { refusal } from "../support/aws-errors";
import { newStack, type Stack } from "../support/consumer";

const HOME = "us-east-1";
const TARGET = "us-west-2";
const CALLER = "123456789012";
const OTHER = "111122223333";
const ROLE_ARN = `arn:aws:iam::${OTHER}:role/golden-ami-distribute`;
const BASE = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";
const PARAMETER = "/golden/distributed/web";

describe("GoldenImage distribute and AmiCopy from a shared source, two accounts (real pulumi CLI, packed package, strict emulator)", () => {
    let emulator: Emulator;
    let stack: Stack;
    let keyArn: string;
    const credentials = { accessKeyId: "testing", secretAccessKey: "testing" };
    const clientConfig = (region: string) => ({ region, endpoint: emulator.endpoint });
    const theirCredentials = (region: string) =>
        fromTemporaryCredentials({
            params: { RoleArn: ROLE_ARN, RoleSessionName: "e2e-check" },
            masterCredentials: credentials,
            clientConfig: clientConfig(region),
        });
    const mine = (region: string) => new EC2Client({ ...clientConfig(region), credentials });
    const theirs = (region: string) => new EC2Client({ ...clientConfig(region), credentials: theirCredentials(region) });

    /** An account's own images (not deregistered) and snapshots in a region, every page. */
    const owned = async (client: EC2Client) => {
        try {
            const images: Image[] = [];
            for await (const page of paginateDescribeImages({ client }, { Owners: ["self"] })) images.push(...(page.Images ?? []));
            const snapshots: string[] = [];
            for await (const page of paginateDescribeSnapshots({ client }, { OwnerIds: ["self"] })) {
                snapshots.push(...(page.Snapshots ?? []).map((s) => s.SnapshotId!));
            }
            return {
                images: images
                    .filter((i) => i.State !== "deregistered")
                    .map((i) => i.ImageId!)
                    .sort(),
                snapshots: snapshots.sort(),
            };
        } finally {
            client.destroy();
        }
    };
    /** Instances in the build account running the pipeline's images. */
    const buildUsers: { instanceId: string; imageId: string }[] = [];
    const launch = async (imageId: string) => {
        const client = mine(HOME);
        const run = await client.send(new RunInstancesCommand({ ImageId: imageId, InstanceType: "t3.micro", MinCount: 1, MaxCount: 1 }));
        client.destroy();
        return { instanceId: run.Instances![0].InstanceId!, imageId };
    };
    const end = async (instanceId: string) => {
        const client = mine(HOME);
        await client.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
        await waitUntilInstanceTerminated({ client, maxWaitTime: 60, minDelay: 1, maxDelay: 2 }, { InstanceIds: [instanceId] });
        client.destroy();
    };
    const tagsOf = (img: Image) => Object.fromEntries((img.Tags ?? []).map((t) => [t.Key!, t.Value!]));
    let untouched: Record<string, Awaited<ReturnType<typeof owned>>>;

    before(async function () {
        this.timeout(300_000);
        emulator = await startEmulator({ builderBootMs: 2000 });
        // The second account's own key, in the region its AmiCopy is made in.
        const kms = new KMSClient({ ...clientConfig(HOME), credentials: theirCredentials(HOME) });
        keyArn = (await kms.send(new CreateKeyCommand({ Description: "copies of shared golden images" }))).KeyMetadata!.Arn!;
        kms.destroy();
        assert.match(keyArn, new RegExp(`^arn:aws:kms:${HOME}:${OTHER}:key/`));
        untouched = { [HOME]: await owned(theirs(HOME)), [TARGET]: await owned(theirs(TARGET)) };
        stack = await newStack("distribute-accounts", "dist", { ...emulator.env, GOLDEN_AMI_POLL_SCALE: "0.05" });
        await stack.config({
            "aws:region": HOME,
            baseParameter: BASE,
            roleArn: ROLE_ARN,
            targetRegion: TARGET,
            targetParameter: PARAMETER,
            targetKeyArn: keyArn,
        });
    });
    after(async function () {
        this.timeout(120_000);
        await emulator?.stop();
    });

    it("up: the image is shared with the second account, which owns its copy (tagged, published there) and its encrypted AmiCopy", async function () {
        this.timeout(600_000);
        await stack.run(["up", "--yes", "--skip-preview"]);
        const out = await stack.outputs();
        const imageId = out.imageId as string;
        const copyId = (out.distributedImageIds as Record<string, Record<string, string>>)[OTHER][TARGET];

        // The image is the caller's, shared with the second account (its launch permission), untouched otherwise.
        const home = mine(HOME);
        const [image] = (await home.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images!;
        const perms = await home.send(new DescribeImageAttributeCommand({ ImageId: imageId, Attribute: "launchPermission" }));
        home.destroy();
        assert.equal(image.OwnerId, CALLER);
        assert.deepEqual(
            perms.LaunchPermissions!.map((p) => p.UserId),
            [OTHER],
        );
        assert.ok(!Object.keys(tagsOf(image)).some((k) => /AmiCopy/.test(tagsOf(image)[k])), "the AmiCopy never tagged its source");

        // The distributed copy: the second account's, in the target region, tagged with the pipeline, its own snapshots.
        const target = theirs(TARGET);
        const [copy] = (await target.send(new DescribeImagesCommand({ ImageIds: [copyId] }))).Images!;
        const snaps = copy.BlockDeviceMappings!.filter((m) => m.Ebs).map((m) => m.Ebs!.SnapshotId!);
        const snapshots = (await target.send(new DescribeSnapshotsCommand({ SnapshotIds: snaps }))).Snapshots!;
        target.destroy();
        assert.equal(copy.State, "available");
        assert.equal(copy.OwnerId, OTHER);
        assert.equal(copy.SourceImageId, imageId);
        assert.match(tagsOf(copy)["golden-ami:pipeline"], /^e2e-distribute-accounts\/.+\/web$/);
        assert.equal(tagsOf(copy).App, "web");
        assert.ok(snapshots.length > 0 && snapshots.every((s) => s.OwnerId === OTHER));
        // Not visible to the caller: the copy is not the caller's.
        assert.equal(await refusal(mine(TARGET).send(new DescribeImagesCommand({ ImageIds: [copyId] }))), "InvalidAMIID.NotFound");

        // Published in the second account's SSM, in the copy's region.
        const ssm = new SSMClient({ ...clientConfig(TARGET), credentials: theirCredentials(TARGET) });
        const parameter = (await ssm.send(new GetParameterCommand({ Name: PARAMETER }))).Parameter!;
        ssm.destroy();
        assert.equal(parameter.Value, copyId);

        // The AmiCopy from the shared source: the second account's, encrypted with its own key.
        const there = theirs(HOME);
        const [shared] = (await there.send(new DescribeImagesCommand({ ImageIds: [out.sharedCopyId as string] }))).Images!;
        there.destroy();
        assert.equal(shared.OwnerId, OTHER);
        assert.equal(shared.SourceImageId, imageId);
        assert.ok(shared.BlockDeviceMappings!.filter((m) => m.Ebs).every((m) => m.Ebs!.Encrypted && m.Ebs!.KmsKeyId === keyArn));
    });

    it("a new build replaces the second account's copy there; the guard run there keeps the old one while an instance of that account uses it", async function () {
        this.timeout(600_000);
        const first = await stack.outputs();
        const oldCopy = (first.distributedImageIds as Record<string, Record<string, string>>)[OTHER][TARGET];
        const steady = await stack.run(["preview", "--expect-no-changes"], { check: false });
        assert.equal(steady.code, 0, `a second preview shows changes:\n${steady.stdout}`);
        // An instance in the second account runs the old copy: only that account's in-use check can see it.
        const user = theirs(TARGET);
        const run = await user.send(new RunInstancesCommand({ ImageId: oldCopy, InstanceType: "t3.micro", MinCount: 1, MaxCount: 1 }));
        const instanceId = run.Instances![0].InstanceId!;
        // And one in the build account runs the old image (the next test ends that use).
        buildUsers.push(await launch(first.imageId as string));
        await stack.config({ version: "2" });
        await stack.run(["up", "--yes", "--skip-preview"]);
        const home = mine(HOME);
        const [keptHere] = (await home.send(new DescribeImagesCommand({ ImageIds: [first.imageId as string] }))).Images!;
        home.destroy();
        assert.equal(keptHere.State, "available", "the old image is kept in the build account: in use there");
        const [kept] = (await user.send(new DescribeImagesCommand({ ImageIds: [oldCopy] }))).Images!;
        assert.equal(kept.State, "available", "kept: in use in its account");
        assert.ok(tagsOf(kept)["golden-ami:kept-in-use"], `tagged as kept: ${JSON.stringify(tagsOf(kept))}`);
        // The user moves off it and retires it (keepLatest would, in the stack).
        await user.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
        await waitUntilInstanceTerminated({ client: user, maxWaitTime: 60, minDelay: 1, maxDelay: 2 }, { InstanceIds: [instanceId] });
        await user.send(new DeregisterImageCommand({ ImageId: oldCopy, DeleteAssociatedSnapshots: true }));
        user.destroy();
        const out = await stack.outputs();
        const newCopy = (out.distributedImageIds as Record<string, Record<string, string>>)[OTHER][TARGET];
        assert.notEqual(out.imageId, first.imageId);
        assert.notEqual(newCopy, oldCopy);
        const target = theirs(TARGET);
        const [current] = (await target.send(new DescribeImagesCommand({ ImageIds: [newCopy] }))).Images!;
        const currentSnapshots = current.BlockDeviceMappings!.filter((m) => m.Ebs).map((m) => m.Ebs!.SnapshotId!);
        // EC2 answers a deregistered image as `deregistered` for a while, then not at all.
        const old = await target.send(new DescribeImagesCommand({ ImageIds: [oldCopy] })).then(
            (r) => r.Images?.[0]?.State,
            (e: Error) => e.name,
        );
        target.destroy();
        assert.ok(old === "deregistered" || old === "InvalidAMIID.NotFound", `the old copy ${oldCopy}: ${old}`);
        const ssm = new SSMClient({ ...clientConfig(TARGET), credentials: theirCredentials(TARGET) });
        assert.equal((await ssm.send(new GetParameterCommand({ Name: PARAMETER }))).Parameter!.Value, newCopy);
        ssm.destroy();
        // Only the current copy and its snapshots are left in the second account's target region.
        const now = await owned(theirs(TARGET));
        assert.deepEqual(now.images, [...untouched[TARGET].images, newCopy].sort());
        assert.deepEqual(now.snapshots, [...untouched[TARGET].snapshots, ...currentSnapshots].sort());
    });

    it("the build account's old image, kept while in use, is retired by keepLatest once unused although it is shared with the second account", async function () {
        this.timeout(600_000);
        const [oldest] = buildUsers.splice(0);
        const second = await stack.outputs();
        const imageA = oldest.imageId;
        const imageB = second.imageId as string;
        const home = mine(HOME);
        const snapshotsOf = async (imageId: string) => {
            const [img] = (await home.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images!;
            return img.BlockDeviceMappings!.filter((m) => m.Ebs).map((m) => m.Ebs!.SnapshotId!);
        };
        const sharedWith = async (imageId: string) =>
            (
                await home.send(new DescribeImageAttributeCommand({ ImageId: imageId, Attribute: "launchPermission" }))
            ).LaunchPermissions!.map((p) => p.UserId);
        const snapshotsA = await snapshotsOf(imageA);
        assert.deepEqual(await sharedWith(imageA), [OTHER], "still shared with the target");
        // B is kept at the next rebuild (in use), so that A is not the newest old image keepLatest: 1 keeps.
        const userB = await launch(imageB);
        await end(oldest.instanceId);
        await stack.config({ version: "3" });
        // Nothing uses A now: only its share with the target, which copies and never launches it, is left. The rebuild's
        // keepLatest may retire it already (B's use is asked only when B could go), else the next up (B unused) does.
        const rebuild = await stack.run(["up", "--yes", "--skip-preview"]);
        await end(userB.instanceId);
        const next = await stack.run(["up", "--yes", "--skip-preview"]);
        const up = { stdout: rebuild.stdout + next.stdout };
        const gone = await home.send(new DescribeImagesCommand({ ImageIds: [imageA] })).then(
            (r) => r.Images?.[0]?.State,
            (e: Error) => e.name,
        );
        assert.ok(gone === "deregistered" || gone === "InvalidAMIID.NotFound", `the old image ${imageA}: ${gone}\n${up.stdout}`);
        assert.match(
            up.stdout,
            new RegExp(
                `retires although shared, because the only shares are with accounts that copy it \\(copyOnlyAccounts\\): ${HOME}/${imageA} \\(account ${OTHER}\\)`,
            ),
        );
        const left = await owned(mine(HOME));
        assert.ok(!snapshotsA.some((s) => left.snapshots.includes(s)), "its snapshots went with it");
        // B, the newest old image, is kept by keepLatest: 1; the user retires it so the next steps start clean.
        const [b] = (await home.send(new DescribeImagesCommand({ ImageIds: [imageB] }))).Images!;
        assert.equal(b.State, "available");
        await home.send(new DeregisterImageCommand({ ImageId: imageB, DeleteAssociatedSnapshots: true }));
        home.destroy();
    });

    it("a target dropped from distribute: its copy and parameter are deleted there and the share is revoked", async function () {
        this.timeout(600_000);
        await stack.config({ distribute: "off" });
        await stack.run(["up", "--yes", "--skip-preview"]);
        const out = await stack.outputs();
        assert.deepEqual(out.distributedImageIds, {});
        const home = mine(HOME);
        const perms = await home.send(new DescribeImageAttributeCommand({ ImageId: out.imageId as string, Attribute: "launchPermission" }));
        home.destroy();
        assert.deepEqual(perms.LaunchPermissions, []);
        assert.deepEqual(await owned(theirs(TARGET)), untouched[TARGET]);
        const ssm = new SSMClient({ ...clientConfig(TARGET), credentials: theirCredentials(TARGET) });
        assert.equal(await refusal(ssm.send(new GetParameterCommand({ Name: PARAMETER }))), "ParameterNotFound");
        ssm.destroy();
    });

    it("destroy: the second account's copies, their snapshots and the parameter are gone; the account is as it was", async function () {
        this.timeout(600_000);
        await stack.run(["destroy", "--yes", "--skip-preview"]);
        for (const region of [HOME, TARGET])
            assert.deepEqual(await owned(theirs(region)), untouched[region], `account ${OTHER}, ${region}`);
        for (const region of [HOME, TARGET]) assert.deepEqual((await owned(mine(region))).images, [], `account ${CALLER}, ${region}`);
        const ssm = new SSMClient({ ...clientConfig(TARGET), credentials: theirCredentials(TARGET) });
        assert.equal(await refusal(ssm.send(new GetParameterCommand({ Name: PARAMETER }))), "ParameterNotFound");
        ssm.destroy();
    });
});
