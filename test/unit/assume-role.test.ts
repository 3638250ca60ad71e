// assumeRole on every resource: refused at check when malformed (naming the
// property and the fix), another account replaces (diff), the same account
// with another role or session updates in place.
import assert from "node:assert/strict";
import * as planning from "../../dynamic-providers/image-planning";
import * as retention from "../../dynamic-providers/retention-policy-hooks";
import { IMAGE_KINDS } from "../../sdk/image-kind-registry";
import { assumeRoleRule, roleAccount } from "../../sdk/rules/assume-role";
import { checkRetentionPolicyInputs } from "../../sdk/validation";

const ROLE = { roleArn: "arn:aws:iam::111122223333:role/golden-ami" };
const OTHER_ACCOUNT = { roleArn: "arn:aws:iam::444455556666:role/golden-ami" };
const SAME_ACCOUNT = { roleArn: "arn:aws:iam::111122223333:role/ops/images", sessionName: "nightly" };
const quiet = async <T>(fn: () => Promise<T>): Promise<T> => {
    const log = console.log;
    console.log = () => undefined;
    try {
        return await fn();
    } finally {
        console.log = log;
    }
};

describe("assumeRole", () => {
    it("takes a role ARN with an optional external id and session name; refuses the rest, naming the fix", () => {
        assert.equal(assumeRoleRule(ROLE, "assumeRole"), undefined);
        assert.equal(assumeRoleRule({ ...SAME_ACCOUNT, externalId: "ext-1234" }, "assumeRole"), undefined);
        assert.match(assumeRoleRule({ roleArn: "arn:aws:iam::1111:role/x" }, "assumeRole")!, /roleArn must be an IAM role ARN such as/);
        assert.match(assumeRoleRule({ roleArn: "arn:aws:iam::111122223333:user/x" }, "assumeRole")!, /roleArn must be an IAM role ARN/);
        assert.match(assumeRoleRule("arn:aws:iam::111122223333:role/x", "assumeRole")!, /must be an object/);
        assert.match(assumeRoleRule({ ...ROLE, sessionName: "a b" }, "assumeRole")!, /sessionName must be 2 to 64/);
        assert.match(assumeRoleRule({ ...ROLE, externalId: "x" }, "assumeRole")!, /externalId must be 2 to 1224/);
        assert.match(assumeRoleRule({ ...ROLE, role: "x" }, "assumeRole")!, /unknown field role/);
        assert.equal(roleAccount(ROLE), "111122223333");
        assert.equal(roleAccount(undefined), undefined);
    });

    it("is refused at check on AmiRetentionPolicy when the ARN is malformed", () => {
        const failures = checkRetentionPolicyInputs({
            regions: ["us-east-1"],
            selector: { namePattern: "web-*" },
            keepLatest: 2,
            assumeRole: { roleArn: "role/golden-ami" },
        });
        assert.deepEqual(
            failures.map((f) => f.property),
            ["assumeRole"],
        );
    });

    it("AmiRetentionPolicy: another account replaces; another role of the same account does not", async () => {
        const base = { regions: ["us-east-1"], selector: { namePattern: "web-*" }, keepLatest: 2, pending: undefined } as never;
        const moved = await quiet(() =>
            retention.diff(
                "p",
                { ...(base as object), assumeRole: ROLE } as never,
                { ...(base as object), assumeRole: OTHER_ACCOUNT } as never,
            ),
        );
        assert.deepEqual(moved.replaces, ["assumeRole"]);
        const fromCaller = await quiet(() => retention.diff("p", base, { ...(base as object), assumeRole: ROLE } as never));
        assert.deepEqual(fromCaller.replaces, ["assumeRole"]);
        const same = await retention.diff(
            "p",
            { ...(base as object), assumeRole: ROLE } as never,
            { ...(base as object), assumeRole: SAME_ACCOUNT } as never,
        );
        assert.deepEqual(same.replaces, []);
        assert.equal(same.changes, true);
    });

    for (const kind of IMAGE_KINDS) {
        describe(kind.type, () => {
            it("refuses a malformed role at check, naming assumeRole", async () => {
                const { failures } = await planning.check(
                    kind.module,
                    {},
                    { ...kind.example, assumeRole: { roleArn: "arn:aws:iam::42:role/x" } },
                );
                assert.deepEqual(
                    failures?.map((f) => f.property),
                    ["assumeRole"],
                );
            });

            it("is replaced when the role's account changes, updated in place for another role of the same account", async () => {
                const olds = { ...kind.example, assumeRole: ROLE };
                const moved = await quiet(() => planning.diff(kind.module, "ami-1", olds, { ...kind.example, assumeRole: OTHER_ACCOUNT }));
                assert.deepEqual(moved.replaces, ["assumeRole"]);
                assert.equal(moved.deleteBeforeReplace, false);
                const same = await planning.diff(kind.module, "ami-1", olds, { ...kind.example, assumeRole: SAME_ACCOUNT });
                assert.deepEqual(same.replaces, []);
                assert.equal(same.changes, true);
            });
        });
    }
});
