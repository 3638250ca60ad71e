// Properties of the emulator's pure parts: the documented token buckets
// (emulator/throttling.ts) and request validation against the EC2 API model
// (emulator/api-model.ts, the model read from moto's botocore).
import assert from "node:assert/strict";
import fc from "fast-check";
import { Ec2Model, loadEc2Model, validateRequest } from "../../emulator/api-model";
import { bucketFor, TokenBuckets } from "../../emulator/throttling";

describe("emulator: token buckets (property)", () => {
    it("in any run of requests, an action is granted at most capacity + refill × elapsed, and the first `capacity` at once", () => {
        const actions = ["DescribeImages", "CopyImage", "CreateImage", "CreateTags", "DeregisterImage", "RunInstances"];
        fc.assert(
            fc.property(
                fc.constantFrom(...actions),
                fc.array(fc.integer({ min: 0, max: 400 }), { minLength: 1, maxLength: 300 }),
                fc.constantFrom(1, 3, 10),
                (action, gaps, scale) => {
                    let clock = 0;
                    const buckets = new TokenBuckets(() => clock, scale);
                    const { capacity, refillPerSecond } = bucketFor(action);
                    let granted = 0;
                    const params = new URLSearchParams({ MaxCount: "1" });
                    for (const gap of gaps) {
                        clock += gap;
                        if (buckets.take("us-east-1", action, params)) granted++;
                    }
                    const bound = capacity + (refillPerSecond * scale * clock) / 1000;
                    assert.ok(granted <= Math.floor(bound + 1e-9), `${granted} granted > ${bound}`);
                    const burst = new TokenBuckets(() => 0, scale);
                    let first = 0;
                    while (first <= capacity && burst.take("eu-west-1", action, params)) first++;
                    assert.equal(first, capacity, "a full bucket grants its capacity at once");
                },
            ),
        );
    });

    it("regions and actions have buckets of their own", () => {
        const buckets = new TokenBuckets(() => 0);
        const p = new URLSearchParams();
        for (let i = 0; i < 50; i++) assert.ok(buckets.take("us-east-1", "CreateImage", p));
        assert.equal(buckets.take("us-east-1", "CreateImage", p), false);
        assert.ok(buckets.take("us-west-2", "CreateImage", p), "another region");
        assert.ok(buckets.take("us-east-1", "DeregisterImage", p), "another action");
    });
});

describe("emulator: validation against the EC2 API model (property)", () => {
    let model: Ec2Model;
    before(async function () {
        this.timeout(60_000);
        model = await loadEc2Model();
    });

    it("knows the real EC2 regions and the image actions golden-ami calls", () => {
        for (const region of ["us-east-1", "us-west-2", "eu-central-1", "ap-southeast-2", "cn-north-1", "us-gov-west-1"]) {
            assert.ok(model.regions.includes(region), region);
        }
        assert.ok(!model.regions.some((r) => r.endsWith("-global")), "no pseudo-regions");
        for (const action of ["CreateImage", "CopyImage", "DeregisterImage", "DescribeImages", "DescribeImageReferences"]) {
            assert.ok(action in model.operations, action);
        }
    });

    it("any parameter CreateImage does not have is refused as UnknownParameter naming it; its own are accepted", () => {
        const members = new Set([
            "InstanceId",
            "Name",
            "Description",
            "NoReboot",
            "BlockDeviceMapping",
            "TagSpecification",
            "DryRun",
            "SnapshotLocation",
        ]);
        fc.assert(
            fc.property(
                fc.stringMatching(/^[A-Z][A-Za-z]{2,15}$/).filter((n) => !members.has(n)),
                (name) => {
                    const params = new URLSearchParams({ Action: "CreateImage", InstanceId: "i-1", Name: "n", [name]: "x" });
                    assert.deepEqual(validateRequest(model, "CreateImage", params), {
                        status: 400,
                        code: "UnknownParameter",
                        message: `The parameter ${name} is not recognized`,
                    });
                },
            ),
        );
        const ok = new URLSearchParams({
            InstanceId: "i-1",
            Name: "n",
            Description: "d",
            NoReboot: "true",
            "BlockDeviceMapping.1.DeviceName": "/dev/xvda",
            "BlockDeviceMapping.1.Ebs.DeleteOnTermination": "false",
            "BlockDeviceMapping.2.DeviceName": "/dev/sdf",
            "BlockDeviceMapping.2.NoDevice": "",
            "TagSpecification.1.ResourceType": "image",
            "TagSpecification.1.Tag.1.Key": "k",
            "TagSpecification.1.Tag.1.Value": "v",
        });
        assert.equal(validateRequest(model, "CreateImage", ok), undefined);
    });

    it("a boolean or integer that is not one, and a list index that is not 1-based, are refused", () => {
        const base = { InstanceId: "i-1", Name: "n" };
        assert.equal(
            validateRequest(model, "CreateImage", new URLSearchParams({ ...base, NoReboot: "yes" }))?.code,
            "InvalidParameterValue",
        );
        assert.equal(validateRequest(model, "DescribeImages", new URLSearchParams({ MaxResults: "five" }))?.code, "InvalidParameterValue");
        assert.equal(
            validateRequest(model, "CreateImage", new URLSearchParams({ ...base, "BlockDeviceMapping.x.DeviceName": "/dev/xvda" }))?.code,
            "UnknownParameter",
        );
    });
});
