// Bad input for every resource is refused at `pulumi preview` and `pulumi up`
// by the real CLI, with the property and what is allowed; nothing is created.
// (Every rule is in the unit tables: test/unit/validation.test.ts and
// test/unit/retention-policy.test.ts; here one per resource, end to end.)
import assert from "node:assert/strict";
import { motoEnv } from "../../scripts/lib/moto";
import { inventory } from "../../scripts/lib/ec2-fixtures";
import { newStack } from "../support/consumer";
import { currentMoto } from "../support/moto-hooks";
import { sweepAfterSuite } from "../support/sweep-teardown";

const REGION = "us-east-1";

const CASES: [string, Record<string, unknown>, RegExp][] = [
    ["AmiFromInstance", { sourceInstanceId: "i-0123456789abcdef0", name: "web#1" }, /name: "web#1" has characters EC2 refuses/],
    [
        "AmiCopy",
        { sourceAmiId: "ami-0123456789abcdef0", sourceAmiRegion: "us-east-1", region: "us-west-2", kmsKeyId: "alias/dr" },
        /kmsKeyId: is set but encrypted is not true; set encrypted: true/,
    ],
    // Errors EC2 would give only at up, read at preview: sources that do not exist.
    [
        "AmiFromInstance",
        { sourceInstanceId: "i-0123456789abcdef0" },
        /sourceInstanceId: instance i-0123456789abcdef0 does not exist in us-east-1 or is terminated; set sourceInstanceId/,
    ],
    [
        "AmiCopy",
        { sourceAmiId: "ami-0123456789abcdef0", sourceAmiRegion: "us-east-1", region: "us-west-2" },
        /sourceAmiId: AMI ami-0123456789abcdef0 does not exist in us-east-1 .*set sourceAmiId to an available AMI/,
    ],
    [
        "AmiFromSnapshot",
        { blockDeviceMappings: [{ deviceName: "/dev/xvda", ebs: { snapshotId: "snap-0123456789abcdef0" } }] },
        /blockDeviceMappings: snapshot snap-0123456789abcdef0 does not exist in us-east-1; set ebs.snapshotId/,
    ],
    [
        "AmiReplicaSet",
        { sourceAmiId: "ami-0123456789abcdef0", sourceAmiRegion: "us-east-1", regions: ["us-west-2", "us-west-2"] },
        /regions: repeats us-west-2; give each region once/,
    ],
    ["ManagedAmi", { imageId: "image-1" }, /imageId: "image-1" is not an AMI id/],
    ["AmiRetentionPolicy", { selector: {}, keepLatest: 0 }, /keepLatest: must be a whole number of at least 1/],
    ["AmiRetentionPolicy", { selector: { owners: ["self"] }, keepLatest: 2 }, /selector: needs namePattern or tags/],
    ["GoldenImage", { baseImage: { imageId: "ami-0123456789abcdef0" }, build: {} }, /build\.instanceType: is required/],
    [
        "GoldenImage",
        { baseImage: { imageId: "ami-0123456789abcdef0", ssmParameter: "/golden/base" }, build: { instanceType: "t3.small" } },
        /baseImage: gives ssmParameter and imageId; give exactly one of/,
    ],
];

describe("bad input under the real CLI (moto)", () => {
    for (const [i, [kind, args, reason]] of CASES.entries()) {
        it(`${kind}: ${reason.source.slice(0, 60)}`, async () => {
            // A source not found is asked for again for a few seconds (it may be new): shortened here.
            const env = { ...motoEnv(currentMoto().endpoint, REGION), GOLDEN_AMI_POLL_SCALE: "0.01" };
            const stack = await newStack("bad-input", `bad-${i}`, env);
            await stack.config({ "aws:region": REGION, kind, args: JSON.stringify(args) });
            const before = await inventory(REGION);
            for (const cmd of [["preview"], ["up", "--yes", "--skip-preview"]]) {
                const r = await stack.run(cmd, { check: false });
                assert.notEqual(r.code, 0, `${cmd[0]} must fail`);
                assert.match(r.stdout + r.stderr, reason);
            }
            assert.deepEqual(await inventory(REGION), before, "nothing was created");
            const state = await stack.export();
            // A GoldenImage's component may be recorded; it holds nothing in AWS. Its bake must not be.
            const inState = (state.deployment.resources ?? []).filter(
                (r) => r.urn.endsWith("::subject") && r.type !== "golden-ami:index:GoldenImage",
            );
            assert.deepEqual(inState, [], "nothing in state");
        });
    }

    // Last, so it runs after the suite's own teardown (instances terminated, clients closed).
    sweepAfterSuite([REGION]);
});
