// The README's minimal IAM policy against what golden-ami really called in
// the end-to-end tier: every action its own clients sent to the emulator
// (emulator/action-log.ts records them when GOLDEN_AMI_EMULATOR_ACTION_LOG is
// set; golden-ami's requests carry its User-Agent, a test fixture's do not)
// must be granted, and, after the whole tier, every granted action must have
// been called. scripts/test.js runs this after the e2e tier. On a subset:
//
//   GOLDEN_AMI_EMULATOR_ACTION_LOG=/tmp/actions.log <run some e2e files>
//   GOLDEN_AMI_EMULATOR_ACTION_LOG=/tmp/actions.log npx mocha test/iam-actions/called-actions.test.ts
//
// checks only that what was called is granted (a subset cannot call everything);
// GOLDEN_AMI_IAM_CHECK_COMPLETE=1 (scripts/test.js sets it) checks the other way too.
import assert from "node:assert/strict";
import { ACTION_LOG_ENV, GOLDEN_AMI_USER_AGENT, readActionLog } from "../../emulator/action-log";
import { USER_AGENT } from "../../dynamic-providers/ec2/client";
import { actionsInCode, readmePolicyActions } from "../support/iam-policy";

/**
 * Granted actions the end-to-end tier cannot reach, each with why and where
 * it is tested instead. Kept short: each must still be granted and called by
 * the code (the scan of test/support/iam-policy.ts).
 */
export const NOT_REACHED_END_TO_END: Record<string, string> = {
    "kms:DescribeKey":
        "asked only before an encrypted image is shared with other accounts; test/integration/image-encryption.test.ts shares one on the strict emulator",
    "ec2:DeleteTags":
        "only when a key is removed from a resource's tags (or from ManagedAmi's managed keys); test/unit/ami-from-instance.test.ts and test/unit/managed-ami.test.ts check the call",
    "ec2:DisableImageDeprecation":
        "only when a deprecationTime is removed from a resource (the e2e tier only sets one); test/unit/managed-ami.test.ts checks the call",
    "ec2:DescribeSubnets":
        "only when a GoldenImage builder meets InsufficientInstanceCapacity and is launched again in another subnet of its VPC; test/unit/golden-image.test.ts checks it",
};

describe("the README's minimal IAM policy against the actions golden-ami called end to end", () => {
    const file = process.env[ACTION_LOG_ENV];
    const complete = process.env.GOLDEN_AMI_IAM_CHECK_COMPLETE === "1";
    const records = () => {
        if (!file) throw new Error(`${ACTION_LOG_ENV} is not set: run the e2e tier (or some e2e files) with it set to a file, then this`);
        return readActionLog(file);
    };
    const called = () =>
        [
            ...new Set(
                records()
                    .filter((r) => r.goldenAmi)
                    .map((r) => r.action),
            ),
        ].sort();

    it("tells golden-ami's calls from the tests' own (its User-Agent), and recorded some of each", () => {
        assert.equal(USER_AGENT, GOLDEN_AMI_USER_AGENT, "the emulator looks for the User-Agent golden-ami's clients send");
        const all = records();
        assert.ok(
            all.some((r) => r.goldenAmi && r.action === "ec2:DescribeImages"),
            `no DescribeImages by golden-ami in ${file}: was the log set for the pulumi runs?`,
        );
        assert.ok(
            all.some((r) => !r.goldenAmi),
            "no call by a test fixture: the User-Agent test would pass anything",
        );
    });

    it("grants every action golden-ami called", () => {
        const granted = new Set(readmePolicyActions());
        assert.deepEqual(
            called().filter((a) => !granted.has(a)),
            [],
            "add these to the policy in README.md (Against real AWS)",
        );
    });

    it("grants no action the whole tier never called (only after the whole tier: GOLDEN_AMI_IAM_CHECK_COMPLETE=1)", function () {
        if (!complete) {
            // A subset of files: only the direction above can be checked.
            for (const a of Object.keys(NOT_REACHED_END_TO_END)) assert.ok(readmePolicyActions().includes(a), a);
            return;
        }
        const seen = new Set(called());
        assert.deepEqual(
            readmePolicyActions().filter((a) => !seen.has(a) && !(a in NOT_REACHED_END_TO_END)),
            [],
            "granted but never called end to end: remove from README.md's policy, add an e2e test that reaches it, or list it in NOT_REACHED_END_TO_END with why",
        );
    });

    it("lists as not reached only actions the policy grants and the code calls, that the tier indeed did not reach", () => {
        const granted = new Set(readmePolicyActions());
        const inCode = new Set(actionsInCode());
        for (const a of Object.keys(NOT_REACHED_END_TO_END)) {
            assert.ok(granted.has(a) && inCode.has(a), `${a}: not granted or never called by the code`);
            if (complete) assert.ok(!called().includes(a), `${a} was called end to end: drop it from NOT_REACHED_END_TO_END`);
        }
    });
});
