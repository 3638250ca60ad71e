// ec2/ssm-parameter.ts through the real AWS SDK against moto's Parameter Store.
import { GetParameterCommand, PutParameterCommand } from "@aws-sdk/client-ssm";
import assert from "node:assert/strict";
import { createSourceInstance } from "../../scripts/lib/ec2-fixtures";
import {
    parameterNameProblem,
    publishImageParameter,
    readParameter,
    ssmClient,
    unpublishImageParameter,
} from "../../dynamic-providers/ec2/ssm-parameter";

const REGION = "eu-central-1";

describe("SSM image parameters against moto", () => {
    let imageA: string;
    let imageB: string;
    const ssm = () => ssmClient(REGION);

    before(async () => {
        imageA = (await createSourceInstance(REGION, { name: "ssm-a" })).baseImageId;
        imageB = (await createSourceInstance(REGION, { name: "ssm-b" })).baseImageId;
    });

    it("publishes an AMI id as an aws:ec2:image parameter, then repoints it with a new version", async () => {
        const v1 = await publishImageParameter(ssm(), "/golden/integ/latest", imageA, { description: "web golden image" });
        const p = (await ssm().send(new GetParameterCommand({ Name: "/golden/integ/latest" }))).Parameter!;
        assert.equal(p.Value, imageA);
        assert.equal(p.DataType, "aws:ec2:image");
        const v2 = await publishImageParameter(ssm(), "/golden/integ/latest", imageB);
        assert.equal(v2, v1 + 1);
        assert.equal((await readParameter(ssm(), "/golden/integ/latest"))?.value, imageB);
    });

    it("makes no write when the parameter already holds the image", async () => {
        const v1 = await publishImageParameter(ssm(), "/golden/integ/same", imageA);
        const v2 = await publishImageParameter(ssm(), "/golden/integ/same", imageA);
        assert.equal(v2, v1);
    });

    it("reads a missing parameter as undefined", async () => {
        assert.equal(await readParameter(ssm(), "/golden/integ/never-made"), undefined);
    });

    it("deletes the parameter only while it holds our image", async () => {
        await publishImageParameter(ssm(), "/golden/integ/owned", imageB);
        assert.equal(await unpublishImageParameter(ssm(), "/golden/integ/owned", imageA), "holds another image");
        assert.equal((await readParameter(ssm(), "/golden/integ/owned"))?.value, imageB, "left alone");
        assert.equal(await unpublishImageParameter(ssm(), "/golden/integ/owned", imageB), "deleted");
        assert.equal(await readParameter(ssm(), "/golden/integ/owned"), undefined);
        assert.equal(await unpublishImageParameter(ssm(), "/golden/integ/owned", imageB), "already gone");
    });

    it("overwrites a plain String parameter a person made with the AMI id, as aws:ec2:image", async () => {
        await ssm().send(new PutParameterCommand({ Name: "/golden/integ/by-hand", Value: "not-an-ami", Type: "String" }));
        await publishImageParameter(ssm(), "/golden/integ/by-hand", imageA);
        const p = await readParameter(ssm(), "/golden/integ/by-hand");
        assert.equal(p?.value, imageA);
    });

    it("names refused by SSM are caught before any call", () => {
        assert.equal(parameterNameProblem("/golden/web/latest"), undefined);
        assert.match(parameterNameProblem("/aws/service/x")!, /reserves/);
        assert.match(parameterNameProblem("golden web")!, /not an SSM parameter name/);
        assert.match(parameterNameProblem("/golden//web")!, /not an SSM parameter name/);
        assert.match(parameterNameProblem("/" + "a".repeat(1011))!, /at most 1011/);
    });
});
