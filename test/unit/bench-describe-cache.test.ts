import assert from "node:assert/strict";
import { DescribeAnswerCache } from "../../bench/emulator-stack";

// The order in which moto serves requests that are in flight together cannot
// be forced from outside, so the cache's bookkeeping for crossing requests is
// checked here on moto-shaped answers; test/integration/bench-describe-cache
// checks the rules against moto itself.
const listing = (...ids: string[]) =>
    Buffer.from(
        `<DescribeImagesResponse><requestId>r</requestId><imagesSet>${ids
            .map(
                (id) =>
                    `<item><imageId>${id}</imageId><blockDeviceMapping><item><ebs><snapshotId>snap-${id}</snapshotId></ebs></item></blockDeviceMapping></item>`,
            )
            .join("")}</imagesSet></DescribeImagesResponse>`,
    );
const ids = (b: Buffer | undefined) => [...(b?.toString() ?? "").matchAll(/<imageId>([^<]+)<\/imageId>/g)].map((m) => m[1]);
const LIST = "Action=DescribeImages&Owner.1=self";
const dereg = (id: string) => `Action=DeregisterImage&ImageId=${id}`;

function ticketOf(x: ReturnType<DescribeAnswerCache["begin"]>) {
    assert.ok("ticket" in x, "not a cache hit");
    return x.ticket;
}
const cachedIds = (c: DescribeAnswerCache) => {
    const x = c.begin("DescribeImages", LIST);
    return "hit" in x ? ids(x.hit.body) : undefined;
};

describe("bench: the DescribeImages answer cache's bookkeeping", () => {
    it("removes from a listing the images deregistered while it was in flight", () => {
        const c = new DescribeAnswerCache();
        const list = ticketOf(c.begin("DescribeImages", LIST));
        const d = ticketOf(c.begin("DeregisterImage", dereg("ami-1")));
        c.answered(d, "DeregisterImage", dereg("ami-1"), 200, {}, Buffer.from("<ok/>"));
        // moto served the listing before the deregistration: it still names ami-1.
        c.answered(list, "DescribeImages", LIST, 200, {}, listing("ami-1", "ami-2"));
        assert.deepEqual(cachedIds(c), ["ami-2"]);
    });

    it("follows deregistrations and snapshot deletions, and drops answers by id", () => {
        const c = new DescribeAnswerCache();
        c.answered(ticketOf(c.begin("DescribeImages", LIST)), "DescribeImages", LIST, 200, {}, listing("ami-1", "ami-2", "ami-3"));
        const byId = "Action=DescribeImages&ImageId.1=ami-2";
        c.answered(ticketOf(c.begin("DescribeImages", byId)), "DescribeImages", byId, 200, {}, listing("ami-2"));
        c.answered(
            ticketOf(c.begin("DeleteSnapshot", "Action=DeleteSnapshot")),
            "DeleteSnapshot",
            "Action=DeleteSnapshot&SnapshotId=snap-ami-1",
            200,
            {},
            Buffer.alloc(0),
        );
        assert.deepEqual(cachedIds(c), ["ami-1", "ami-2", "ami-3"]);
        c.answered(ticketOf(c.begin("DeregisterImage", dereg("ami-2"))), "DeregisterImage", dereg("ami-2"), 200, {}, Buffer.alloc(0));
        assert.deepEqual(cachedIds(c), ["ami-1", "ami-3"]);
        assert.ok("ticket" in c.begin("DescribeImages", byId), "an answer by the deregistered id is dropped");
        // A failed deregistration changed nothing moto says, but the cache cannot know: it empties.
        c.answered(ticketOf(c.begin("DeregisterImage", dereg("ami-3"))), "DeregisterImage", dereg("ami-3"), 400, {}, Buffer.alloc(0));
        assert.equal(cachedIds(c), undefined);
    });

    it("keeps no listing that another write crossed, and none after it", () => {
        const c = new DescribeAnswerCache();
        const list = ticketOf(c.begin("DescribeImages", LIST));
        const tag = ticketOf(c.begin("CreateTags", "Action=CreateTags"));
        const during = ticketOf(c.begin("DescribeImages", LIST));
        c.answered(list, "DescribeImages", LIST, 200, {}, listing("ami-1"));
        c.answered(during, "DescribeImages", LIST, 200, {}, listing("ami-1"));
        assert.equal(cachedIds(c), undefined, "answered while CreateTags was in flight");
        c.answered(tag, "CreateTags", "Action=CreateTags", 200, {}, Buffer.alloc(0));
        assert.equal(cachedIds(c), undefined);
        const next = ticketOf(c.begin("DescribeImages", LIST));
        c.answered(next, "DescribeImages", LIST, 200, {}, listing("ami-1"));
        assert.deepEqual(cachedIds(c), ["ami-1"], "a listing after the write is kept again");
    });
});
