// The numbers and versions README states, read from README and compared
// with the code, package.json and the tool pins they describe: changing
// either side alone fails here. Bounds are also tried on the rules
// themselves, and messages are held to the house rule: they name the
// property and the fix, and never repeat the value.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import {
    BUILD_TIMEOUT_MINUTES,
    COPY_IMAGE_TIMEOUT_MINUTES,
    COPY_TOKEN_MISMATCH_LIMIT,
    PROGRESS_INTERVAL_SECONDS,
    RECHECK_AFTER_SECONDS,
    SSM_PARAMETER_WAIT_SECONDS,
    VISIBILITY_WINDOW_SECONDS,
} from "../../dynamic-providers/ec2/limits";
import { buildTimeoutRule, MAX_BUILD_TIMEOUT_MINUTES, MAX_USER_DATA_BYTES } from "../../sdk/rules/golden-image-bake-rules";
import { publishFailures } from "../../sdk/rules/publish-rules";
import { RETENTION_REPORT_LIMITS } from "../../sdk/rules/retention-policy-rules";
import { parameterNameProblem } from "../../sdk/ssm-parameter-name";
import { bucketsFor } from "../../dynamic-providers/ec2/request-buckets";
import { DEFAULT_RATE_SHARE } from "../../dynamic-providers/ec2/request-pacing";
import { bucketFor } from "../../emulator/throttling";

const ROOT = path.resolve(__dirname, "..", "..");
const README = fs.readFileSync(path.join(ROOT, "README.md"), "utf8").replace(/\s*\n\s*/g, " ");
const PACKAGE = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
const goMod = (tool: string) => fs.readFileSync(path.join(ROOT, "tools", tool, "go.mod"), "utf8");

/** The capture groups of `re` in README (line breaks read as spaces); fails when README no longer says it. */
function says(re: RegExp): string[] {
    const m = re.exec(README);
    assert.ok(m, `README no longer says ${re}: update README or this test`);
    return m.slice(1);
}

describe("README's numbers and versions are the code's", () => {
    it("Install: the tarball README installs is the one `npm pack` writes for this version", () => {
        const tarball = `${PACKAGE.name}-${PACKAGE.version}.tgz`;
        const [written, installed, recorded] = says(
            /npm pack\s+# writes (\S+) cd \.\.\/my-infra && npm install \.\.\/golden-ami\/(\S+) @pulumi\/pulumi ``` npm records it as `"golden-ami": "file:\.\.\/golden-ami\/(\S+)"`/,
        );
        assert.deepEqual([written, installed, recorded], [tarball, tarball, tarball]);
    });

    it("Node.js: the version README requires is package.json's engines.node", () => {
        const [major, engines] = says(/\*\*Node\.js (\d+) or newer\*\* \(`engines\.node` is `(>=\d+)`\)/);
        assert.equal(engines, PACKAGE.engines.node);
        assert.equal(`>=${major}`, PACKAGE.engines.node);
    });

    it("@pulumi/pulumi: the oldest version and the peer range are package.json's, and the compat tier runs that oldest", () => {
        const [oldest, range] = says(/\*\*`@pulumi\/pulumi` (3\.\d+\.\d+) or newer 3\.x\*\* \(peer range `([^`]+)`\)/);
        assert.equal(range, PACKAGE.peerDependencies["@pulumi/pulumi"]);
        assert.equal(`^${oldest}`, range);
        assert.equal(says(/newest `@pulumi\/pulumi` 3\.x and with (3\.\d+\.\d+)/)[0], oldest);
        const compat = fs.readFileSync(path.join(ROOT, "test", "compat", "versions.test.ts"), "utf8");
        assert.match(compat, /\["\^3", oldestInPeerRange\(\)\]/, "the compat tier runs the newest 3.x and the oldest of the peer range");
    });

    it("the Pulumi CLI and language host versions README names are the ones tools/ builds", () => {
        const cli = /github\.com\/pulumi\/pulumi\/pkg\/v3 v(3\.\d+\.\d+)/.exec(goMod("pulumi"))![1];
        const host = /github\.com\/pulumi\/pulumi\/sdk\/v3 v(3\.\d+\.\d+)/.exec(goMod("pulumi-language-nodejs"))![1];
        assert.deepEqual(says(/tested with (3\.\d+\.\d+), the Node\.js language host of (3\.\d+\.\d+)/), [cli, host]);
        assert.deepEqual(says(/`tools\/pulumi` at v(3\.\d+\.\d+); `tools\/pulumi-language-nodejs` from `sdk\/v3` v(3\.\d+\.\d+)/), [
            cli,
            host,
        ]);
        assert.equal(PACKAGE.devDependencies["@pulumi/pulumi"], cli, "the tests' @pulumi/pulumi is the CLI's release");
    });

    it("GoldenImage's build.timeoutMinutes: the default and bounds README gives are the check's", () => {
        const [def, max] = says(
            /\| `build\.timeoutMinutes` \| (\d+) \| more than 0 and at most (\d+) \(fractions allowed, e\.g\. `0\.5`\)/,
        );
        assert.equal(Number(def), BUILD_TIMEOUT_MINUTES);
        assert.equal(Number(max), MAX_BUILD_TIMEOUT_MINUTES);
        for (const ok of [0.5, 1, BUILD_TIMEOUT_MINUTES, MAX_BUILD_TIMEOUT_MINUTES])
            assert.equal(buildTimeoutRule(ok, "x"), undefined, String(ok));
        for (const bad of [0, -1, MAX_BUILD_TIMEOUT_MINUTES + 0.5]) assert.ok(buildTimeoutRule(bad, "x"), String(bad));
    });

    it("GoldenImage's build.userData limit is EC2's 16 KB the check applies", () => {
        assert.equal(Number(says(/the provisioning script, at most (\d+) KB/)[0]) * 1024, MAX_USER_DATA_BYTES);
    });

    it("time limits, waits and polls README gives are the named limits", () => {
        assert.equal(Number(says(/the default create limit is (\d+) minutes/)[0]), COPY_IMAGE_TIMEOUT_MINUTES);
        assert.equal(Number(says(/printed every (\d+) seconds while waiting/)[0]), PROGRESS_INTERVAL_SECONDS);
        assert.equal(Number(says(/answers the new id \(at most (\d+) s\)/)[0]), SSM_PARAMETER_WAIT_SECONDS);
        assert.equal(
            Number(says(/polling a just-created id for up to (\d+) minutes \(`VISIBILITY_WINDOW_SECONDS`\)/)[0]) * 60,
            VISIBILITY_WINDOW_SECONDS,
        );
        const words: Record<string, number> = { three: 3, five: 5 };
        assert.equal(
            words[says(/No image is retired on facts older than (five) minutes \(`RECHECK_AFTER_SECONDS`\)/)[0]] * 60,
            RECHECK_AFTER_SECONDS,
        );
        assert.equal(words[says(/After (three) in a row it fails/)[0]], COPY_TOKEN_MISMATCH_LIMIT);
    });

    it("retention's report limits README gives are RETENTION_REPORT_LIMITS", () => {
        const L = RETENTION_REPORT_LIMITS;
        const [groups, perGroup, reasonChars] = says(
            /the first (\d+) groups are listed, each with its count, oldest and newest dates and its (\d+) oldest images with why \(reasons cut at (\d+) characters\)/,
        );
        assert.deepEqual([groups, perGroup, reasonChars].map(Number), [L.groups, L.perGroup, L.reasonChars]);
        assert.equal(Number(says(/by reason, with the first (\d+)\./)[0]), L.heldBack);
        const [sample, failed, errorChars] = says(
            /are the first (\d+) of each; failures are kept up to (\d+) \(errors cut to (\d+) characters\)/,
        );
        assert.deepEqual([sample, failed, errorChars].map(Number), [L.sample, L.failed, L.errorChars]);
    });

    it("EC2's bucket sizes README quotes are the table golden-ami paces to, and pacing starts at the whole bucket", () => {
        const [dereg, snap, deregCap, deregRefill, createCap, createRefill, describeCap, describeRefill] = says(
            /e\.g\. `(DeregisterImage)` and `(DeleteSnapshot)` hold (\d+) tokens and refill (\d+) a second, `CreateImage` (\d+) and (\d+), `DescribeImages` (\d+) and (\d+)\)/,
        );
        // The pacing's own table (what golden-ami paces to) and the emulator's (what it throttles at) agree with README.
        const bucket = (action: string) => {
            const paced = bucketsFor(action, { MaxResults: 100 })[0].size;
            const emulated = bucketFor(action, [["MaxResults", "100"]]);
            assert.deepEqual([emulated.capacity, emulated.refillPerSecond], [paced.capacity, paced.refillPerSecond], action);
            return [paced.capacity, paced.refillPerSecond];
        };
        for (const action of [dereg, snap]) assert.deepEqual(bucket(action), [Number(deregCap), Number(deregRefill)], action);
        assert.deepEqual(bucket("CreateImage"), [Number(createCap), Number(createRefill)]);
        assert.deepEqual(bucket("DescribeImages"), [Number(describeCap), Number(describeRefill)]);
        // Adaptive pacing: the whole bucket by default, GOLDEN_AMI_EC2_RATE_SHARE an optional cap.
        says(/each limiter starts at the\s+bucket's documented size and refill/);
        says(/`GOLDEN_AMI_EC2_RATE_SHARE` \(a number above 0\s+and at most 1, in the environment of `pulumi up`; not set by default\)/);
        assert.equal(DEFAULT_RATE_SHARE, 1);
    });

    it("the bench figures README quotes are the ones BENCHMARKS.md recorded for that run", () => {
        const [retired, withinPct, custodian, custodianVersion, script] = says(
            /([\d,]+) retirements over three regions finished within (\d+)% of the least time the buckets allow, ([\d.]+) times as fast as Cloud Custodian ([\d.]+) and ([\d.]+) times as fast as a sequential script/,
        );
        const bench = fs.readFileSync(path.join(ROOT, "BENCHMARKS.md"), "utf8");
        // Each run BENCHMARKS.md records that retired that many images, with the summary line after it: README quotes one of them.
        const runs = bench
            .split(`${retired.replace(",", "")} retired`)
            .slice(1)
            .map((after) => /^bench: floor-ratio=([\d.]+) .*vs-custodian=([\d.]+) vs-script=([\d.]+) /m.exec(after))
            .filter((m): m is RegExpExecArray => !!m);
        assert.ok(runs.length > 0, `BENCHMARKS.md records a run that retired ${retired} images, with its summary line`);
        const line = runs.find((m) => Number(m[2]) === Number(custodian)) ?? runs[0];
        const [floorRatio, vsCustodian, vsScript] = line.slice(1).map(Number);
        assert.ok(floorRatio <= 1 + Number(withinPct) / 100, `floor-ratio ${floorRatio} is within ${withinPct}%`);
        assert.equal(Number(custodian), vsCustodian);
        assert.equal(Number(script), vsScript);
        assert.match(bench, new RegExp(`c7n ${custodianVersion.replace(/\./g, "\\.")}`));
    });

    it("the retention policy's state bound README gives is the one its test holds it to", () => {
        const [kb] = says(/at 10,000 retirements the policy's state stays under (\d+) KB/);
        const test = fs.readFileSync(path.join(ROOT, "test", "unit", "retention-policy.test.ts"), "utf8");
        assert.match(test, new RegExp(`stateBytes <= ${kb} \\* 1024`));
    });
});

describe("README's IAM policy", () => {
    it("has ec2:DescribeVolumes, which the block-device preflight of AmiFromInstance calls", () => {
        const finders = fs.readFileSync(path.join(ROOT, "dynamic-providers", "ec2", "finders.ts"), "utf8");
        assert.match(finders, /new DescribeVolumesCommand\(/);
        assert.match(README, /"ec2:DescribeVolumes"/);
    });
});

describe("messages name the property and the fix, never the value twice", () => {
    const reserved = ["ssm-foo", "/ssm/web", "/aws/golden", "AWSdata", "/SSMx/y"];
    for (const name of reserved) {
        it(`publish.ssmParameter ${JSON.stringify(name)}: says which reserved start it has and what to choose`, () => {
            const [f] = publishFailures({ news: { publish: { ssmParameter: name } } } as never);
            assert.equal(f.property, "publish.ssmParameter");
            assert.ok(f.reason.startsWith("publish.ssmParameter: "), f.reason);
            assert.equal(f.reason.split(JSON.stringify(name)).length - 1, 1, `the value once: ${f.reason}`);
            assert.match(f.reason, /begins with "(aws|ssm)", which SSM reserves/);
            assert.match(f.reason, /choose a name that begins with neither "aws" nor "ssm"/);
        });
    }
    it("names SSM may be read from (the public AMI parameters) are not refused for reading", () => {
        assert.equal(
            parameterNameProblem("/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64", { forWriting: false }),
            undefined,
        );
        assert.equal(parameterNameProblem("/golden/ssm-web", { forWriting: true }), undefined, "only the first level is reserved");
    });
});
