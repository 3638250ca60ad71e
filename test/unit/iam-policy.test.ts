// The README's minimal IAM policy is complete and no larger than needed: it
// lists every action the providers' code can call, and nothing else.
import assert from "node:assert/strict";
import { actionsInCode, readmePolicyActions } from "../support/iam-policy";

describe("the README's minimal IAM policy", () => {
    it("grants every action the code calls", () => {
        const granted = new Set(readmePolicyActions());
        assert.deepEqual(
            actionsInCode().filter((a) => !granted.has(a)),
            [],
            "add these to the policy in README.md (Against real AWS)",
        );
    });

    it("grants no action the code never calls", () => {
        const called = new Set(actionsInCode());
        assert.deepEqual(
            readmePolicyActions().filter((a) => !called.has(a)),
            [],
            "remove these from the policy in README.md, or say why they are needed",
        );
    });

    it("finds the calls of every service (the scan itself works)", () => {
        const called = actionsInCode();
        for (const a of [
            "ec2:CreateImage",
            "ec2:DescribeImages",
            "ssm:GetParameter",
            "autoscaling:DescribeAutoScalingGroups",
            "ec2:RunInstances",
        ]) {
            assert.ok(called.includes(a), a);
        }
    });
});
