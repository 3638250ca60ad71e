import { DescribeImagesCommand, EC2Client } from "@aws-sdk/client-ec2";
import { mockClient } from "aws-sdk-client-mock";
import assert from "node:assert/strict";
import { NotFoundError } from "../../dynamic-providers/ec2/errors";
import { ImageNotVisibleError, waitForImageAvailable, waitForImageVisible } from "../../dynamic-providers/ec2/waiters";
import { ec2Error } from "../support/aws-errors";

const ec2 = mockClient(EC2Client);
const ID = "ami-0aaaaaaaaaaaaaaa1";
const quiet = { label: "test", report: () => undefined, timeoutMinutes: 1 };

describe("image waiters under eventual consistency", () => {
    before(() => {
        process.env.GOLDEN_AMI_POLL_SCALE = "0.001"; // 5 s polls take 5 ms, the 300 s window 0.3 s
    });
    after(() => {
        delete process.env.GOLDEN_AMI_POLL_SCALE;
    });
    beforeEach(() => ec2.reset());

    it("polls a just-created id that EC2 does not know yet until it is available", async () => {
        ec2.on(DescribeImagesCommand)
            .rejectsOnce(ec2Error("InvalidAMIID.NotFound"))
            .resolvesOnce({ Images: [] })
            .resolvesOnce({ Images: [{ ImageId: ID, State: "pending" }] })
            .rejectsOnce(ec2Error("InvalidAMIID.NotFound")) // seen once, then a lagging server: still not "gone"
            .resolves({ Images: [{ ImageId: ID, State: "available" }] });
        const image = await waitForImageAvailable(new EC2Client({}), ID, { ...quiet, justCreated: true });
        assert.equal(image.State, "available");
        assert.equal(ec2.commandCalls(DescribeImagesCommand).length, 5);
    });

    it("gives up on a just-created id after the visibility window with ImageNotVisibleError, not not-found", async () => {
        ec2.on(DescribeImagesCommand).rejects(ec2Error("InvalidAMIID.NotFound"));
        const started = Date.now();
        await assert.rejects(waitForImageAvailable(new EC2Client({}), ID, { ...quiet, justCreated: true }), (e: unknown) => {
            assert.ok(e instanceof ImageNotVisibleError, String(e));
            assert.ok(!(e instanceof NotFoundError));
            assert.equal(e.imageId, ID);
            return true;
        });
        assert.ok(Date.now() - started >= 300, "waited the whole (scaled) window");
    });

    it("calls an id answered `deregistered` gone at once: the consistent signal", async () => {
        ec2.on(DescribeImagesCommand).resolves({ Images: [{ ImageId: ID, State: "deregistered" }] });
        await assert.rejects(waitForImageVisible(new EC2Client({}), ID, quiet), NotFoundError);
        assert.equal(ec2.commandCalls(DescribeImagesCommand).length, 1);
    });

    it("treats not-found as gone at once for an image that is not new (update, refresh)", async () => {
        ec2.on(DescribeImagesCommand).rejects(ec2Error("InvalidAMIID.NotFound"));
        await assert.rejects(waitForImageAvailable(new EC2Client({}), ID, quiet), NotFoundError);
        assert.equal(ec2.commandCalls(DescribeImagesCommand).length, 1);
    });

    it("returns a just-created image once visible in any state when only visibility is asked", async () => {
        ec2.on(DescribeImagesCommand)
            .rejectsOnce(ec2Error("InvalidAMIID.NotFound"))
            .resolves({ Images: [{ ImageId: ID, State: "pending" }] });
        const image = await waitForImageVisible(new EC2Client({}), ID, quiet);
        assert.equal(image.State, "pending");
    });
});
