// No credential ever reaches state or logs; secret inputs stay secret in
// state; an image is never made public unless asked. Canary values stand in
// for credentials (moto accepts any).
import { DescribeImageAttributeCommand, EC2Client } from "@aws-sdk/client-ec2";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import assert from "node:assert/strict";
import { motoEnv } from "../../scripts/lib/moto";
import { createSourceInstance } from "../../scripts/lib/ec2-fixtures";
import { newStack } from "../support/consumer";
import { currentMoto } from "../support/moto-hooks";
import { sweepAfterSuite } from "../support/sweep-teardown";

const REGION = "us-east-1";

function filesUnder(dir: string): string[] {
    return fs
        .readdirSync(dir, { withFileTypes: true })
        .flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

describe("security (real pulumi CLI, moto)", () => {
    it("keeps credentials out of state and logs, secret inputs secret, and images private", async () => {
        const canary = {
            AWS_ACCESS_KEY_ID: `AKIDCANARY${randomBytes(6).toString("hex").toUpperCase()}`,
            AWS_SECRET_ACCESS_KEY: `canary-secret-${randomBytes(12).toString("hex")}`,
            AWS_SESSION_TOKEN: `canary-token-${randomBytes(12).toString("hex")}`,
        };
        const note = `canary-note-${randomBytes(8).toString("hex")}`;
        const { instanceId } = await createSourceInstance(REGION);
        const stack = await newStack("ami-from-instance", "security", { ...motoEnv(currentMoto().endpoint, REGION), ...canary });
        await stack.config({ "aws:region": REGION, sourceInstanceId: instanceId });
        await stack.run(["config", "set", "--secret", "note", note]);

        const logs: string[] = [];
        const run = async (args: string[]) => {
            const r = await stack.run(args);
            logs.push(r.stdout, r.stderr);
        };
        await run(["preview", "--diff"]);
        await run(["up", "--yes", "--skip-preview", "--diff"]);
        await run(["refresh", "--yes", "--skip-preview"]);
        const exported = JSON.stringify(await stack.export());
        const { imageId } = (await stack.outputs()) as { imageId: string };

        const ec2 = new EC2Client({ region: REGION });
        try {
            const perms = await ec2.send(new DescribeImageAttributeCommand({ ImageId: imageId, Attribute: "launchPermission" }));
            assert.deepEqual(perms.LaunchPermissions, [], "nobody but the owner may launch it");
        } finally {
            ec2.destroy();
        }
        await run(["destroy", "--yes", "--skip-preview"]);

        const stateFiles = filesUnder(path.join(stack.dir, ".state")).map((f) => fs.readFileSync(f, "utf8"));
        for (const [name, value] of Object.entries(canary)) {
            assert.ok(!exported.includes(value), `${name} in stack export`);
            assert.ok(!logs.some((l) => l.includes(value)), `${name} in pulumi output`);
            assert.ok(!stateFiles.some((f) => f.includes(value)), `${name} in the state files`);
        }
        assert.ok(!exported.includes(note), "the secret input is not in plain text in state");
        assert.ok(exported.includes("ciphertext"), "it is there, encrypted");
        assert.ok(!logs.some((l) => l.includes(note)), "nor in the output");
    });

    // Last, so it runs after the suite's own teardown (instances terminated, clients closed).
    sweepAfterSuite([REGION]);
});
