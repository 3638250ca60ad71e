import assert from "node:assert/strict";
import { checkAmiCopyInputs, checkAmiFromInstanceInputs, checkManagedAmiInputs, CheckFailure, UNKNOWN } from "../../sdk/validation";

const NOW = new Date("2026-06-01T00:00:00Z");

/** Each image resource with a minimal valid input and its own check function. */
const RESOURCES: {
    name: string;
    valid: Record<string, unknown>;
    check: (n: Record<string, unknown>, o?: Record<string, unknown>) => CheckFailure[];
    named: boolean;
}[] = [
    {
        name: "AmiFromInstance",
        valid: { sourceInstanceId: "i-0123456789abcdef0", name: "web-1", region: "us-east-1" },
        check: (n, o) => checkAmiFromInstanceInputs(n, o, NOW),
        named: true,
    },
    {
        name: "AmiCopy",
        valid: { sourceAmiId: "ami-0123456789abcdef0", sourceAmiRegion: "us-east-1", name: "web-dr", region: "us-west-2" },
        check: (n, o) => checkAmiCopyInputs(n, o, NOW),
        named: true,
    },
    {
        name: "ManagedAmi",
        valid: { imageId: "ami-0123456789abcdef0", region: "us-east-1" },
        check: (n, o) => checkManagedAmiInputs(n, o, NOW),
        named: false,
    },
];

// property, bad value, a fragment the reason must contain (what is allowed)
const COMMON: [string, unknown, string][] = [
    ["name", "ab", "3 to 128"],
    ["name", "x".repeat(129), "3 to 128"],
    ["name", "web#1", "characters EC2 refuses"],
    ["description", "d".repeat(256), "at most 255"],
    ["region", "mars-1", "not an AWS region"],
    ["region", "", "no region is set"],
    ["deregistrationProtection", 1, "true or false"],
    ["deleteSnapshotsOnDestroy", "no", "true or false"],
    ["deprecationTime", "tomorrow", "RFC 3339"],
    ["deprecationTime", "2026-01-01T00:00:00Z", "in the past"],
    ["tags", { "aws:owner": "me" }, "reserves"],
    ["tags", { ["k".repeat(129)]: "v" }, "1 to 128"],
    ["tags", { k: "v".repeat(257) }, "at most 256"],
    ["tags", Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, "v"])), "at most 50"],
    ["tags", ["a"], "map of tag keys"],
    ["snapshotTags", { k: 5 }, "must be a string"],
    ["launchPermissions", { userIds: ["12345"] }, "12-digit"],
    ["launchPermissions", { organizationArns: ["arn:aws:iam::1:role/x"] }, "organization ARN"],
    ["launchPermissions", { organizationalUnitArns: ["ou-1"] }, "organizational unit ARN"],
    ["launchPermissions", { groups: ["all"] }, "unknown field"],
    ["launchPermissions", { public: "yes" }, "true or false"],
    ["createTimeoutMinutes", 0, "greater than 0"],
    ["deleteTimeoutMinutes", -5, "greater than 0"],
];

const SPECIFIC: Record<string, [string, unknown, string][]> = {
    AmiFromInstance: [
        ["sourceInstanceId", "instance-1", "not an EC2 instance id"],
        ["sourceInstanceId", "i-XYZ", "i-0123456789abcdef0"],
        ["sourceInstanceId", "", "is required"],
        ["snapshotWithoutReboot", "yes", "true or false"],
        ["blockDeviceMappings", [{ deviceName: "sdb" }, { deviceName: "sdb" }], "repeats device"],
        ["blockDeviceMappings", [{ deviceName: "C:" }], "device name"],
        ["blockDeviceMappings", [{ deviceName: "/dev/sdf", noDevice: true, ebs: {} }], "only one of"],
        ["blockDeviceMappings", [{ deviceName: "/dev/sdf", ebs: { volumeType: "ssd" } }], "volumeType"],
        ["blockDeviceMappings", [{ deviceName: "/dev/sdf", ebs: { volumeSize: 0 } }], "volumeSize"],
        ["blockDeviceMappings", "sdf", "must be a list"],
    ],
    AmiCopy: [
        ["sourceAmiId", "web", "not an AMI id"],
        ["sourceAmiId", undefined, "is required"],
        ["sourceAmiRegion", "mars", "not an AWS region"],
        ["sourceAmiRegion", "", "is required"],
        ["encrypted", "yes", "true or false"],
        ["copyImageTags", 1, "true or false"],
        ["kmsKeyId", "my key", "not a KMS key id, alias or ARN"],
    ],
    ManagedAmi: [
        ["imageId", "web", "not an AMI id"],
        ["imageId", "", "is required"],
    ],
};

describe("check rules of every image resource", () => {
    for (const r of RESOURCES) {
        describe(r.name, () => {
            it("accepts a minimal valid input", () => {
                assert.deepEqual(r.check(r.valid), []);
            });
            const rows = [...COMMON.filter(([p]) => r.named || p !== "name"), ...SPECIFIC[r.name]];
            for (const [property, value, fragment] of rows) {
                it(`refuses ${property} = ${JSON.stringify(value)?.slice(0, 40)}, naming the property and what is allowed`, () => {
                    const failures = r.check({ ...r.valid, [property]: value });
                    assert.equal(failures.length, 1, JSON.stringify(failures));
                    assert.equal(failures[0].property, property);
                    assert.match(failures[0].reason, new RegExp(`^${property}: `));
                    assert.ok(failures[0].reason.includes(fragment), `${failures[0].reason} should mention "${fragment}"`);
                });
            }
            it("leaves values unknown during preview to be checked at up", () => {
                const unknowns = Object.fromEntries(Object.keys(r.valid).map((k) => [k, UNKNOWN]));
                assert.deepEqual(r.check({ ...unknowns, tags: { a: UNKNOWN } }), []);
            });
            it("keeps accepting a deprecation time that has passed since it was set", () => {
                const past = "2026-01-01T00:00:00Z";
                assert.deepEqual(r.check({ ...r.valid, deprecationTime: past }, { deprecationTime: past }), []);
            });
        });
    }

    it("AmiCopy refuses kmsKeyId without encrypted: true, saying how to fix it", () => {
        const f = checkAmiCopyInputs({ ...RESOURCES[1].valid, kmsKeyId: "alias/dr" }, undefined, NOW);
        assert.deepEqual(
            f.map((x) => x.property),
            ["kmsKeyId"],
        );
        assert.match(f[0].reason, /set encrypted: true/);
    });

    it("ManagedAmi refuses a name: an adopted image keeps its own", () => {
        const f = checkManagedAmiInputs({ ...RESOURCES[2].valid, name: "x-1" }, undefined, NOW);
        assert.deepEqual(
            f.map((x) => x.property),
            ["name"],
        );
    });

    it("reports one failure per bad property", () => {
        const failures = checkAmiFromInstanceInputs({ sourceInstanceId: "nope", name: "!", region: "nowhere" }, undefined, NOW);
        assert.deepEqual(failures.map((f) => f.property).sort(), ["name", "region", "sourceInstanceId"]);
    });

    it("accepts well-formed launch permissions, block devices and a future deprecation", () => {
        assert.deepEqual(
            checkAmiFromInstanceInputs(
                {
                    ...RESOURCES[0].valid,
                    deprecationTime: "2027-01-31T00:00:00Z",
                    launchPermissions: {
                        userIds: ["111122223333"],
                        organizationArns: ["arn:aws:organizations::111122223333:organization/o-exampleorgid"],
                        organizationalUnitArns: ["arn:aws:organizations::111122223333:ou/o-exampleorgid/ou-ab12-abcdefgh"],
                        public: false,
                    },
                    blockDeviceMappings: [
                        { deviceName: "/dev/sdf", noDevice: true },
                        { deviceName: "/dev/xvda", ebs: { volumeSize: 20, volumeType: "gp3" } },
                    ],
                },
                undefined,
                NOW,
            ),
            [],
        );
    });
});

describe("names and deprecation times EC2 accepts", () => {
    it("an automatic name from a resource name with characters EC2 refuses is still a valid AMI name", async () => {
        const { validNamePart } = await import("../../sdk/auto-name");
        const { IMAGE_NAME } = await import("../../sdk/rules/primitives");
        for (const resourceName of ["web:prod", "web#1", "über-image", "a/b (c) [d] e.f-g'h@i_j"]) {
            const name = `${validNamePart(resourceName).slice(0, 119)}-1a2b3c4d`;
            assert.match(name, IMAGE_NAME, resourceName);
        }
        assert.equal(validNamePart("web:prod"), "web-prod");
    });

    it("a deprecation time more than 10 years ahead is refused at preview, one within 10 years is accepted", async () => {
        const { deprecationTimeRule } = await import("../../sdk/rules/primitives");
        const now = new Date("2026-12-06T00:00:00Z");
        const rule = deprecationTimeRule(undefined, now);
        assert.match(rule("2037-01-01T00:00:00Z", "deprecationTime") ?? "", /more than 10 years/);
        assert.equal(rule("2036-12-01T00:00:00Z", "deprecationTime"), undefined);
        assert.match(rule("2026-01-01T00:00:00Z", "deprecationTime") ?? "", /in the past/);
    });
});
