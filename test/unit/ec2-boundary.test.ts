// The EC2 boundary: one client factory, and check/diff that never load the AWS SDK.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { autoScalingClient, ec2Client, ssmClient } from "../../dynamic-providers/ec2/client";

describe("EC2 boundary", () => {
    it("gives one client per service and region, and never one region's client for another", () => {
        assert.equal(ec2Client("us-east-1"), ec2Client({ region: "us-east-1" }));
        assert.notEqual(ec2Client("us-east-1"), ec2Client("us-west-2"));
        assert.notEqual(ssmClient("us-east-1") as unknown, ec2Client("us-east-1") as unknown);
        assert.equal(autoScalingClient("eu-west-1"), autoScalingClient("eu-west-1"));
    });

    it("refuses a role to assume with a clear error instead of using the default credentials", () => {
        assert.throws(
            () => ec2Client({ region: "us-east-1", roleArn: "arn:aws:iam::111122223333:role/golden-ami" }),
            /assuming role arn:aws:iam::111122223333:role\/golden-ami is not supported/,
        );
    });

    it("runs every image kind's check and diff of an unchanged resource without loading the AWS SDK (preview stays light)", () => {
        // A create or a replacement may read its source at preview (a source that
        // does not exist is refused there); a steady stack's preview reads nothing.
        const script = `
            const planning = require("./dynamic-providers/image-planning");
            const steady = (kind, inputs) => planning.check(kind, inputs, inputs);
            (async () => {
                const base = { region: "us-east-1", name: "web-1" };
                await steady("ami-from-instance", { ...base, sourceInstanceId: "i-0123456789abcdef0" });
                await steady("ami-copy", { ...base, sourceAmiId: "ami-0123456789abcdef0", sourceAmiRegion: "us-west-2" });
                await steady("ami-from-snapshot", { ...base, blockDeviceMappings: [{ deviceName: "/dev/xvda", ebs: { snapshotId: "snap-0123456789abcdef0" } }] });
                await planning.check("managed-ami", {}, { region: "us-east-1", imageId: "ami-0123456789abcdef0" });
                await planning.diff("ami-copy", "ami-1", { ...base, sourceAmiId: "ami-0123456789abcdef0", sourceAmiRegion: "us-west-2" }, { ...base, sourceAmiId: "ami-0123456789abcdef1", sourceAmiRegion: "us-west-2" });
                const loaded = Object.keys(require.cache).filter((k) => k.includes("@aws-sdk"));
                process.stdout.write(JSON.stringify(loaded));
            })();`;
        const r = spawnSync(process.execPath, ["-r", "ts-node/register", "-e", script], {
            cwd: path.join(__dirname, "..", ".."),
            env: { ...process.env, TS_NODE_TRANSPILE_ONLY: "true" },
            encoding: "utf8",
        });
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(JSON.parse(r.stdout), []);
    });
});
