// publish-step.ts through the real AWS SDK against moto's Parameter Store: the
// mark that makes a parameter this resource's, DescribeParameters, tiers.
import { GetParameterCommand, PutParameterCommand } from "@aws-sdk/client-ssm";
import assert from "node:assert/strict";
import sinon from "sinon";
import { createSourceInstance } from "../../scripts/lib/ec2-fixtures";
import { describeParameter, readParameter, ssmClient } from "../../dynamic-providers/ec2/ssm-parameter";
import * as waiters from "../../dynamic-providers/ec2/waiters";
import { publishImage, reconcilePublish, unpublishImage } from "../../dynamic-providers/publish-step";
import { publisherMark } from "../../sdk/publish-args";

const REGION = "eu-west-3";

describe("publish against moto", () => {
    let imageA: string;
    let imageB: string;
    const ssm = () => ssmClient(REGION);
    const publish = (ssmParameter: string, extra: Record<string, unknown> = {}) => ({
        region: REGION,
        publish: { ssmParameter, owner: "p/s/AmiFromInstance/web", ...extra },
    });

    before(async () => {
        imageA = (await createSourceInstance(REGION, { name: "pub-a" })).baseImageId;
        imageB = (await createSourceInstance(REGION, { name: "pub-b" })).baseImageId;
    });
    beforeEach(() => sinon.stub(waiters, "printProgress"));
    afterEach(() => sinon.restore());

    it("writes the parameter with the resource's mark and tier, and recognizes it as its own on replacement", async () => {
        await publishImage(imageA, publish("/golden/pub/web", { tier: "Advanced" }));
        const meta = await describeParameter(ssm(), "/golden/pub/web");
        assert.equal(meta?.description, publisherMark("p/s/AmiFromInstance/web"));
        assert.equal(meta?.tier, "Advanced");
        await publishImage(imageB, publish("/golden/pub/web", { tier: "Advanced" }));
        assert.equal((await readParameter(ssm(), "/golden/pub/web"))?.value, imageB);
        await unpublishImage(imageA, publish("/golden/pub/web"));
        assert.equal((await readParameter(ssm(), "/golden/pub/web"))?.value, imageB, "the old image's delete leaves it");
        await unpublishImage(imageB, publish("/golden/pub/web"));
        assert.equal(await readParameter(ssm(), "/golden/pub/web"), undefined);
    });

    it("refuses a parameter another tool wrote, takes it over with overwrite", async () => {
        await ssm().send(
            new PutParameterCommand({
                Name: "/golden/pub/hand",
                Value: imageA,
                Type: "String",
                DataType: "aws:ec2:image",
                Description: "cfn",
            }),
        );
        await assert.rejects(publishImage(imageB, publish("/golden/pub/hand")), /not published by this resource/);
        assert.equal((await ssm().send(new GetParameterCommand({ Name: "/golden/pub/hand" }))).Parameter?.Value, imageA, "untouched");
        await publishImage(imageB, publish("/golden/pub/hand", { overwrite: true }));
        assert.equal((await readParameter(ssm(), "/golden/pub/hand"))?.value, imageB);
        await unpublishImage(imageB, publish("/golden/pub/hand"));
    });

    it("a renamed parameter is written first, then the old one withdrawn", async () => {
        await publishImage(imageA, publish("/golden/pub/old"));
        await reconcilePublish(imageA, publish("/golden/pub/old"), publish("/golden/pub/new"));
        assert.equal(await readParameter(ssm(), "/golden/pub/old"), undefined);
        assert.equal((await readParameter(ssm(), "/golden/pub/new"))?.value, imageA);
        await unpublishImage(imageA, publish("/golden/pub/new"));
    });
});
