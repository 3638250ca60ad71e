// An AmiRetentionPolicy with `assumeRole` under the real `pulumi` CLI against
// the emulator with two accounts: the caller's (moto's default) and the
// role's. The policy previews and retires in the role's account only; the
// caller's images of the same names stay. A second policy of the same stack,
// in the caller's account with `retireShared: "when-unused"`, retires an
// image it shares that the usage report shows unused, and keeps one the
// role's account runs an instance from. One stack.
import {
    DeregisterImageCommand,
    DescribeImagesCommand,
    EC2Client,
    ModifyImageAttributeCommand,
    RunInstancesCommand,
    TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import { fromTemporaryCredentials } from "@aws-sdk/credential-providers";
import assert from "node:assert/strict";
import { registerSnapshotImage } from "../../scripts/lib/ec2-fixtures";
import { motoEnv } from "../../scripts/lib/moto";
import { newStack, Stack } from "../support/consumer";
import { currentMoto } from "../support/moto-hooks";
import { sweepAfterSuite } from "../support/sweep-teardown";

const REGION = "ca-central-1";
const OTHER = "111122223333";
const ROLE_ARN = `arn:aws:iam::${OTHER}:role/golden-ami-retention`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("AmiRetentionPolicy in another account (assumeRole; real pulumi CLI, packed package, emulator)", () => {
    const mine = new EC2Client({ region: REGION });
    const theirs = new EC2Client({
        region: REGION,
        credentials: fromTemporaryCredentials({
            params: { RoleArn: ROLE_ARN, RoleSessionName: "e2e-seed" },
            clientConfig: { region: REGION },
        }),
    });
    const images = { mine: [] as string[], theirs: [] as string[], shared: [] as string[] };
    let theirInstance: string | undefined;
    let stack: Stack;

    /** An image of one 1 GiB snapshot, available, named `e2e-acct-<n>`. */
    const register = (client: EC2Client, n: number): Promise<string> => registerSnapshotImage(client, REGION, `e2e-acct-${n}`);
    const owned = async (client: EC2Client, pattern = "e2e-acct-*") => {
        const out = await client.send(new DescribeImagesCommand({ Owners: ["self"], Filters: [{ Name: "name", Values: [pattern] }] }));
        return (out.Images ?? []).filter((i) => i.State !== "deregistered").map((i) => i.ImageId!);
    };

    before(async function () {
        this.timeout(300_000);
        // Three images in each account, and three of the caller's to share, one second apart (creation dates have one-second resolution).
        for (let n = 1; n <= 3; n++) {
            const [m, t, s] = await Promise.all([
                register(mine, n),
                register(theirs, n),
                registerSnapshotImage(mine, REGION, `e2e-shared-${n}`),
            ]);
            images.mine.push(m);
            images.theirs.push(t);
            images.shared.push(s);
            await sleep(1100);
        }
        // The two older shared images are shared with the role's account, which runs an instance from the second.
        for (const id of images.shared.slice(0, 2))
            await mine.send(new ModifyImageAttributeCommand({ ImageId: id, LaunchPermission: { Add: [{ UserId: OTHER }] } }));
        const run = await theirs.send(
            new RunInstancesCommand({ ImageId: images.shared[1], InstanceType: "t3.micro", MinCount: 1, MaxCount: 1 }),
        );
        theirInstance = run.Instances![0].InstanceId!;
        stack = await newStack("retention-accounts", "acct", motoEnv(currentMoto().endpoint, REGION));
        await stack.config({
            "aws:region": REGION,
            namePattern: "e2e-acct-*",
            keepLatest: "1",
            roleArn: ROLE_ARN,
            sharedPattern: "e2e-shared-*",
        });
        await stack.run(["config", "set", "--secret", "externalId", "e2e-external-id"]);
    });
    after(async function () {
        this.timeout(120_000);
        await stack?.run(["destroy", "--yes", "--skip-preview"], { check: false });
        // The role's account: not the sweep's (it sweeps the caller's).
        for (const id of await owned(theirs))
            await theirs.send(new DeregisterImageCommand({ ImageId: id, DeleteAssociatedSnapshots: true }));
        if (theirInstance) await theirs.send(new TerminateInstancesCommand({ InstanceIds: [theirInstance] }));
        for (const id of await owned(mine, "e2e-shared-*"))
            await mine.send(new DeregisterImageCommand({ ImageId: id, DeleteAssociatedSnapshots: true }));
        mine.destroy();
        theirs.destroy();
    });

    it("preview names the role's account and plans only its images; the shared policy holds shared images back until their usage reports", async function () {
        this.timeout(300_000);
        const { stdout } = await stack.run(["preview"]);
        assert.match(stdout, /retention other-images \(account 111122223333\): will retire 2 images \(ca-central-1: 2\)/);
        // The shared policy: no report at preview; both shared candidates held back, saying on what they depend.
        assert.match(stdout, /retention shared-images: will retire 0 images; 2 held back \(shared, usage report at apply\)/);
        assert.match(
            stdout,
            new RegExp(
                `retention shared-images: kept unless EC2's image usage report at apply shows no instance or launch template using it in another account \\(shared\\): ${REGION}/${images.shared[0]}, ${REGION}/${images.shared[1]}`,
            ),
        );
    });

    it("up retires the role's account's older images; the caller's images of the same names stay", async function () {
        this.timeout(300_000);
        await stack.run(["up", "--yes", "--skip-preview"]);
        assert.deepEqual(await owned(theirs), [images.theirs[2]]);
        assert.deepEqual((await owned(mine)).sort(), [...images.mine].sort());
        const run = (await stack.outputs()).lastRun as { retired: { imageId: string }[] };
        assert.deepEqual(run.retired.map((r) => r.imageId).sort(), images.theirs.slice(0, 2).sort());
        // The caller's shared images: the unused one retired, the one the role's account runs kept, saying why; the newest kept.
        assert.deepEqual((await owned(mine, "e2e-shared-*")).sort(), images.shared.slice(1).sort());
        const shared = (await stack.outputs()).sharedLastRun as {
            retired: { imageId: string }[];
            skipped: { imageId: string; reason: string }[];
        };
        assert.deepEqual(
            shared.retired.map((r) => r.imageId),
            [images.shared[0]],
        );
        const kept = shared.skipped.find((s) => s.imageId === images.shared[1]);
        assert.match(kept?.reason ?? "", /in use in another account: usage report amiur-\w+ shows account 111122223333: 1 instance/);
        const state = JSON.stringify(await stack.export());
        assert.ok(!state.includes("e2e-external-id"), "the external id is not in state in plaintext");
    });

    // Last, so it runs after the suite's own teardown.
    sweepAfterSuite([REGION]);
});
