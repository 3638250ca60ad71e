// golden-ami's own marks: programs cannot set them, reconciliation keeps them, outputs do not show them.
import assert from "node:assert/strict";
import { check } from "../../dynamic-providers/image-planning";
import { markedTags, wantedImageTags } from "../../dynamic-providers/image-planning";
import { ownerMarkValue, snapshotsNotOwned, withoutMarks } from "../../sdk/ownership";
import { checkRetentionPolicyInputs } from "../../sdk/validation";

const copy = { name: "web-copy", region: "us-west-2", sourceAmiId: "ami-0123456789abcdef0", sourceAmiRegion: "us-east-1" };

describe("golden-ami's marks", () => {
    it("check refuses a golden-ami: tag key in tags and snapshotTags, naming the property and the fix", async () => {
        const r = await check(
            "ami-copy",
            {},
            { ...copy, tags: { "golden-ami:owner": "p/s/AmiCopy/x" }, snapshotTags: { "Golden-Ami:x": "1" } },
        );
        assert.deepEqual(
            r.failures?.map((f) => f.property),
            ["tags", "snapshotTags"],
        );
        assert.match(
            r.failures![0].reason,
            /^tags: key "golden-ami:owner" starts with "golden-ami:", which golden-ami reserves .*choose another key/,
        );
    });

    it("takes the pipeline tags a GoldenImage passes to its copies, and retention selecting the mark", async () => {
        const r = await check("ami-copy", {}, { ...copy, tags: { "golden-ami:pipeline": "p/s/web", "golden-ami:build-hash": "abc" } });
        assert.deepEqual(r.failures, []);
        const failures = checkRetentionPolicyInputs({
            regions: ["us-east-1"],
            selector: { tags: { "golden-ami:owner": "p/s/AmiCopy/web" } },
            keepLatest: 1,
        });
        assert.deepEqual(failures, []);
    });

    it("is added to what EC2 gets, dropped from what a copy's source carried, and never part of the tags output", () => {
        const owner = ownerMarkValue("p", "s", "AmiCopy", "web");
        assert.equal(owner, "p/s/AmiCopy/web");
        const wanted = wantedImageTags({
            ...copy,
            tags: { App: "web" },
            copiedTags: { Team: "a", "golden-ami:owner": "p/s/AmiFromInstance/src" },
        });
        assert.deepEqual(wanted, { Team: "a", App: "web" });
        assert.deepEqual(markedTags(wanted, owner), { Team: "a", App: "web", "golden-ami:owner": owner });
        assert.deepEqual(withoutMarks({ App: "web", "golden-ami:owner": owner, "golden-ami:kept-in-use": "t" }), { App: "web" });
        assert.match(ownerMarkValue("p", "s", "AmiCopy", "x".repeat(300)), /^sha256:[0-9a-f]{64}$/);
    });

    it("a marked image owns only the snapshots carrying its own mark; an unmarked image (the user's) owns all of its", () => {
        const owner = { "golden-ami:owner": "p/s/AmiFromSnapshot/web", App: "web" };
        const tags = new Map<string, Record<string, string>>([
            ["snap-mine", { "golden-ami:owner": "p/s/AmiFromSnapshot/web" }],
            ["snap-other", { "golden-ami:owner": "p/s/AmiFromInstance/src" }],
            ["snap-user", { App: "web" }],
        ]);
        const ids = ["snap-mine", "snap-other", "snap-user", "snap-unread"];
        assert.deepEqual(snapshotsNotOwned(owner, ids, tags), ["snap-other", "snap-user", "snap-unread"]);
        assert.deepEqual(snapshotsNotOwned({ App: "web" }, ids, tags), []);
        // A GoldenImage's image from before the owner mark: its pipeline tag is the mark.
        const pipeline = { "golden-ami:pipeline": "p/s/web" };
        assert.deepEqual(snapshotsNotOwned(pipeline, ["snap-p", "snap-user"], new Map([["snap-p", pipeline]])), ["snap-user"]);
    });
});
