import fc from "fast-check";
import assert from "node:assert/strict";
import {
    groupOf,
    ImageReference,
    ImagesInUse,
    planRetention,
    RetentionAction,
    RetentionImage,
    RetentionRules,
    wildcardMatch,
} from "../../sdk/retention-plan";

const NOW = new Date("2026-11-22T00:00:00Z");
const DAY = 86_400_000;

function img(id: number, daysOld: number, extra: Partial<RetentionImage> = {}): RetentionImage {
    return {
        imageId: `ami-${String(id).padStart(17, "0")}`,
        region: "us-east-1",
        name: `web-${id}`,
        creationDate: new Date(NOW.getTime() - daysOld * DAY).toISOString(),
        ownerId: "111122223333",
        tags: { App: "web" },
        snapshotIds: [`snap-${String(id).padStart(17, "0")}`],
        ...extra,
    };
}

const NONE = new Map<string, string>();
/** An account that only copies the images (a GoldenImage's distribute target). */
const COPY_TARGET = "777788889999";
const ids = (plan: { retire: { imageId: string }[] }) => plan.retire.map((r) => r.imageId);

describe("planRetention", () => {
    describe("tables", () => {
        it("keeps the newest keepLatest and retires the rest", () => {
            const images = [img(1, 10), img(2, 5), img(3, 1), img(4, 20)];
            const plan = planRetention(images, NONE, { selector: { namePattern: "web-*" }, keepLatest: 2 }, NOW);
            assert.deepEqual(ids(plan), [img(4, 0).imageId, img(1, 0).imageId], "oldest first");
            assert.equal(plan.retire[1].reason, "3rd newest in group us-east-1 (keepLatest 2)");
        });

        it("with maxAgeDays retires only images older than that", () => {
            const images = [img(1, 40), img(2, 20), img(3, 10), img(4, 1)];
            const plan = planRetention(images, NONE, { selector: { namePattern: "*" }, keepLatest: 1, maxAgeDays: 30 }, NOW);
            assert.deepEqual(ids(plan), [img(1, 0).imageId]);
            assert.match(plan.retire[0].reason, /40 days old \(maxAgeDays 30\)/);
        });

        it("keeps the newest even when they are older than maxAgeDays", () => {
            const plan = planRetention(
                [img(1, 400), img(2, 300)],
                NONE,
                { selector: { namePattern: "*" }, keepLatest: 1, maxAgeDays: 30 },
                NOW,
            );
            assert.deepEqual(ids(plan), [img(1, 0).imageId]);
        });

        it("keeps per group and region", () => {
            const images = [
                img(1, 3, { tags: { App: "web" } }),
                img(2, 2, { tags: { App: "web" } }),
                img(3, 3, { tags: { App: "api" } }),
                img(4, 2, { tags: { App: "api" } }),
                img(5, 3, { tags: { App: "web" }, region: "eu-west-1" }),
            ];
            const plan = planRetention(images, NONE, { selector: { namePattern: "*" }, groupBy: ["App"], keepLatest: 1 }, NOW);
            assert.deepEqual(ids(plan).sort(), [img(1, 0).imageId, img(3, 0).imageId].sort());
            assert.deepEqual(plan.retire.map((r) => r.group).sort(), ["us-east-1/App=api", "us-east-1/App=web"]);
        });

        it("selects by name pattern and by tags, value * meaning any", () => {
            const images = [
                img(1, 5, { name: "web-a" }),
                img(2, 4, { name: "api-a" }),
                img(3, 3, { name: "web-b" }),
                img(4, 2, { name: "web-c", tags: {} }),
            ];
            assert.deepEqual(ids(planRetention(images, NONE, { selector: { namePattern: "web-?" }, keepLatest: 1 }, NOW)).sort(), [
                img(1, 0).imageId,
                img(3, 0).imageId,
            ]);
            assert.deepEqual(ids(planRetention(images, NONE, { selector: { tags: { App: "*" } }, keepLatest: 1 }, NOW)).sort(), [
                img(1, 0).imageId,
                img(2, 0).imageId,
            ]);
        });

        it("never retires excluded images, and they do not count as kept", () => {
            const inUse = new Map([[img(3, 0).imageId, "instance i-0123 (running)"]]);
            const images = [img(1, 50), img(2, 40, { tags: { App: "web", Retain: "true" } }), img(3, 30), img(4, 20), img(5, 10)];
            const rules: RetentionRules = {
                selector: { namePattern: "*" },
                keepLatest: 1,
                exclude: { imageIds: [img(4, 0).imageId], tags: { Retain: "true" } },
            };
            // non-excluded: 1 and 5; 5 is kept, 1 retired
            assert.deepEqual(ids(planRetention(images, inUse, rules, NOW)), [img(1, 0).imageId]);
        });

        it("honours inUse: false and launchedWithinDays", () => {
            const inUse = new Map([[img(1, 0).imageId, "launch template lt-1 version 3 ($Default)"]]);
            const images = [img(1, 50), img(2, 40, { lastLaunchedTime: new Date(NOW.getTime() - 2 * DAY).toISOString() }), img(3, 1)];
            const base = { selector: { namePattern: "*" }, keepLatest: 1 };
            assert.deepEqual(ids(planRetention(images, inUse, { ...base, exclude: { inUse: false } }, NOW)), [
                img(1, 0).imageId,
                img(2, 0).imageId,
            ]);
            assert.deepEqual(ids(planRetention(images, inUse, { ...base, exclude: { launchedWithinDays: 7 } }, NOW)), []);
            assert.deepEqual(ids(planRetention(images, inUse, { ...base, exclude: { launchedWithinDays: 1 } }, NOW)), [img(2, 0).imageId]);
        });

        it("reports deregistration-protected images as skipped instead of retiring them", () => {
            const plan = planRetention(
                [img(1, 50, { deregistrationProtected: true }), img(2, 1)],
                NONE,
                { selector: { namePattern: "*" }, keepLatest: 1 },
                NOW,
            );
            assert.deepEqual(plan.retire, []);
            assert.deepEqual(plan.skipped, [
                { imageId: img(1, 0).imageId, region: "us-east-1", group: "us-east-1", reason: "deregistration protection is on" },
            ]);
            const deprecate = planRetention(
                [img(1, 50, { deregistrationProtected: true }), img(2, 1)],
                NONE,
                { selector: { namePattern: "*" }, keepLatest: 1, action: "deprecate" },
                NOW,
            );
            assert.deepEqual(ids(deprecate), [img(1, 0).imageId], "protection blocks only deregistration");
        });

        it("breaks ties in creation date by image id, whatever the input order", () => {
            const a = img(2, 5);
            const b = img(1, 5);
            const rules = { selector: { namePattern: "*" }, keepLatest: 1 };
            assert.deepEqual(planRetention([a, b], NONE, rules, NOW), planRetention([b, a], NONE, rules, NOW));
            assert.deepEqual(ids(planRetention([a, b], NONE, rules, NOW)), [a.imageId]);
        });

        it("never plans an image owned by another account", () => {
            const plan = planRetention(
                [img(1, 50, { ownerId: "999999999999" }), img(2, 40), img(3, 1)],
                NONE,
                { selector: { namePattern: "*" }, keepLatest: 1, accountId: "111122223333" },
                NOW,
            );
            assert.deepEqual(ids(plan), [img(2, 0).imageId]);
        });

        it("does not plan again what a deprecate or disable run already did", () => {
            const images = [img(1, 50, { deprecationTime: NOW.toISOString() }), img(2, 40, { state: "disabled" }), img(3, 1)];
            const rules = (action: RetentionAction): RetentionRules => ({ selector: { namePattern: "*" }, keepLatest: 1, action });
            // deprecate: 1 is deprecated already; 2 is disabled, which already stops launches
            assert.deepEqual(ids(planRetention(images, NONE, rules("deprecate"), NOW)), []);
            // disable: 2 is disabled already; 1 is deprecated but still launches by id
            assert.deepEqual(ids(planRetention(images, NONE, rules("disable"), NOW)), [img(1, 0).imageId]);
            // deregister: both go, 2 because it is disabled and older than the kept image
            assert.deepEqual(ids(planRetention(images, NONE, rules("deregister"), NOW)), [img(1, 0).imageId, img(2, 0).imageId]);
        });
    });

    describe("image states", () => {
        const rules: RetentionRules = { selector: { namePattern: "*" }, keepLatest: 2 };

        it("two failed bakes and a pending bake never retire the good images", () => {
            const good = [img(1, 10), img(2, 5)];
            const bad = [
                img(3, 3, { state: "failed", stateReason: "Client.InternalError: snapshot failed" }),
                img(4, 2, { state: "failed" }),
                img(5, 1, { state: "pending" }),
            ];
            const plan = planRetention([...good, ...bad], NONE, rules, NOW);
            assert.deepEqual(plan.retire, [
                {
                    imageId: img(3, 0).imageId,
                    region: "us-east-1",
                    name: "web-3",
                    creationDate: bad[0].creationDate,
                    group: "us-east-1",
                    reason: "failed bake (state failed: Client.InternalError: snapshot failed): it can never launch, so it is retired whatever keepLatest and maxAgeDays",
                },
                {
                    imageId: img(4, 0).imageId,
                    region: "us-east-1",
                    name: "web-4",
                    creationDate: bad[1].creationDate,
                    group: "us-east-1",
                    reason: "failed bake (state failed): it can never launch, so it is retired whatever keepLatest and maxAgeDays",
                },
            ]);
            assert.deepEqual(plan.skipped, [
                {
                    imageId: img(5, 0).imageId,
                    region: "us-east-1",
                    group: "us-east-1",
                    reason: "state pending: EC2 is still making it; never touched",
                },
            ]);
        });

        it("retires failed bakes whatever maxAgeDays, but not when protected or excluded, and not with deprecate or disable", () => {
            const images = [img(1, 0, { state: "failed" }), img(2, 0, { state: "failed", deregistrationProtected: true }), img(3, 0)];
            const withAge = { ...rules, maxAgeDays: 30, exclude: { tags: { Retain: "true" } } };
            const tagged = img(4, 0, { state: "failed", tags: { Retain: "true" } });
            const plan = planRetention([...images, tagged], NONE, withAge, NOW);
            assert.deepEqual(ids(plan), [img(1, 0).imageId]);
            assert.deepEqual(plan.skipped.map((s) => [s.imageId, s.reason]).sort(), [
                [img(2, 0).imageId, "deregistration protection is on"],
                [img(4, 0).imageId, "tagged Retain=true (exclude.tags)"],
            ]);
            const deprecate = planRetention(images, NONE, { ...rules, action: "deprecate" }, NOW);
            assert.deepEqual(ids(deprecate), []);
            assert.match(deprecate.skipped[0].reason, /^failed bake \(state failed\): action deprecate does not apply to it/);
        });

        it("never touches transient, invalid, error or unknown states, saying so", () => {
            const images = [
                img(1, 90, { state: "transient" }),
                img(2, 90, { state: "invalid" }),
                img(3, 90, { state: "error", stateReason: "Server.InternalError" }),
                img(4, 90, { state: "frozen" }),
                img(5, 1),
            ];
            const plan = planRetention(images, NONE, { ...rules, keepLatest: 1 }, NOW);
            assert.deepEqual(plan.retire, []);
            assert.deepEqual(
                plan.skipped.map((s) => s.reason),
                [
                    "state transient: EC2 is changing it; never touched",
                    "state invalid: left for a person to look at; never touched",
                    "state error: left for a person to look at; never touched (EC2: Server.InternalError)",
                    "state frozen: not a state golden-ami knows; never touched",
                ],
            );
        });

        it("disabled images never fill keepLatest, and are retired only when older than the kept ones", () => {
            const images = [
                img(1, 1, { state: "disabled" }), // newest, but cannot launch
                img(2, 10),
                img(3, 20),
                img(4, 30, { state: "disabled" }),
                img(5, 40),
            ];
            const plan = planRetention(images, NONE, rules, NOW);
            assert.deepEqual(ids(plan), [img(5, 0).imageId, img(4, 0).imageId]);
            assert.equal(
                plan.retire[1].reason,
                "disabled (launches from it fail; it could be re-enabled) and older than the 2 newest available images of group us-east-1 (keepLatest 2)",
            );
            // with fewer available images than keepLatest, no disabled image is retired either
            assert.deepEqual(ids(planRetention([img(1, 1), img(4, 30, { state: "disabled" })], NONE, rules, NOW)), []);
            // maxAgeDays applies to them too
            assert.deepEqual(ids(planRetention(images, NONE, { ...rules, maxAgeDays: 35 }, NOW)), [img(5, 0).imageId]);
        });

        it("deprecated images still launch by id, so they fill keepLatest and are retired like available ones", () => {
            const deprecated = { deprecationTime: new Date(NOW.getTime() - DAY).toISOString() };
            const images = [img(1, 1, deprecated), img(2, 10), img(3, 20, deprecated)];
            const plan = planRetention(images, NONE, rules, NOW);
            assert.deepEqual(ids(plan), [img(3, 0).imageId]);
            assert.equal(
                plan.retire[0].reason,
                `3rd newest in group us-east-1 (keepLatest 2); deprecated since ${deprecated.deprecationTime}`,
            );
        });

        it("an unreadable creation date counts as the newest, so that image is never the one retired", () => {
            const plan = planRetention([img(1, 5), img(2, 10, { creationDate: "not a date" })], NONE, { ...rules, keepLatest: 1 }, NOW);
            assert.deepEqual(ids(plan), [img(1, 0).imageId]);
        });
    });

    describe("what keeps an image", () => {
        const rules: RetentionRules = { selector: { namePattern: "*" }, keepLatest: 1 };

        it("keeps images shared with other accounts, organizations, OUs or the public, unless retireShared", () => {
            const org = "arn:aws:organizations::111122223333:organization/o-abc123defg";
            const images = [
                img(1, 50, { public: true }),
                img(2, 40, { launchPermissions: [{ userId: "444455556666" }, { organizationArn: org }] }),
                img(3, 30, { launchPermissions: [{ userId: "111122223333" }] }), // its own account: not a share
                img(4, 1),
            ];
            const plan = planRetention(images, NONE, rules, NOW);
            assert.deepEqual(ids(plan), [img(3, 0).imageId]);
            assert.deepEqual(
                plan.skipped.map((s) => s.reason),
                [
                    "shared with the public: launches in other accounts are invisible to this one (retireShared: true retires shared images)",
                    `shared with account 444455556666; organization ${org}: launches in other accounts are invisible to this one (retireShared: true retires shared images)`,
                ],
            );
            assert.deepEqual(ids(planRetention(images, NONE, { ...rules, retireShared: true }, NOW)), [
                img(1, 0).imageId,
                img(2, 0).imageId,
                img(3, 0).imageId,
            ]);
        });

        it("does not count shares with copyOnlyAccounts: an image shared only with them is retired, saying so; any other share still keeps it", () => {
            const images = [
                img(1, 50, { launchPermissions: [{ userId: COPY_TARGET }] }),
                img(2, 40, { launchPermissions: [{ userId: COPY_TARGET }, { userId: "444455556666" }] }),
                img(3, 30, { launchPermissions: [{ userId: COPY_TARGET }], public: true }),
                img(4, 1),
            ];
            const before = planRetention(images, NONE, rules, NOW);
            assert.deepEqual(ids(before), [], "without copyOnlyAccounts every share keeps its image");
            const plan = planRetention(images, NONE, { ...rules, copyOnlyAccounts: [COPY_TARGET] }, NOW);
            assert.deepEqual(ids(plan), [img(1, 0).imageId]);
            assert.deepEqual(plan.retire[0].copyOnlyShares, [`account ${COPY_TARGET}`]);
            assert.match(
                plan.retire[0].reason,
                new RegExp(`shared only with account ${COPY_TARGET}, which copy it \\(copyOnlyAccounts\\)$`),
            );
            assert.deepEqual(
                plan.skipped.map((s) => [s.imageId, s.reason.split(":")[0]]),
                [
                    [img(2, 0).imageId, "shared with account 444455556666"],
                    [img(3, 0).imageId, "shared with the public"],
                ],
                "the reason names only the shares that count",
            );
            const all = planRetention(images, NONE, { ...rules, copyOnlyAccounts: [COPY_TARGET], retireShared: true }, NOW);
            assert.deepEqual(ids(all), [img(1, 0).imageId, img(2, 0).imageId, img(3, 0).imageId]);
            assert.ok(all.retire.every((r) => r.copyOnlyShares === undefined && !r.reason.includes("copyOnlyAccounts")));
        });

        it('with retireShared "when-unused", asks no usage report for an image shared only with copyOnlyAccounts: it is retired', () => {
            const images = [
                img(1, 50, { launchPermissions: [{ userId: COPY_TARGET }] }),
                img(2, 40, { launchPermissions: [{ userId: COPY_TARGET }, { userId: "444455556666" }] }),
                img(4, 1),
            ];
            const plan = planRetention(images, NONE, { ...rules, retireShared: "when-unused", copyOnlyAccounts: [COPY_TARGET] }, NOW);
            assert.deepEqual(ids(plan), [img(1, 0).imageId]);
            assert.deepEqual(
                plan.skipped.map((s) => [s.imageId, s.awaitsUsageReport]),
                [[img(2, 0).imageId, true]],
            );
        });

        it("takes what refers to an image as a list of references, and says what they are", () => {
            const refs: ImageReference[] = [
                { kind: "launch-template", id: "lt-0b", detail: "version 3, pinned by Auto Scaling group web" },
                { kind: "instance", id: "i-0a", detail: "stopped" },
                { kind: "ssm:Parameter", id: "/golden/web" },
                { kind: "imagebuilder:ImageRecipe", id: "arn:aws:imagebuilder:us-east-1:111122223333:image-recipe/web/1.0.0" },
                { kind: "spot-fleet", id: "sfr-1" },
            ];
            const inUse: ImagesInUse = new Map<string, readonly ImageReference[]>([
                [img(1, 0).imageId, refs],
                [img(2, 0).imageId, []], // nothing refers to it
            ]);
            const plan = planRetention([img(1, 50), img(2, 40), img(3, 1)], inUse, rules, NOW);
            assert.deepEqual(ids(plan), [img(2, 0).imageId]);
            assert.deepEqual(plan.skipped, [
                {
                    imageId: img(1, 0).imageId,
                    region: "us-east-1",
                    group: "us-east-1",
                    reason:
                        "in use: instance i-0a (stopped); launch template lt-0b (version 3, pinned by Auto Scaling group web); " +
                        "Spot Fleet request sfr-1; and 2 more",
                },
            ]);
        });

        it("still takes the old shape, one sentence per image", () => {
            const inUse = new Map([[img(1, 0).imageId, "instance i-0123 (running)"]]);
            const plan = planRetention([img(1, 50), img(2, 1)], inUse, rules, NOW);
            assert.deepEqual(ids(plan), []);
            assert.equal(plan.skipped[0].reason, "in use: instance i-0123 (running)");
        });

        it("reports an excluded image in skipped only when the rules alone would retire it", () => {
            const inUse = new Map([
                [img(1, 0).imageId, "instance i-1 (running)"],
                [img(3, 0).imageId, "instance i-3 (running)"],
            ]);
            // 3 is the newest and in use: it would be kept anyway, so it is not reported
            const plan = planRetention([img(1, 50), img(2, 40), img(3, 1)], inUse, { ...rules, maxAgeDays: 45 }, NOW);
            assert.deepEqual(ids(plan), []);
            assert.deepEqual(
                plan.skipped.map((s) => s.imageId),
                [img(1, 0).imageId],
            );
        });

        it("orders retire by group, then oldest first", () => {
            const images = [
                img(1, 5, { tags: { App: "web" } }),
                img(2, 50, { tags: { App: "web" } }),
                img(3, 1, { tags: { App: "web" } }),
                img(4, 5, { tags: { App: "api" } }),
                img(5, 60, { tags: { App: "api" } }),
                img(6, 1, { tags: { App: "api" } }),
            ];
            const plan = planRetention(images, NONE, { ...rules, groupBy: ["App"] }, NOW);
            assert.deepEqual(
                plan.retire.map((r) => [r.group, r.imageId]),
                [
                    ["us-east-1/App=api", img(5, 0).imageId],
                    ["us-east-1/App=api", img(4, 0).imageId],
                    ["us-east-1/App=web", img(2, 0).imageId],
                    ["us-east-1/App=web", img(1, 0).imageId],
                ],
            );
        });
    });

    it("matches wildcards like EC2's name filter", () => {
        assert.ok(wildcardMatch("web-*", "web-2026-11-01"));
        assert.ok(wildcardMatch("web-??", "web-01"));
        assert.ok(!wildcardMatch("web-??", "web-001"));
        assert.ok(wildcardMatch("a.b(c)", "a.b(c)"));
        assert.ok(!wildcardMatch("a.b", "axb"));
    });

    describe("properties", () => {
        // Enough runs that each property fails reliably on the planner mutations it guards against (see the commit log).
        let saved: fc.GlobalParameters;
        before(() => {
            saved = fc.readConfigureGlobal();
            fc.configureGlobal({ ...saved, numRuns: 500 });
        });
        after(() => fc.configureGlobal(saved));
        const STATES = [
            "available",
            "available",
            "available",
            undefined,
            "pending",
            "failed",
            "disabled",
            "transient",
            "error",
            "deregistered",
        ];
        // Weighted so that a world usually has several retirable images per group next to the excluded,
        // shared, referenced and non-available ones, and ties in creation date.
        const sometimes = <T>(arb: fc.Arbitrary<T>) =>
            fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });
        const rarely = fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) });
        const imageArb = fc.record({
            id: fc.integer({ min: 1, max: 30 }),
            // a few fixed ages make ties in creation date common
            daysOld: fc.oneof(fc.integer({ min: 0, max: 90 }), fc.constantFrom(10, 20, 30)),
            region: fc.constantFrom("us-east-1", "eu-west-1"),
            app: fc.constantFrom("web", "api", undefined),
            retain: rarely,
            protectedImage: rarely,
            launchedDaysAgo: sometimes(fc.integer({ min: 0, max: 60 })),
            state: fc.constantFrom(...STATES),
            deprecatedDaysAgo: sometimes(fc.integer({ min: -30, max: 60 })),
            share: fc.constantFrom(
                "none",
                "none",
                "none",
                "none",
                "none",
                "none",
                "public",
                "account",
                "organization",
                "own-account",
                "copy-target",
                "copy-target-and-account",
            ),
        });
        const worldArb = fc.record({
            images: fc.array(imageArb, { maxLength: 40 }).map((xs) =>
                xs.map((x) =>
                    img(x.id, x.daysOld, {
                        region: x.region,
                        tags: { ...(x.app ? { App: x.app } : {}), ...(x.retain ? { Retain: "true" } : {}) },
                        deregistrationProtected: x.protectedImage,
                        lastLaunchedTime:
                            x.launchedDaysAgo === undefined ? undefined : new Date(NOW.getTime() - x.launchedDaysAgo * DAY).toISOString(),
                        state: x.state,
                        deprecationTime:
                            x.deprecatedDaysAgo === undefined
                                ? undefined
                                : new Date(NOW.getTime() - x.deprecatedDaysAgo * DAY).toISOString(),
                        public: x.share === "public" ? true : undefined,
                        launchPermissions:
                            x.share === "account"
                                ? [{ userId: "444455556666" }]
                                : x.share === "organization"
                                  ? [{ organizationArn: "arn:aws:organizations::111122223333:organization/o-abc123defg" }]
                                  : x.share === "own-account"
                                    ? [{ userId: "111122223333" }]
                                    : x.share === "copy-target"
                                      ? [{ userId: COPY_TARGET }]
                                      : x.share === "copy-target-and-account"
                                        ? [{ userId: COPY_TARGET }, { userId: "444455556666" }]
                                        : undefined,
                    }),
                ),
            ),
            // each referenced image in one of the shapes planRetention takes; an empty list means unreferenced
            inUse: fc.array(
                fc.record({
                    id: fc.integer({ min: 1, max: 30 }),
                    shape: fc.constantFrom("sentence", "references", "empty"),
                }),
                { maxLength: 10 },
            ),
            excludedIds: fc.array(fc.integer({ min: 1, max: 30 }), { maxLength: 3 }),
            keepLatest: fc.integer({ min: 1, max: 4 }),
            maxAgeDays: fc.option(fc.integer({ min: 1, max: 90 }), { nil: undefined, freq: 2 }),
            groupByApp: fc.boolean(),
            launchedWithinDays: fc.option(fc.integer({ min: 0, max: 30 }), { nil: undefined, freq: 2 }),
            inUseExcluded: fc.constantFrom(true, false, undefined),
            retireShared: fc.option(fc.boolean(), { nil: undefined }),
            // the copy target's shares are no use (a GoldenImage's distribute account)
            copyOnly: fc.boolean(),
            action: fc.constantFrom("deregister", "deprecate", "disable") as fc.Arbitrary<RetentionAction>,
        });
        type World = typeof worldArb extends fc.Arbitrary<infer T> ? T : never;
        const setup = (w: World) => {
            const inUse = new Map<string, string | readonly ImageReference[]>();
            for (const u of w.inUse) {
                const id = img(u.id, 0).imageId;
                if (u.shape === "sentence") inUse.set(id, "instance i-1 (running)");
                else if (u.shape === "references")
                    inUse.set(id, [{ kind: "launch-template", id: "lt-1", detail: "version 7, pinned by EC2 Fleet" }]);
                else inUse.set(id, []);
            }
            const rules: RetentionRules = {
                selector: { namePattern: "*" },
                keepLatest: w.keepLatest,
                maxAgeDays: w.maxAgeDays,
                groupBy: w.groupByApp ? ["App"] : undefined,
                action: w.action,
                retireShared: w.retireShared,
                copyOnlyAccounts: w.copyOnly ? [COPY_TARGET] : undefined,
                exclude: {
                    imageIds: w.excludedIds.map((n) => img(n, 0).imageId),
                    tags: { Retain: "true" },
                    inUse: w.inUseExcluded,
                    launchedWithinDays: w.launchedWithinDays,
                },
            };
            // one image per id, as EC2 has
            const unique = [...new Map(w.images.map((i) => [i.imageId, i])).values()];
            return { inUse, rules, images: unique };
        };
        // The model the properties check against, written apart from the planner.
        const referenced = (i: RetentionImage, inUse: ImagesInUse) => {
            const v = inUse.get(i.imageId);
            return typeof v === "string" || (v !== undefined && v.length > 0);
        };
        const isShared = (i: RetentionImage, w: World) =>
            !!i.public || (i.launchPermissions ?? []).some((p) => p.userId !== i.ownerId && !(w.copyOnly && p.userId === COPY_TARGET));
        const isExcluded = (i: RetentionImage, w: World, inUse: ImagesInUse) =>
            w.excludedIds.some((n) => img(n, 0).imageId === i.imageId) ||
            i.tags.Retain === "true" ||
            (w.inUseExcluded !== false && referenced(i, inUse)) ||
            (!w.retireShared && isShared(i, w)) ||
            (w.launchedWithinDays !== undefined &&
                !!i.lastLaunchedTime &&
                NOW.getTime() - Date.parse(i.lastLaunchedTime) <= w.launchedWithinDays * DAY);
        const deprecated = (i: RetentionImage, slack = 0) => !!i.deprecationTime && Date.parse(i.deprecationTime) <= NOW.getTime() + slack;
        /** Fills a keepLatest slot under this action: available (or no state), and not already retired by the action. */
        const countsAsAvailable = (i: RetentionImage, action: RetentionAction) =>
            (i.state ?? "available") === "available" && !(action === "deprecate" && deprecated(i, 60_000));
        const newestFirst = (a: RetentionImage, b: RetentionImage) =>
            Date.parse(b.creationDate) - Date.parse(a.creationDate) || (a.imageId < b.imageId ? -1 : 1);
        const groupsOf = (images: RetentionImage[], rules: RetentionRules) => {
            const groups = new Map<string, RetentionImage[]>();
            for (const i of images) groups.set(groupOf(i, rules.groupBy), [...(groups.get(groupOf(i, rules.groupBy)) ?? []), i]);
            return groups;
        };

        it("never retires a referenced image, whatever the other rules (with the in-use check on, the default)", () => {
            fc.assert(
                fc.property(worldArb, fc.constantFrom(true, undefined), (w0, inUseCheck) => {
                    const w = { ...w0, inUseExcluded: inUseCheck };
                    const { inUse, rules, images } = setup(w);
                    const byId = new Map(images.map((i) => [i.imageId, i]));
                    return planRetention(images, inUse, rules, NOW).retire.every((r) => !referenced(byId.get(r.imageId)!, inUse));
                }),
            );
        });

        it("never retires an excluded, shared (unless retireShared) or deregistration-protected image", () => {
            fc.assert(
                fc.property(worldArb, (w) => {
                    const { inUse, rules, images } = setup(w);
                    const byId = new Map(images.map((i) => [i.imageId, i]));
                    return planRetention(images, inUse, rules, NOW).retire.every((r) => {
                        const i = byId.get(r.imageId)!;
                        return !isExcluded(i, w, inUse) && !(w.action === "deregister" && i.deregistrationProtected);
                    });
                }),
            );
        });

        it("only available images count toward keepLatest: the newest min(N, keepLatest) available ones are kept, whatever else is newer", () => {
            fc.assert(
                fc.property(worldArb, (w) => {
                    const { inUse, rules, images } = setup(w);
                    const plan = planRetention(images, inUse, rules, NOW);
                    const retired = new Set(ids(plan));
                    const protectedSkip = new Set(
                        plan.skipped.filter((s) => s.reason === "deregistration protection is on").map((s) => s.imageId),
                    );
                    const candidates = images.filter((i) => !isExcluded(i, w, inUse) && countsAsAvailable(i, w.action));
                    return [...groupsOf(candidates, rules).values()].every((members) => {
                        members.sort(newestFirst);
                        const kept = members.slice(0, w.keepLatest);
                        const rest = members.slice(w.keepLatest);
                        // the newest are never retired, nor reported as held back
                        if (kept.some((m) => retired.has(m.imageId) || protectedSkip.has(m.imageId))) return false;
                        // without an age limit, every other one is retired (or held back only by its protection)
                        if (w.maxAgeDays === undefined)
                            return rest.every((m) => retired.has(m.imageId) || (protectedSkip.has(m.imageId) && w.action === "deregister"));
                        return true;
                    });
                }),
            );
        });

        it("keeps the newest keepLatest good images of a group even under many newer failed, pending and disabled ones", () => {
            fc.assert(
                fc.property(
                    fc.integer({ min: 0, max: 8 }),
                    fc.array(fc.constantFrom("failed", "pending", "disabled", "transient", "error"), { maxLength: 12 }),
                    fc.integer({ min: 1, max: 5 }),
                    (n, newer, keepLatest) => {
                        // good images are 100+ days old; every other one is newer
                        const good = Array.from({ length: n }, (_, k) => img(k + 1, 100 + k));
                        const bad = newer.map((state, k) => img(30 + k, k, { state }));
                        const plan = planRetention([...bad, ...good], NONE, { selector: { namePattern: "*" }, keepLatest }, NOW);
                        const retiredGood = good.filter((g) => ids(plan).includes(g.imageId));
                        return (
                            retiredGood.length === Math.max(0, n - keepLatest) &&
                            good.slice(0, Math.min(n, keepLatest)).every((g) => !ids(plan).includes(g.imageId))
                        );
                    },
                ),
            );
        });

        it("never retires pending, transient, invalid or error images, and reports each in skipped", () => {
            fc.assert(
                fc.property(worldArb, (w) => {
                    const { inUse, rules, images } = setup(w);
                    const plan = planRetention(images, inUse, rules, NOW);
                    const retired = new Set(ids(plan));
                    const skipped = new Set(plan.skipped.map((s) => s.imageId));
                    return images
                        .filter((i) => ["pending", "transient", "invalid", "error"].includes(i.state ?? ""))
                        .every((i) => !retired.has(i.imageId) && skipped.has(i.imageId));
                }),
            );
        });

        it("retires every failed bake nothing holds back (action deregister), whatever keepLatest and maxAgeDays", () => {
            fc.assert(
                fc.property(worldArb, (w0) => {
                    const w = { ...w0, action: "deregister" as const };
                    const { inUse, rules, images } = setup(w);
                    const retired = new Set(ids(planRetention(images, inUse, rules, NOW)));
                    return images
                        .filter((i) => i.state === "failed" && !isExcluded(i, w, inUse) && !i.deregistrationProtected)
                        .every((i) => retired.has(i.imageId));
                }),
            );
        });

        it("never leaves a group with fewer than min(keepLatest, available non-excluded) launchable images", () => {
            fc.assert(
                fc.property(worldArb, (w) => {
                    const { inUse, rules, images } = setup(w);
                    const retired = new Set(ids(planRetention(images, inUse, rules, NOW)));
                    const candidates = images.filter((x) => !isExcluded(x, w, inUse) && countsAsAvailable(x, w.action));
                    return [...groupsOf(candidates, rules).values()].every(
                        (members) => members.filter((m) => !retired.has(m.imageId)).length >= Math.min(w.keepLatest, members.length),
                    );
                }),
            );
        });

        it("is deterministic: the same data in any order gives the same plan, also when creation dates tie", () => {
            fc.assert(
                fc.property(worldArb, fc.array(fc.integer(), { minLength: 40, maxLength: 40 }), fc.boolean(), (w, keys, sameAge) => {
                    const { inUse, rules, images: generated } = setup(w);
                    const images = sameAge ? generated.map((i) => ({ ...i, creationDate: img(0, 30).creationDate })) : generated;
                    const shuffled = images
                        .map((i, k) => ({ i, key: keys[k] }))
                        .sort((a, b) => a.key - b.key)
                        .map((x) => x.i);
                    const inUseReversed = new Map([...inUse].reverse());
                    return (
                        JSON.stringify(planRetention(images, inUse, rules, NOW)) ===
                        JSON.stringify(planRetention(shuffled, inUseReversed, rules, NOW))
                    );
                }),
            );
        });

        it("orders retire and skipped by group, then oldest first, then id, and never lists an image twice", () => {
            const sorted = (xs: { group?: string; imageId: string }[], byId: Map<string, RetentionImage>) =>
                xs.every((x, k) => {
                    if (k === 0) return true;
                    const p = xs[k - 1];
                    if (p.group! !== x.group!) return p.group! < x.group!;
                    const d = Date.parse(byId.get(p.imageId)!.creationDate) - Date.parse(byId.get(x.imageId)!.creationDate);
                    return d < 0 || (d === 0 && p.imageId < x.imageId);
                });
            fc.assert(
                fc.property(worldArb, (w) => {
                    const { inUse, rules, images } = setup(w);
                    const byId = new Map(images.map((i) => [i.imageId, i]));
                    const plan = planRetention(images, inUse, rules, NOW);
                    const all = [...plan.retire, ...plan.skipped].map((x) => x.imageId);
                    return (
                        sorted(plan.retire, byId) &&
                        sorted(plan.skipped, byId) &&
                        new Set(all).size === all.length &&
                        [...plan.retire, ...plan.skipped].every(
                            (x) => x.reason.length > 0 && x.group === groupOf(byId.get(x.imageId)!, rules.groupBy),
                        )
                    );
                }),
            );
        });

        it("is idempotent: once its plan is applied, it plans nothing more", () => {
            fc.assert(
                fc.property(worldArb, (w) => {
                    const { inUse, rules, images } = setup(w);
                    const first = planRetention(images, inUse, rules, NOW);
                    const retired = new Set(ids(first));
                    const after = images
                        .filter((i) => w.action !== "deregister" || !retired.has(i.imageId))
                        .map((i) =>
                            !retired.has(i.imageId)
                                ? i
                                : w.action === "deprecate"
                                  ? { ...i, deprecationTime: new Date(NOW.getTime() + 60_000).toISOString() }
                                  : { ...i, state: "disabled" },
                        );
                    const second = planRetention(after, inUse, rules, NOW);
                    // nothing new to retire, and what was held back is still held back, for the same reasons
                    return second.retire.length === 0 && JSON.stringify(second.skipped) === JSON.stringify(first.skipped);
                }),
            );
        });
    });
});
