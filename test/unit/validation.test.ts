import assert from "node:assert/strict";
import { checkAmiFromInstanceInputs, UNKNOWN } from "../../sdk/validation";

const NOW = new Date("2026-06-01T00:00:00Z");
const good = { sourceInstanceId: "i-0123456789abcdef0", name: "web-1", region: "us-east-1" };

function failuresFor(extra: Record<string, unknown>, olds?: Record<string, unknown>) {
    return checkAmiFromInstanceInputs({ ...good, ...extra }, olds, NOW);
}

describe("AmiFromInstance check rules", () => {
    it("accepts a minimal valid input", () => {
        assert.deepEqual(failuresFor({}), []);
    });

    // property, bad value, a fragment the reason must contain
    const table: [string, unknown, string][] = [
        ["sourceInstanceId", "instance-1", "not an EC2 instance id"],
        ["sourceInstanceId", "i-XYZ", "i-0123456789abcdef0"],
        ["sourceInstanceId", "", "is required"],
        ["name", "ab", "3 to 128"],
        ["name", "x".repeat(129), "3 to 128"],
        ["name", "web#1", "characters EC2 refuses"],
        ["description", "d".repeat(256), "at most 255"],
        ["region", "mars-1", "not an AWS region"],
        ["region", "", "no region is set"],
        ["snapshotWithoutReboot", "yes", "true or false"],
        ["deregistrationProtection", 1, "true or false"],
        ["deleteSnapshotsOnDestroy", "no", "true or false"],
        ["deprecationTime", "tomorrow", "RFC 3339"],
        ["deprecationTime", "2026-01-01T00:00:00Z", "in the past"],
        ["tags", { "aws:owner": "me" }, "reserves"],
        ["tags", { ["k".repeat(129)]: "v" }, "1 to 128"],
        ["tags", { k: "v".repeat(257) }, "at most 256"],
        ["tags", Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, "v"])), "at most 50"],
        ["snapshotTags", { k: 5 }, "must be a string"],
        ["launchPermissions", { userIds: ["12345"] }, "12-digit"],
        ["launchPermissions", { organizationArns: ["arn:aws:iam::1:role/x"] }, "organization ARN"],
        ["launchPermissions", { groups: ["all"] }, "unknown field"],
        ["launchPermissions", { public: "yes" }, "true or false"],
        ["blockDeviceMappings", [{ deviceName: "sdb" }, { deviceName: "sdb" }], "repeats device"],
        ["blockDeviceMappings", [{ deviceName: "C:" }], "device name"],
        ["blockDeviceMappings", [{ deviceName: "/dev/sdf", noDevice: true, ebs: {} }], "only one of"],
        ["blockDeviceMappings", [{ deviceName: "/dev/sdf", ebs: { volumeType: "ssd" } }], "volumeType"],
        ["blockDeviceMappings", [{ deviceName: "/dev/sdf", ebs: { volumeSize: 0 } }], "volumeSize"],
        ["createTimeoutMinutes", 0, "greater than 0"],
        ["deleteTimeoutMinutes", -5, "greater than 0"],
    ];
    for (const [property, value, fragment] of table) {
        it(`refuses ${property} = ${JSON.stringify(value).slice(0, 40)}, naming the property`, () => {
            const failures = failuresFor({ [property]: value });
            assert.equal(failures.length, 1, JSON.stringify(failures));
            assert.equal(failures[0].property, property);
            assert.match(failures[0].reason, new RegExp(`^${property}: `));
            assert.ok(failures[0].reason.includes(fragment), `${failures[0].reason} should mention "${fragment}"`);
        });
    }

    it("reports one failure per bad property", () => {
        const failures = failuresFor({ sourceInstanceId: "nope", name: "!", region: "nowhere" });
        assert.deepEqual(failures.map((f) => f.property).sort(), ["name", "region", "sourceInstanceId"]);
    });

    it("leaves values that are unknown during preview to be checked at up", () => {
        assert.deepEqual(failuresFor({ sourceInstanceId: UNKNOWN, name: UNKNOWN, tags: { a: UNKNOWN } }), []);
    });

    it("keeps accepting a deprecation time that has passed since it was set", () => {
        const past = "2026-01-01T00:00:00Z";
        assert.deepEqual(failuresFor({ deprecationTime: past }, { deprecationTime: past }), []);
    });

    it("accepts well-formed launch permissions, block devices and a future deprecation", () => {
        assert.deepEqual(
            failuresFor({
                deprecationTime: "2027-01-31T00:00:00Z",
                launchPermissions: {
                    userIds: ["111122223333"],
                    organizationArns: ["arn:aws:organizations::111122223333:organization/o-exampleorgid"],
                    public: false,
                },
                blockDeviceMappings: [
                    { deviceName: "/dev/sdf", noDevice: true },
                    { deviceName: "/dev/xvda", ebs: { volumeSize: 20, volumeType: "gp3" } },
                ],
            }),
            [],
        );
    });
});
