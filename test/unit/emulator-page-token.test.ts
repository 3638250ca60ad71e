// The emulator's pagination tokens (emulator/page-token.ts): bound to the
// action and the request, and resuming after the last key handed out, so
// that a reader who deletes what it read, or a writer who adds items between
// pages, never makes a page skip an item that was there all along.
import fc from "fast-check";
import assert from "node:assert/strict";
import { byKey, cutPage, encodePageToken, requestDigest, resumeAt } from "../../emulator/page-token";
import { isEc2ErrorXml } from "../../emulator/unsupported";

const id = (k: string) => k;

describe("emulator page tokens", () => {
    it("refuse a token of another action, another request, or none of the emulator's", () => {
        const digest = requestDigest([["OwnerId.1", "self"]]);
        const token = encodePageToken("DescribeSnapshots", digest, "snap-1");
        assert.equal(resumeAt(token, "DescribeSnapshots", digest, ["snap-1", "snap-2"]), 1);
        assert.equal(resumeAt(token, "DescribeInstances", digest, ["snap-1"]), undefined);
        assert.equal(resumeAt(token, "DescribeSnapshots", requestDigest([["OwnerId.1", "amazon"]]), ["snap-1"]), undefined);
        assert.equal(resumeAt("garbage", "DescribeSnapshots", digest, ["snap-1"]), undefined);
        assert.equal(resumeAt(Buffer.from("golden-ami-page:{").toString("base64url"), "DescribeSnapshots", digest, []), undefined);
    });

    it("a digest ignores the paging parameters and the order of the others", () => {
        const a = requestDigest([
            ["Filter.1.Name", "x"],
            ["MaxResults", "5"],
            ["NextToken", "t"],
        ]);
        assert.equal(a, requestDigest([["Filter.1.Name", "x"]]));
        assert.equal(
            requestDigest([
                ["B", "2"],
                ["A", "1"],
            ]),
            requestDigest([
                ["A", "1"],
                ["B", "2"],
            ]),
        );
    });

    it("property: reading page by page while deleting what was read, or adding new items, skips no item present throughout", () => {
        fc.assert(
            fc.property(
                fc.uniqueArray(fc.string({ minLength: 1, maxLength: 6 }), { minLength: 0, maxLength: 40 }),
                fc.integer({ min: 1, max: 7 }),
                fc.boolean(),
                fc.array(fc.string({ minLength: 1, maxLength: 6 }), { maxLength: 10 }),
                (initial, limit, deleteRead, added) => {
                    let items = byKey(initial, id);
                    const seen: string[] = [];
                    let token: string | undefined;
                    let rounds = 0;
                    do {
                        const start = token ? resumeAt(token, "A", "d", items)! : 0;
                        const { page, nextToken } = cutPage(items, id, start, limit, "A", "d");
                        seen.push(...page);
                        token = nextToken;
                        if (deleteRead) items = items.filter((i) => !page.includes(i));
                        const extra = added[rounds++];
                        if (extra !== undefined && !items.includes(extra) && !seen.includes(extra)) items = byKey([...items, extra], id);
                    } while (token && rounds < 1000);
                    for (const item of initial) assert.ok(seen.includes(item), `missed ${item}`);
                    assert.equal(new Set(seen).size, seen.length, "no item twice");
                },
            ),
        );
    });

    it("an EC2 error envelope is recognised, a web server's page is not", () => {
        assert.ok(isEc2ErrorXml("<Response><Errors><Error><Code>X</Code><Message>m</Message></Error></Errors></Response>"));
        assert.ok(!isEc2ErrorXml("<!doctype html><title>500 Internal Server Error</title>"));
    });
});
