import { DescribeImagesCommand, DescribeImagesCommandOutput, EC2Client } from "@aws-sdk/client-ec2";
import { Client as SmithyClient } from "@smithy/core/client";
import { HttpResponse } from "@smithy/core/transport";
import fc from "fast-check";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { Readable } from "node:stream";
import * as sinon from "sinon";
import { ACTION_CATEGORIES, bucketsFor, categoryOf } from "../../dynamic-providers/ec2/request-buckets";
import {
    AdaptiveLimiter,
    answered,
    CONTENDED_SHARE,
    EDGE_DECREASE,
    installPacing,
    limiterFor,
    MIN_RATE_SHARE,
    pace,
    PACING_MIDDLEWARE,
    rateShare,
    RATE_SCALE_ENV,
    RATE_SHARE_ENV,
    rateScale,
    resetPacing,
    RECOVERY_PER_SECOND,
    setRateShare,
    THROTTLE_DECREASE,
    TokenBucket,
} from "../../dynamic-providers/ec2/request-pacing";

/** Lets pending promise callbacks run without moving the fake clock. */
async function settle(clock: sinon.SinonFakeTimers): Promise<void> {
    await clock.tickAsync(0);
}

function tracked(p: Promise<unknown>): { done: boolean } {
    const state = { done: false };
    void p.then(() => (state.done = true));
    return state;
}

describe("EC2 request pacing", () => {
    let clock: sinon.SinonFakeTimers | undefined;
    const savedShare = process.env[RATE_SHARE_ENV];
    const savedScale = process.env[RATE_SCALE_ENV];

    beforeEach(() => {
        resetPacing();
        delete process.env[RATE_SHARE_ENV];
        delete process.env[RATE_SCALE_ENV];
    });
    afterEach(() => {
        clock?.restore();
        clock = undefined;
        resetPacing();
        if (savedShare === undefined) delete process.env[RATE_SHARE_ENV];
        else process.env[RATE_SHARE_ENV] = savedShare;
        if (savedScale === undefined) delete process.env[RATE_SCALE_ENV];
        else process.env[RATE_SCALE_ENV] = savedScale;
    });

    describe("a token bucket", () => {
        it("lets a burst of its capacity through at once, then one request per 1/refill seconds", async () => {
            clock = sinon.useFakeTimers();
            const bucket = new TokenBucket(3, 2);
            const burst = [bucket.acquire(), bucket.acquire(), bucket.acquire()].map(tracked);
            await settle(clock);
            assert.deepEqual(
                burst.map((b) => b.done),
                [true, true, true],
            );
            const fourth = tracked(bucket.acquire());
            const fifth = tracked(bucket.acquire());
            await clock.tickAsync(499);
            assert.equal(fourth.done, false, "the fourth waits 1/2 s");
            await clock.tickAsync(1);
            assert.equal(fourth.done, true);
            assert.equal(fifth.done, false);
            await clock.tickAsync(500);
            assert.equal(fifth.done, true);
        });

        it("refills up to its capacity, never beyond", async () => {
            clock = sinon.useFakeTimers();
            const bucket = new TokenBucket(5, 10);
            for (let i = 0; i < 5; i++) await bucket.acquire();
            await clock.tickAsync(60_000);
            assert.equal(bucket.available(), 5);
        });

        it("serves waiters in order: a large request is not overtaken by small ones", async () => {
            clock = sinon.useFakeTimers();
            const bucket = new TokenBucket(4, 1);
            await bucket.acquire(4);
            const big = tracked(bucket.acquire(3));
            const small = tracked(bucket.acquire(1));
            await clock.tickAsync(1000);
            assert.equal(small.done, false, "one token is there, but the large request came first");
            await clock.tickAsync(2000);
            assert.equal(big.done, true);
            assert.equal(small.done, false);
            await clock.tickAsync(1000);
            assert.equal(small.done, true);
        });

        it("takes a request larger than the bucket as a full bucket instead of waiting forever", async () => {
            clock = sinon.useFakeTimers();
            const bucket = new TokenBucket(2, 1);
            const huge = tracked(bucket.acquire(50));
            await settle(clock);
            assert.equal(huge.done, true);
            assert.ok(bucket.available() < 1e-9);
        });
    });

    describe("EC2's table", () => {
        it("sizes each action golden-ami uses from the documented categories and own buckets", () => {
            const size = (action: string, input?: Record<string, unknown>) =>
                bucketsFor(action, input).map((d) => [d.bucket, d.size.capacity, d.size.refillPerSecond, d.tokens]);
            assert.deepEqual(size("DescribeImages"), [["DescribeImages", 100, 20, 1]]);
            assert.deepEqual(size("CreateImage"), [["CreateImage", 50, 5, 1]]);
            assert.deepEqual(size("EnableImageDeprecation"), [["EnableImageDeprecation", 50, 5, 1]]);
            assert.deepEqual(size("DeregisterImage"), [["DeregisterImage", 100, 5, 1]]);
            assert.deepEqual(size("DeleteSnapshot"), [["DeleteSnapshot", 100, 5, 1]]);
            assert.deepEqual(size("CopyImage"), [["CopyImage", 100, 1, 1]]);
            assert.deepEqual(size("CreateTags"), [["CreateTags", 100, 10, 1]]);
            assert.deepEqual(size("ModifyImageAttribute"), [["ModifyImageAttribute", 100, 5, 1]]);
        });

        it("puts DescribeInstances and DescribeSnapshots without filter or paging in the smaller bucket", () => {
            assert.deepEqual(
                bucketsFor("DescribeSnapshots", { SnapshotIds: ["snap-1"] }).map((d) => [d.bucket, d.size.capacity]),
                [["DescribeSnapshots/unfiltered", 50]],
            );
            assert.deepEqual(
                bucketsFor("DescribeInstances", { Filters: [{ Name: "image-id", Values: ["ami-1"] }] }).map((d) => [
                    d.bucket,
                    d.size.capacity,
                ]),
                [["DescribeInstances", 100]],
            );
            assert.deepEqual(
                bucketsFor("DescribeInstances", { MaxResults: 1000 }).map((d) => d.bucket),
                ["DescribeInstances"],
            );
        });

        it("drains the resource bucket of instance actions by the number of instances", () => {
            assert.deepEqual(
                bucketsFor("RunInstances", { MinCount: 3, MaxCount: 3 }).map((d) => [d.bucket, d.size.capacity, d.tokens]),
                [
                    ["RunInstances", 5, 1],
                    ["RunInstances/resources", 1000, 3],
                ],
            );
            assert.deepEqual(
                bucketsFor("TerminateInstances", { InstanceIds: ["i-1", "i-2"] }).map((d) => [d.bucket, d.size.refillPerSecond, d.tokens]),
                [
                    ["TerminateInstances", 5, 1],
                    ["TerminateInstances/resources", 20, 2],
                ],
            );
        });

        it("classes actions it does not list by EC2's naming rule", () => {
            assert.equal(categoryOf("DescribeFastLaunchImages"), "non-mutating");
            assert.equal(categoryOf("GetImageBlockPublicAccessState"), "non-mutating");
            assert.equal(categoryOf("ResetImageAttribute"), "mutating");
        });

        it("lists every EC2 action the providers send", () => {
            const root = path.join(__dirname, "..", "..", "dynamic-providers");
            const files = fs.readdirSync(root, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts"));
            const actions = new Set<string>();
            for (const f of files) {
                const text = fs.readFileSync(path.join(root, f), "utf8");
                for (const m of text.matchAll(/import\s*(?:type\s*)?\{([^}]*)\}\s*from\s*"@aws-sdk\/client-ec2"/g)) {
                    for (const name of m[1].split(",").map((s) => s.trim())) {
                        const command = /^(\w+)Command$/.exec(name);
                        const paginator = /^paginate(\w+)$/.exec(name);
                        const action = command?.[1] ?? paginator?.[1];
                        if (action) actions.add(action);
                    }
                }
            }
            assert.ok(actions.size > 10, `found ${actions.size} actions: the scan is broken`);
            const missing = [...actions].filter((a) => !(a in ACTION_CATEGORIES));
            assert.deepEqual(missing, [], "add these to ACTION_CATEGORIES with their category from EC2's throttling page");
        });
    });

    describe("the process-wide limiters", () => {
        it("keeps one bucket per account, region and action", async () => {
            clock = sinon.useFakeTimers();
            setRateShare(1);
            for (let i = 0; i < 100; i++) await pace("AKIDA", "us-east-1", "DeregisterImage");
            const blocked = tracked(pace("AKIDA", "us-east-1", "DeregisterImage"));
            const otherAccount = tracked(pace("AKIDB", "us-east-1", "DeregisterImage"));
            const otherRegion = tracked(pace("AKIDA", "eu-west-1", "DeregisterImage"));
            const otherAction = tracked(pace("AKIDA", "us-east-1", "DeleteSnapshot"));
            await settle(clock);
            assert.deepEqual([blocked.done, otherAccount.done, otherRegion.done, otherAction.done], [false, true, true, true]);
            await clock.tickAsync(200); // DeregisterImage refills 5 tokens a second
            assert.equal(blocked.done, true);
        });

        it("uses the whole documented bucket by default", async () => {
            clock = sinon.useFakeTimers();
            assert.equal(rateShare(), 1);
            for (let i = 0; i < 100; i++) await pace("AKIDA", "us-east-1", "DeregisterImage");
            const next = tracked(pace("AKIDA", "us-east-1", "DeregisterImage"));
            await clock.tickAsync(199);
            assert.equal(next.done, false, "5 tokens a second: the 101st waits 200 ms");
            await clock.tickAsync(1);
            assert.equal(next.done, true);
        });

        it("caps each bucket at GOLDEN_AMI_EC2_RATE_SHARE when it is set (a guaranteed headroom)", async () => {
            clock = sinon.useFakeTimers();
            process.env[RATE_SHARE_ENV] = "0.5";
            for (let i = 0; i < 50; i++) await pace("AKIDA", "us-east-1", "DeregisterImage");
            const next = tracked(pace("AKIDA", "us-east-1", "DeregisterImage"));
            await clock.tickAsync(399);
            assert.equal(next.done, false, "2.5 tokens a second: the 51st waits 400 ms");
            await clock.tickAsync(1);
            assert.equal(next.done, true);
        });

        it("takes the share from GOLDEN_AMI_EC2_RATE_SHARE", async () => {
            clock = sinon.useFakeTimers();
            process.env[RATE_SHARE_ENV] = "0.25";
            assert.equal(
                limiterFor("AKIDA", "us-east-1", { bucket: "CreateImage", size: { capacity: 40, refillPerSecond: 4 } }).available(),
                10,
            );
        });

        it("refuses a share outside (0, 1], naming the variable", () => {
            for (const bad of ["0", "1.5", "-1", "half", ""]) {
                process.env[RATE_SHARE_ENV] = bad;
                assert.throws(() => rateShare(), /GOLDEN_AMI_EC2_RATE_SHARE must be a number above 0 and at most 1/);
            }
            assert.throws(() => setRateShare(0), /rate share must be a number above 0/);
        });

        it("multiplies refill rates, not capacities, by GOLDEN_AMI_EC2_RATE_SCALE (for the emulator's sped-up buckets)", async () => {
            clock = sinon.useFakeTimers();
            process.env[RATE_SCALE_ENV] = "4";
            setRateShare(1);
            for (let i = 0; i < 100; i++) await pace("AKIDA", "us-east-1", "DeregisterImage");
            const next = tracked(pace("AKIDA", "us-east-1", "DeregisterImage"));
            await settle(clock);
            assert.equal(next.done, false, "the capacity stays 100: the 101st waits");
            await clock.tickAsync(49);
            assert.equal(next.done, false, "5 x 4 = 20 tokens a second: the 101st waits 50 ms");
            await clock.tickAsync(1);
            assert.equal(next.done, true);
        });

        it("ignores a GOLDEN_AMI_EC2_RATE_SCALE that is not a positive number", () => {
            for (const bad of ["0", "-2", "fast", ""]) {
                process.env[RATE_SCALE_ENV] = bad;
                assert.equal(rateScale(), 1, `'${bad}'`);
            }
            process.env[RATE_SCALE_ENV] = "2.5";
            assert.equal(rateScale(), 2.5);
        });

        it("resizes buckets already in use when the share changes", async () => {
            clock = sinon.useFakeTimers();
            setRateShare(1);
            const bucket = limiterFor("AKIDA", "us-east-1", { bucket: "DeleteSnapshot", size: { capacity: 100, refillPerSecond: 5 } });
            assert.equal(bucket.available(), 100);
            setRateShare(0.1);
            assert.equal(bucket.available(), 10);
        });
    });

    describe("the adaptive rate", () => {
        const DEREGISTER = { capacity: 100, refillPerSecond: 5 };

        it("cuts a bucket's refill gently at the cap and drops its tokens when EC2 throttles, leaving other buckets alone", async () => {
            clock = sinon.useFakeTimers();
            const deregister = limiterFor("AKIDA", "us-east-1", bucketsFor("DeregisterImage")[0]);
            const snapshots = limiterFor("AKIDA", "us-east-1", bucketsFor("DeleteSnapshot")[0]);
            const paced = await pace("AKIDA", "us-east-1", "DeregisterImage");
            answered(paced, "RequestLimitExceeded");
            assert.equal(deregister.refillPerSecond(), 5 * EDGE_DECREASE);
            assert.equal(deregister.capacity(), 100 * EDGE_DECREASE);
            assert.ok(deregister.available() < 1e-9, "EC2's bucket is empty: so is ours");
            assert.equal(snapshots.refillPerSecond(), 5);
            assert.equal(snapshots.available(), 100);
            const next = tracked(pace("AKIDA", "us-east-1", "DeregisterImage"));
            await clock.tickAsync(222);
            assert.equal(next.done, false, "4.5 tokens a second: the next waits 223 ms");
            await clock.tickAsync(1);
            assert.equal(next.done, true);
        });

        it("goes to a quarter of the cap when EC2 throttles again before it is back at the cap (another client), then halves", async () => {
            clock = sinon.useFakeTimers();
            const limiter = new AdaptiveLimiter(DEREGISTER);
            limiter.throttled();
            await clock.tickAsync(10);
            limiter.throttled();
            assert.equal(limiter.refillPerSecond(), 5 * THROTTLE_DECREASE * THROTTLE_DECREASE);
            assert.equal(limiter.capacity(), 100 * THROTTLE_DECREASE * THROTTLE_DECREASE);
            await clock.tickAsync(10);
            limiter.throttled();
            assert.equal(limiter.refillPerSecond(), 5 * THROTTLE_DECREASE ** 3);
        });

        it("once another client has shown itself, probes back up to CONTENDED_SHARE of the cap, not beyond", async () => {
            clock = sinon.useFakeTimers();
            const limiter = new AdaptiveLimiter(DEREGISTER);
            limiter.throttled();
            assert.equal(limiter.isContended(), false, "one throttle at the cap: the edge of an idle bucket");
            await clock.tickAsync(10);
            limiter.throttled();
            assert.equal(limiter.isContended(), true);
            await clock.tickAsync(1_000_000);
            limiter.succeeded();
            assert.equal(limiter.refillPerSecond(), 5 * CONTENDED_SHARE);
            limiter.throttled();
            assert.equal(limiter.refillPerSecond(), 5 * CONTENDED_SHARE * THROTTLE_DECREASE, "no gentle cut once contended");
        });

        it("cuts gently again once it has been back at the cap", async () => {
            clock = sinon.useFakeTimers();
            const limiter = new AdaptiveLimiter(DEREGISTER);
            limiter.throttled();
            await clock.tickAsync(60_000);
            limiter.succeeded();
            assert.equal(limiter.refillPerSecond(), 5);
            limiter.throttled();
            assert.equal(limiter.refillPerSecond(), 5 * EDGE_DECREASE);
        });

        it("cuts once for answers to requests sent before the cut", async () => {
            clock = sinon.useFakeTimers();
            const limiter = new AdaptiveLimiter(DEREGISTER);
            const sent = await Promise.all([limiter.acquire(), limiter.acquire(), limiter.acquire()]);
            await clock.tickAsync(10);
            for (const at of sent) limiter.throttled(at);
            assert.equal(limiter.refillPerSecond(), 4.5);
            assert.equal(limiter.throttles, 3);
            await clock.tickAsync(1000);
            limiter.throttled(await limiter.acquire());
            assert.equal(limiter.refillPerSecond(), 1.25, "a request sent after the cut and throttled cuts again");
        });

        it("probes back up while answers succeed, by RECOVERY_PER_SECOND of the cap a second, never above the cap", async () => {
            clock = sinon.useFakeTimers();
            const limiter = new AdaptiveLimiter(DEREGISTER);
            limiter.throttled();
            assert.equal(limiter.refillPerSecond(), 4.5);
            await clock.tickAsync(5_000);
            limiter.succeeded();
            assert.ok(Math.abs(limiter.refillPerSecond() - (4.5 + 5 * RECOVERY_PER_SECOND * 5)) < 1e-9, String(limiter.refillPerSecond()));
            await clock.tickAsync(1_000_000);
            limiter.succeeded();
            assert.equal(limiter.refillPerSecond(), 5);
            assert.equal(limiter.capacity(), 100);
        });

        it("recovers in EC2 time: x GOLDEN_AMI_EC2_RATE_SCALE against the sped-up emulator", async () => {
            clock = sinon.useFakeTimers();
            process.env[RATE_SCALE_ENV] = "2";
            const limiter = new AdaptiveLimiter({ capacity: 100, refillPerSecond: 10 });
            limiter.throttled();
            await clock.tickAsync(5_000);
            limiter.succeeded();
            assert.ok(
                Math.abs(limiter.refillPerSecond() - (9 + 10 * RECOVERY_PER_SECOND * 2 * 5)) < 1e-9,
                String(limiter.refillPerSecond()),
            );
        });

        it("stays between MIN_RATE_SHARE of the cap and the cap, whatever EC2 answers (property)", () => {
            const event = fc.record({ throttled: fc.boolean(), afterMs: fc.integer({ min: 0, max: 120_000 }) });
            fc.assert(
                fc.property(fc.array(event, { maxLength: 60 }), (events) => {
                    const fake = sinon.useFakeTimers();
                    try {
                        const limiter = new AdaptiveLimiter(DEREGISTER);
                        for (const e of events) {
                            fake.tick(e.afterMs);
                            const before = limiter.refillPerSecond();
                            if (e.throttled) limiter.throttled();
                            else limiter.succeeded();
                            const after = limiter.refillPerSecond();
                            if (e.throttled ? after > before : after < before) return false;
                            if (after < 5 * MIN_RATE_SHARE - 1e-9 || after > 5 + 1e-9) return false;
                            if (limiter.capacity() < 1 || limiter.capacity() > 100 + 1e-9) return false;
                        }
                        return true;
                    } finally {
                        fake.restore();
                    }
                }),
            );
        });

        /**
         * A retention run against one EC2 bucket (100 tokens, 5 a second) that
         * another client also draws from at a steady rate (a request every
         * 1/rate s, not retried: the bench's competitor), in fake time: 8
         * workers send DeregisterImage through the limiter; EC2 takes a token
         * per request or answers RequestLimitExceeded; a throttled request is
         * sent again 0.5 s later. With `jitterMs`, each request reaches EC2
         * between 0 and that many ms after it left (latency varies; a fixed
         * pseudo-random sequence), so requests that left evenly spaced arrive
         * bunched, as they do at the edge of a real bucket.
         */
        async function simulate(requests: number, otherPerSecond: number, jitterMs = 0) {
            const fake = sinon.useFakeTimers();
            let seed = 42;
            const random = () => {
                seed = (seed * 1103515245 + 12345) % 2147483648;
                return seed / 2147483648;
            };
            try {
                const limiter = new AdaptiveLimiter(DEREGISTER);
                let ec2Tokens = 100;
                let last = Date.now();
                const ec2Take = () => {
                    const now = Date.now();
                    ec2Tokens = Math.min(100, ec2Tokens + ((now - last) / 1000) * 5);
                    last = now;
                    if (ec2Tokens < 1) return false;
                    ec2Tokens -= 1;
                    return true;
                };
                const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
                // The other client: a request every 1/otherPerSecond s, not retried (as the bench's competitor).
                let otherRunning = otherPerSecond > 0;
                let otherSent = 0;
                let otherThrottled = 0;
                const otherRequests: Promise<void>[] = [];
                const other = (async () => {
                    while (otherRunning) {
                        await sleep(1000 / otherPerSecond);
                        if (!otherRunning) break;
                        otherSent++;
                        otherRequests.push(
                            (async () => {
                                if (jitterMs > 0) await sleep(Math.floor(random() * jitterMs));
                                if (!ec2Take()) otherThrottled++;
                            })(),
                        );
                    }
                })();
                let left = requests;
                let sent = 0;
                let throttled = 0;
                const worker = async () => {
                    while (left > 0) {
                        left--;
                        for (;;) {
                            const at = await limiter.acquire();
                            sent++;
                            if (jitterMs > 0) await new Promise((r) => setTimeout(r, Math.floor(random() * jitterMs)));
                            if (ec2Take()) {
                                limiter.succeeded();
                                break;
                            }
                            throttled++;
                            limiter.throttled(at);
                            await new Promise((r) => setTimeout(r, 500));
                        }
                    }
                };
                const started = Date.now();
                const run = Promise.all(Array.from({ length: 8 }, worker));
                let finished = false;
                void run.then(() => (finished = true));
                while (!finished) await fake.tickAsync(100);
                const seconds = (Date.now() - started) / 1000;
                otherRunning = false;
                if (otherPerSecond > 0) await fake.tickAsync(1000 / otherPerSecond + jitterMs + 1);
                await Promise.all([other, ...otherRequests]);
                if (process.env.GOLDEN_AMI_PACING_SIM_VERBOSE)
                    console.log({ requests, otherPerSecond, jitterMs, sent, throttled, otherSent, otherThrottled, seconds });
                return {
                    seconds,
                    throttledShare: throttled / sent,
                    otherThrottledShare: otherSent ? otherThrottled / otherSent : 0,
                };
            } finally {
                fake.restore();
            }
        }

        it("on an idle bucket, runs at the bucket's floor and is never throttled", async () => {
            const r = await simulate(600, 0);
            const floor = (600 - 100) / 5;
            assert.equal(r.throttledShare, 0);
            assert.ok(r.seconds <= floor * 1.01, `${r.seconds} s against a floor of ${floor} s`);
        });

        it("with another client taking half of the bucket, stays under 2% throttled and near the floor of the half left", async () => {
            const r = await simulate(800, 2.5);
            const floor = (800 - 100) / 2.5;
            assert.ok(r.throttledShare <= 0.02, `throttled ${(r.throttledShare * 100).toFixed(1)}%`);
            assert.ok(r.otherThrottledShare <= 0.05, `the other client throttled ${(r.otherThrottledShare * 100).toFixed(1)}%`);
            assert.ok(r.seconds <= floor * 1.2, `${r.seconds} s against a floor of ${floor} s for the half left`);
        });

        it("on an idle bucket whose requests arrive bunched by latency, meets its edge rarely and stays near the floor", async () => {
            const r = await simulate(2000, 0, 400);
            const floor = (2000 - 100) / 5;
            assert.ok(r.throttledShare <= 0.01, `throttled ${(r.throttledShare * 100).toFixed(1)}%`);
            // Halving the refill at the first throttle (no gentle cut at the cap) takes 1.035x here.
            assert.ok(r.seconds <= floor * 1.01, `${r.seconds} s against a floor of ${floor} s`);
        });

        it("with another client taking half of the bucket and latency that varies, stays under 2% throttled", async () => {
            const r = await simulate(800, 2.5, 400);
            const floor = (800 - 100) / 2.5;
            assert.ok(r.throttledShare <= 0.02, `throttled ${(r.throttledShare * 100).toFixed(1)}%`);
            assert.ok(r.otherThrottledShare <= 0.05, `the other client throttled ${(r.otherThrottledShare * 100).toFixed(1)}%`);
            assert.ok(r.seconds <= floor * 1.2, `${r.seconds} s against a floor of ${floor} s for the half left`);
        });
    });

    describe("the SDK middleware", () => {
        const THROTTLED =
            "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>r1</RequestID></Response>";
        const EMPTY = `<DescribeImagesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r2</requestId><imagesSet/></DescribeImagesResponse>`;

        /**
         * The SDK's own send: other unit files mock EC2Client.prototype.send for
         * the whole mocha process (aws-sdk-client-mock), and a mock skips the
         * middleware stack these tests are about.
         */
        const send = (client: EC2Client, input: DescribeImagesCommand["input"] = {}) =>
            (
                SmithyClient.prototype.send as unknown as (
                    this: EC2Client,
                    c: DescribeImagesCommand,
                ) => Promise<DescribeImagesCommandOutput>
            ).call(client, new DescribeImagesCommand(input));

        /** A real EC2Client whose HTTP layer answers from `replies` in turn (mocks of `send` would bypass the middleware stack). */
        function clientAnswering(replies: { status: number; body: string }[], accessKeyId = "AKIDPACING", roleArn?: string) {
            const sent: number[] = [];
            const client = new EC2Client({
                region: "us-east-1",
                retryMode: "standard",
                maxAttempts: 5,
                credentials: { accessKeyId, secretAccessKey: "not-a-secret" },
                requestHandler: {
                    handle: async () => {
                        const r = replies[Math.min(sent.length, replies.length - 1)];
                        sent.push(Date.now());
                        return {
                            response: new HttpResponse({
                                statusCode: r.status,
                                headers: { "content-type": "text/xml" },
                                body: Readable.from([Buffer.from(r.body)]),
                            }),
                        };
                    },
                },
            });
            return { client: installPacing(client, { roleArn }), sent };
        }

        it("sits inside the retry loop and before signing", () => {
            const { client } = clientAnswering([{ status: 200, body: EMPTY }]);
            const stack = client.middlewareStack.identify();
            const at = (name: string) => stack.findIndex((m) => m.startsWith(name));
            assert.ok(at(PACING_MIDDLEWARE) > at("retryMiddleware"), stack.join("\n"));
            assert.ok(at(PACING_MIDDLEWARE) < at("httpSigningMiddleware"), stack.join("\n"));
        });

        it("takes a token for every attempt, SDK retries included", async () => {
            const acquire = sinon.spy(TokenBucket.prototype, "acquire");
            try {
                const { client, sent } = clientAnswering([
                    { status: 503, body: THROTTLED },
                    { status: 200, body: EMPTY },
                ]);
                const out = await send(client, { Owners: ["self"] });
                assert.equal(out.$metadata.attempts, 2);
                assert.equal(sent.length, 2);
                assert.equal(acquire.callCount, 2);
            } finally {
                acquire.restore();
            }
        });

        it("cuts the bucket of the account, region and action EC2 throttled, and only that one", async () => {
            const { client } = clientAnswering([
                { status: 503, body: THROTTLED },
                { status: 200, body: EMPTY },
            ]);
            await send(client, { Owners: ["self"] });
            const cut = limiterFor("AKIDPACING", "us-east-1", bucketsFor("DescribeImages")[0]).refillPerSecond();
            // Cut gently (at the cap), then a little back up for the retry that succeeded after the SDK's back-off.
            assert.ok(cut >= 20 * EDGE_DECREASE && cut < 20, `DescribeImages refills ${cut} a second`);
            assert.equal(limiterFor("AKIDPACING", "eu-west-1", bucketsFor("DescribeImages")[0]).refillPerSecond(), 20);
            assert.equal(limiterFor("AKIDPACING", "us-east-1", bucketsFor("DescribeImageAttribute")[0]).refillPerSecond(), 20);
        });

        it("holds a request until its bucket has a token", async () => {
            setRateShare(0.05); // DescribeImages: 5 tokens, 1 a second
            const { client, sent } = clientAnswering([{ status: 200, body: EMPTY }]);
            const bucket = limiterFor("AKIDPACING", "us-east-1", bucketsFor("DescribeImages")[0]);
            await bucket.acquire(5);
            const started = Date.now();
            await send(client, { Owners: ["self"] });
            assert.ok(sent[0] - started >= 900, `sent after ${sent[0] - started} ms, not after the 1 s refill`);
        });

        it("keys the bucket by the client's credentials, or by the role it was given", async () => {
            clock = sinon.useFakeTimers({ toFake: ["Date"] }); // no refill while the SDK works
            setRateShare(1);
            const role = "arn:aws:iam::111122223333:role/golden-ami";
            const otherRoleSameAccount = "arn:aws:iam::111122223333:role/path/other";
            await send(clientAnswering([{ status: 200, body: EMPTY }], "AKIDFIRST").client);
            await send(clientAnswering([{ status: 200, body: EMPTY }], "AKIDSECOND", role).client);
            await send(clientAnswering([{ status: 200, body: EMPTY }], "AKIDTHIRD", otherRoleSameAccount).client);
            const left = (account: string) => limiterFor(account, "us-east-1", bucketsFor("DescribeImages")[0]).available();
            assert.equal(left("AKIDFIRST"), 99);
            assert.equal(left("account:111122223333"), 98, "two roles into one account draw from its one bucket, as EC2 counts");
            assert.equal(left("AKIDSECOND"), 100, "a role's requests are not counted against the key that assumed it");
            assert.equal(left("AKIDTHIRD"), 100);
        });
    });
});
