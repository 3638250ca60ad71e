import fc from "fast-check";
import assert from "node:assert/strict";
import { bucketFor, bucketKey, floorSeconds } from "../../bench/ec2-buckets";

// The benchmark's floor rests on this table and formula: a wrong bucket or a
// wrong formula would make every floor-ratio it prints meaningless.
describe("bench: EC2's documented request buckets", () => {
    it("gives the documented buckets of the actions a retention run makes", () => {
        assert.deepEqual(bucketFor("DeregisterImage"), { category: "uncategorized", size: 100, refill: 5 });
        assert.deepEqual(bucketFor("DeleteSnapshot"), { category: "uncategorized", size: 100, refill: 5 });
        assert.deepEqual(bucketFor("DescribeImages"), { category: "non-mutating", size: 100, refill: 20 });
        assert.deepEqual(bucketFor("EnableImageDeprecation"), { category: "mutating", size: 50, refill: 5 });
        assert.deepEqual(bucketFor("RequestSpotInstances"), { category: "resource-intensive", size: 50, refill: 5 });
        assert.deepEqual(bucketFor("CopyImage"), { category: "uncategorized", size: 100, refill: 1 });
    });

    it("puts DescribeInstances without a filter or pagination in the smaller bucket", () => {
        assert.equal(bucketFor("DescribeInstances", new URLSearchParams("Action=DescribeInstances")).size, 50);
        assert.equal(bucketFor("DescribeInstances", new URLSearchParams("Filter.1.Name=image-id&Filter.1.Value.1=ami-1")).size, 100);
        assert.equal(bucketFor("DescribeInstances", new URLSearchParams("MaxResults=1000")).size, 100);
        assert.equal(bucketKey("DescribeInstances", new URLSearchParams("")), "DescribeInstances(unfiltered)");
        // DescribeImages is not in the subset: unfiltered, it keeps the standard bucket.
        assert.equal(bucketFor("DescribeImages", new URLSearchParams("")).size, 100);
    });

    it("computes the floor as the slowest bucket of the slowest region, refill scaled", () => {
        const floor = floorSeconds(
            {
                "us-east-1": { DeregisterImage: 2700, DeleteSnapshot: 1000, DescribeImages: 30 },
                "eu-west-1": { DeregisterImage: 600, "DescribeInstances(unfiltered)": 60 },
            },
            8,
        );
        assert.equal(floor.seconds, (2700 - 100) / (5 * 8));
        assert.equal(floor.region, "us-east-1");
        assert.equal(floor.bucket, "DeregisterImage");
        assert.equal(floor.byRegion["eu-west-1"].seconds, (600 - 100) / 40);
    });

    it("is zero while no bucket empties, and never negative", () => {
        fc.assert(
            fc.property(fc.nat(100), fc.nat(100), fc.integer({ min: 1, max: 50 }), (dereg, describe, scale) => {
                const f = floorSeconds({ r: { DeregisterImage: dereg, DescribeImages: describe } }, scale);
                assert.equal(f.seconds, 0);
            }),
        );
        fc.assert(
            fc.property(fc.nat(100_000), fc.integer({ min: 1, max: 50 }), (n, scale) => {
                assert.ok(floorSeconds({ r: { DeleteSnapshot: n } }, scale).seconds >= 0);
            }),
        );
    });
});
