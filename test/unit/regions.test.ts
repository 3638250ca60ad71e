// Regions are checked at preview against the AWS SDK's partition data, and
// ARNs take the region's partition.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { imageOutputs } from "../../dynamic-providers/ec2/converters";
import { AWS_PARTITIONS } from "../../sdk/rules/aws-partitions";
import { closestRegion, knownRegions, partitionOf } from "../../sdk/rules/regions";
import { checkRetentionPolicyInputs } from "../../sdk/rules/retention-policy-rules";
import { checkAmiCopyInputs, checkAmiFromInstanceInputs } from "../../sdk/validation";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { sdkPartitions } = require("../../scripts/update-partitions");

const bake = { sourceInstanceId: "i-0123456789abcdef0", name: "web-1" };

describe("regions and partitions", () => {
    it("aws-partitions.ts is the installed AWS SDK's partition data (else run node scripts/update-partitions.js)", () => {
        assert.deepEqual(AWS_PARTITIONS, sdkPartitions());
    });

    it("refuses a region that only looks like one, listing the known ones and the nearest", () => {
        const failures = checkAmiFromInstanceInputs({ ...bake, region: "us-east-9" });
        assert.equal(failures.length, 1);
        assert.equal(failures[0].property, "region");
        assert.match(
            failures[0].reason,
            /^region: "us-east-9" is not an AWS region; known regions: af-south-1, .*, us-east-1, .*\(did you mean us-east-1\?\)$/,
        );
        assert.ok(failures[0].reason.includes("eu-west-1"));
    });

    it("accepts every known region of every partition", () => {
        for (const region of knownRegions()) assert.deepEqual(checkAmiFromInstanceInputs({ ...bake, region }), [], region);
        assert.ok(knownRegions().includes("cn-north-1") && knownRegions().includes("us-gov-west-1"));
    });

    it("checks sourceAmiRegion and the retention policy's regions the same way", () => {
        const copy = checkAmiCopyInputs({
            sourceAmiId: "ami-0123456789abcdef0",
            sourceAmiRegion: "eu-wset-1",
            region: "us-west-2",
            name: "dr",
        });
        assert.match(copy[0].reason, /^sourceAmiRegion: "eu-wset-1" is not an AWS region; .*\(did you mean eu-west-1\?\)/);
        const retention = checkRetentionPolicyInputs({
            regions: ["us-east-1", "ap-southeast-9"],
            selector: { namePattern: "web-*" },
            keepLatest: 1,
        });
        assert.equal(retention[0].property, "regions");
        assert.match(retention[0].reason, /^regions: "ap-southeast-9" is not an AWS region; known regions: /);
    });

    it("suggests nothing for a name far from every region", () => {
        assert.equal(closestRegion("mars-1"), undefined);
        assert.doesNotMatch(checkAmiFromInstanceInputs({ ...bake, region: "mars-1" })[0].reason, /did you mean/);
    });

    it("ARNs take the region's partition", () => {
        const arn = (region: string) => imageOutputs({ ImageId: "ami-0123456789abcdef0" }, region).arn;
        assert.equal(arn("us-east-1"), "arn:aws:ec2:us-east-1::image/ami-0123456789abcdef0");
        assert.equal(arn("cn-northwest-1"), "arn:aws-cn:ec2:cn-northwest-1::image/ami-0123456789abcdef0");
        assert.equal(arn("us-gov-west-1"), "arn:aws-us-gov:ec2:us-gov-west-1::image/ami-0123456789abcdef0");
        assert.equal(partitionOf("us-iso-east-1"), "aws-iso");
        assert.equal(partitionOf("us-isob-east-1"), "aws-iso-b");
        assert.equal(partitionOf("eusc-de-east-1"), "aws-eusc");
        // Not listed (newer than the data): the partition whose pattern it matches.
        assert.equal(partitionOf("us-gov-north-7"), "aws-us-gov");
        assert.equal(partitionOf("us-west-9"), "aws");
    });

    it("checking regions loads no AWS SDK (preview stays light)", () => {
        const script = `
            const v = require("./sdk/validation");
            const planning = require("./dynamic-providers/image-planning");
            (async () => {
                v.checkAmiFromInstanceInputs({ sourceInstanceId: "i-0123456789abcdef0", name: "web-1", region: "us-east-9" });
                await planning.check("ami-copy", {}, { region: "us-east-9", name: "x-1", sourceAmiId: "ami-0123456789abcdef0", sourceAmiRegion: "us-east-1" });
                process.stdout.write(JSON.stringify(Object.keys(require.cache).filter((k) => k.includes("@aws-sdk"))));
            })();`;
        const r = spawnSync(process.execPath, ["-r", "ts-node/register", "-e", script], {
            cwd: path.join(__dirname, "..", ".."),
            env: { ...process.env, TS_NODE_TRANSPILE_ONLY: "true" },
            encoding: "utf8",
        });
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(JSON.parse(r.stdout), []);
    });
});
