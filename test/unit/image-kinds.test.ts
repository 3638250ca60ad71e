// Image kinds are described once: identity, defaults and rules drive names,
// tokens, check and diff. These pin what must never move.
import { DescribeImagesCommand, EC2Client } from "@aws-sdk/client-ec2";
import { mockClient } from "aws-sdk-client-mock";
import fc from "fast-check";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { copyClientToken } from "../../dynamic-providers/ami-copy";
import { REPLACE_KEYS as FROM_INSTANCE_REPLACES } from "../../dynamic-providers/ami-from-instance";
import { describeImagesById } from "../../dynamic-providers/ec2/inventory";
import { REPLACE_KEYS as MANAGED_REPLACES } from "../../dynamic-providers/managed-ami";
import { descriptor as amiCopy } from "../../sdk/ami-copy";
import { descriptor as amiFromInstance } from "../../sdk/ami-from-instance";
import { identityValues } from "../../sdk/image-kind";
import { runRules } from "../../sdk/rules/runner";
import { booleanRule } from "../../sdk/rules/primitives";
import { ec2Error } from "../support/aws-errors";

describe("image kind descriptors", () => {
    it("keep AmiCopy's idempotency token as every earlier release computed it (a changed token would copy again)", () => {
        const before = (i: Record<string, unknown>, salt = "") =>
            `golden-ami-${createHash("sha256")
                .update(JSON.stringify([i.name, i.sourceAmiId, i.sourceAmiRegion, i.region, !!i.encrypted, i.kmsKeyId ?? "", salt]))
                .digest("hex")
                .slice(0, 52)}`;
        fc.assert(
            fc.property(
                fc.record({
                    name: fc.string({ minLength: 3 }),
                    sourceAmiId: fc.constantFrom("ami-0123456789abcdef0", "ami-12345678"),
                    sourceAmiRegion: fc.constantFrom("us-east-1", "eu-west-1"),
                    region: fc.constantFrom("us-west-2", "us-east-1"),
                    encrypted: fc.option(fc.boolean(), { nil: undefined }),
                    kmsKeyId: fc.option(fc.constantFrom("alias/dr", "mrk-0123456789abcdef0123456789abcdef"), { nil: undefined }),
                }),
                fc.string(),
                (inputs, salt) => {
                    assert.equal(copyClientToken(inputs as never, salt), before(inputs, salt));
                },
            ),
        );
    });

    it("hash the same identity for automatic names as before (a changed name would replace every image)", () => {
        const inputs = { sourceInstanceId: "i-0123456789abcdef0", region: "us-east-1", name: "ignored" };
        assert.deepEqual(identityValues(amiFromInstance, inputs), ["i-0123456789abcdef0", false, [], "us-east-1"]);
        const copy = { sourceAmiId: "ami-0123456789abcdef0", sourceAmiRegion: "us-east-1", region: "us-west-2" };
        assert.deepEqual(identityValues(amiCopy, copy), ["ami-0123456789abcdef0", "us-east-1", "us-west-2", false, ""]);
    });

    it("replace on exactly their identity", () => {
        assert.deepEqual(FROM_INSTANCE_REPLACES, ["sourceInstanceId", "name", "snapshotWithoutReboot", "blockDeviceMappings", "region"]);
        assert.deepEqual(MANAGED_REPLACES, ["imageId", "region"]);
    });
});

describe("rule runner", () => {
    const now = new Date();
    it("runs entries in order: required, field rules, relations skipped once their property failed", () => {
        const table = [
            { property: "a", rule: booleanRule, required: "is required" },
            { property: "b", rule: booleanRule },
            { property: "b", unlessFailed: true, relation: () => "never reached when b failed" },
            { property: "c", relation: ({ news }: { news: Record<string, unknown> }) => (news.c === 1 ? "is one" : undefined) },
        ];
        assert.deepEqual(
            runRules(table, { news: { b: "x", c: 1 }, olds: undefined, now }).map((f) => f.reason),
            ["a: is required", 'b: must be true or false, got "x"', "c: is one"],
        );
        assert.deepEqual(
            runRules(table, { news: { a: true, b: true }, olds: undefined, now }).map((f) => f.reason),
            ["b: never reached when b failed"],
        );
    });
});

describe("inventory re-check by id", () => {
    const ec2 = mockClient(EC2Client);
    beforeEach(() => ec2.reset());

    it("counts only not-found as gone: throttling while asking one by one fails the re-check", async () => {
        ec2.on(DescribeImagesCommand, { ImageIds: ["ami-0123456789abcdef0", "ami-0123456789abcdef1"] }).rejects(
            ec2Error("InvalidAMIID.NotFound"),
        );
        ec2.on(DescribeImagesCommand, { ImageIds: ["ami-0123456789abcdef0"] }).rejects(ec2Error("InvalidAMIID.NotFound"));
        ec2.on(DescribeImagesCommand, { ImageIds: ["ami-0123456789abcdef1"] }).rejects(ec2Error("RequestLimitExceeded"));
        await assert.rejects(
            describeImagesById(new EC2Client({ region: "us-east-1" }), "us-east-1", ["ami-0123456789abcdef0", "ami-0123456789abcdef1"]),
            /RequestLimitExceeded/,
        );
    });

    it("still skips an image EC2 does not know", async () => {
        ec2.on(DescribeImagesCommand, { ImageIds: ["ami-0123456789abcdef0", "ami-0123456789abcdef1"] }).rejects(
            ec2Error("InvalidAMIID.NotFound"),
        );
        ec2.on(DescribeImagesCommand, { ImageIds: ["ami-0123456789abcdef0"] }).rejects(ec2Error("InvalidAMIID.NotFound"));
        ec2.on(DescribeImagesCommand, { ImageIds: ["ami-0123456789abcdef1"] }).resolves({
            Images: [{ ImageId: "ami-0123456789abcdef1", State: "available", Name: "web" }],
        });
        const found = await describeImagesById(new EC2Client({ region: "us-east-1" }), "us-east-1", [
            "ami-0123456789abcdef0",
            "ami-0123456789abcdef1",
        ]);
        assert.deepEqual([...found.keys()], ["ami-0123456789abcdef1"]);
    });
});
