// The EC2 boundary: one client factory, and check/diff that never load the AWS SDK.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { autoScalingClient, ec2Client, ssmClient, withRole } from "../../dynamic-providers/ec2/client";

describe("EC2 boundary", () => {
    it("gives one client per service and region, and never one region's client for another", () => {
        assert.equal(ec2Client("us-east-1"), ec2Client({ region: "us-east-1" }));
        assert.notEqual(ec2Client("us-east-1"), ec2Client("us-west-2"));
        assert.notEqual(ssmClient("us-east-1") as unknown, ec2Client("us-east-1") as unknown);
        assert.equal(autoScalingClient("eu-west-1"), autoScalingClient("eu-west-1"));
    });

    it("keys clients on the role: another role (account) never shares a client; a hook's role reaches clients asked for by region", async () => {
        const role = { roleArn: "arn:aws:iam::111122223333:role/golden-ami" };
        const assumed = ec2Client({ region: "us-east-1", ...role });
        assert.notEqual(assumed, ec2Client("us-east-1"));
        assert.equal(assumed, ec2Client({ region: "us-east-1", ...role }));
        assert.notEqual(assumed, ec2Client({ region: "us-east-1", roleArn: "arn:aws:iam::444455556666:role/golden-ami" }));
        assert.equal(await withRole(role, async () => ec2Client("us-east-1")), assumed);
        assert.equal(await withRole(undefined, async () => ec2Client("us-east-1")), ec2Client("us-east-1"));
        assert.notEqual(await withRole(role, async () => ssmClient("us-east-1")), ssmClient("us-east-1"));
    });

    it("runs every image kind's check and diff of an unchanged resource without loading the AWS SDK (preview stays light)", () => {
        // A create or a replacement may read its source at preview (a source that
        // does not exist is refused there); a steady stack's preview reads nothing,
        // except for kinds whose descriptor says every check asks EC2 (a bake resolves its base image).
        const script = `
            const planning = require("./dynamic-providers/image-planning");
            const { IMAGE_KINDS } = require("./sdk/image-kind-registry");
            (async () => {
                const ran = [];
                for (const kind of IMAGE_KINDS) {
                    const inputs = kind.example;
                    if (kind.needsEc2Check && kind.needsEc2Check(inputs, inputs)) continue;
                    const { failures } = await planning.check(kind.module, inputs, inputs);
                    if (failures.length) throw new Error(kind.type + ": " + JSON.stringify(failures));
                    await planning.diff(kind.module, "ami-1", inputs, inputs);
                    ran.push(kind.type);
                }
                const loaded = Object.keys(require.cache).filter((k) => k.includes("@aws-sdk"));
                process.stdout.write(JSON.stringify({ ran, loaded }));
            })();`;
        const r = spawnSync(process.execPath, ["-r", "ts-node/register", "-e", script], {
            cwd: path.join(__dirname, "..", ".."),
            env: { ...process.env, TS_NODE_TRANSPILE_ONLY: "true" },
            encoding: "utf8",
        });
        assert.equal(r.status, 0, r.stderr);
        // The last line: diff prints why a replacement happens before it.
        const { ran, loaded } = JSON.parse(r.stdout.trim().split("\n").pop()!);
        assert.ok(ran.includes("AmiFromInstance") && ran.includes("AmiCopy"), ran.join(", "));
        assert.deepEqual(loaded, []);
    });
});
