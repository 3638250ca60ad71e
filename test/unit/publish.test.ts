import {
    DeleteParameterCommand,
    DescribeParametersCommand,
    GetParameterCommand,
    PutParameterCommand,
    SSMClient,
} from "@aws-sdk/client-ssm";
import { mockClient } from "aws-sdk-client-mock";
import assert from "node:assert/strict";
import sinon from "sinon";
import * as waiters from "../../dynamic-providers/ec2/waiters";
import { diffImage } from "../../dynamic-providers/image-planning";
import { publishImage, reconcilePublish, unpublishImage } from "../../dynamic-providers/publish-step";
import { publisherMark } from "../../sdk/publish-args";
import { checkAmiFromInstanceInputs } from "../../sdk/validation";

const ssm = mockClient(SSMClient);
const OLD = "ami-0123456789abcdef0";
const NEW = "ami-0fedcba9876543210";
const NAME = "/golden/web/latest";
const OWNER = "proj/dev/AmiFromInstance/web";
const publish = { ssmParameter: NAME, owner: OWNER };

interface Param {
    value: string;
    description?: string;
    tier: string;
    dataType: string;
    version: number;
}

/**
 * Parameter Store as documented: an aws:ec2:image value is validated after
 * PutParameter returns, so the first read after a write still answers the
 * previous value (or nothing).
 */
function fakeParameterStore(): Map<string, Param> {
    const store = new Map<string, Param>();
    const pending = new Map<string, Param>();
    ssm.on(GetParameterCommand).callsFake(({ Name }) => {
        const p = store.get(Name);
        const next = pending.get(Name);
        if (next) {
            pending.delete(Name);
            store.set(Name, next);
        }
        if (!p) throw Object.assign(new Error("not found"), { name: "ParameterNotFound" });
        return { Parameter: { Name, Value: p.value, Version: p.version, DataType: p.dataType } };
    });
    ssm.on(DescribeParametersCommand).callsFake(({ ParameterFilters }) => {
        const name = ParameterFilters[0].Values[0];
        const p = store.get(name);
        return { Parameters: p ? [{ Name: name, Description: p.description, Tier: p.tier, DataType: p.dataType }] : [] };
    });
    ssm.on(PutParameterCommand).callsFake((input) => {
        const was = store.get(input.Name);
        const p = {
            value: input.Value,
            description: input.Description,
            tier: input.Tier ?? was?.tier ?? "Standard",
            dataType: input.DataType,
            version: (was?.version ?? 0) + 1,
        };
        if (was) pending.set(input.Name, p);
        else store.set(input.Name, p);
        return { Version: p.version };
    });
    ssm.on(DeleteParameterCommand).callsFake(({ Name }) => {
        store.delete(Name);
        return {};
    });
    return store;
}

describe("publishing an image id to SSM", () => {
    let store: Map<string, Param>;
    beforeEach(() => {
        process.env.GOLDEN_AMI_POLL_SCALE = "0.001";
        ssm.reset();
        store = fakeParameterStore();
        sinon.stub(waiters, "printProgress");
    });
    afterEach(() => {
        sinon.restore();
        delete process.env.GOLDEN_AMI_POLL_SCALE;
    });

    it("create writes an aws:ec2:image String with the resource's mark and tier", async () => {
        const out = await publishImage(OLD, { region: "us-east-1", publish: { ...publish, tier: "Advanced" } });
        assert.deepEqual(out, { publishedParameter: NAME });
        const put = ssm.commandCalls(PutParameterCommand)[0].args[0].input;
        assert.equal(put.DataType, "aws:ec2:image");
        assert.equal(put.Type, "String");
        assert.equal(put.Tier, "Advanced");
        assert.equal(put.Description, publisherMark(OWNER));
        assert.equal(store.get(NAME)?.value, OLD);
    });

    it("a replacement publishes the new id (waiting out SSM's validation), and the old image's delete leaves it", async () => {
        await publishImage(OLD, { region: "us-east-1", publish });
        await publishImage(NEW, { region: "us-east-1", publish });
        assert.equal(store.get(NAME)?.value, NEW, "the new id, once SSM answers it");
        assert.ok(ssm.commandCalls(GetParameterCommand).length >= 3, "read until the new value shows");
        await unpublishImage(OLD, { region: "us-east-1", publish });
        assert.equal(ssm.commandCalls(DeleteParameterCommand).length, 0);
        assert.equal(store.get(NAME)?.value, NEW);
    });

    it("destroy removes the parameter while it holds the image", async () => {
        await publishImage(OLD, { region: "us-east-1", publish });
        await unpublishImage(OLD, { region: "us-east-1", publish });
        assert.equal(store.has(NAME), false);
    });

    it("refuses a parameter it did not write, unless overwrite is true", async () => {
        store.set(NAME, { value: OLD, description: "by hand", tier: "Standard", dataType: "aws:ec2:image", version: 4 });
        await assert.rejects(
            publishImage(NEW, { region: "us-east-1", publish }),
            /SSM parameter \/golden\/web\/latest already exists and was not published by this resource .*set publish.overwrite: true/,
        );
        assert.equal(ssm.commandCalls(PutParameterCommand).length, 0);
        await publishImage(NEW, { region: "us-east-1", publish: { ...publish, overwrite: true } });
        assert.equal(store.get(NAME)?.description, publisherMark(OWNER), "ours from now on");
    });

    it("refuses a parameter of another data type even with overwrite (SSM cannot change it)", async () => {
        store.set(NAME, { value: "x", description: "", tier: "Standard", dataType: "text", version: 1 });
        await assert.rejects(publishImage(NEW, { region: "us-east-1", publish: { ...publish, overwrite: true } }), /data type text/);
    });

    it("makes no write when the parameter already holds the image", async () => {
        await publishImage(OLD, { region: "us-east-1", publish });
        await publishImage(OLD, { region: "us-east-1", publish });
        assert.equal(ssm.commandCalls(PutParameterCommand).length, 1);
    });

    it("moving to another name writes the new parameter, then withdraws the old one", async () => {
        await publishImage(OLD, { region: "us-east-1", publish });
        await reconcilePublish(
            OLD,
            { region: "us-east-1", publish },
            { region: "us-east-1", publish: { ...publish, ssmParameter: "/golden/web/v2" } },
        );
        assert.equal(store.get("/golden/web/v2")?.value, OLD);
        assert.equal(store.has(NAME), false);
    });

    it("a renamed resource (aliases) keeps the parameter it published under its old name", async () => {
        await publishImage(OLD, { region: "us-east-1", publish });
        const renamed = { ...publish, owner: "proj/dev/AmiFromInstance/web2" };
        await reconcilePublish(OLD, { region: "us-east-1", publish }, { region: "us-east-1", publish: renamed });
        assert.equal(store.get(NAME)?.description, publisherMark(renamed.owner), "marked with the new name");
        await assert.rejects(
            publishImage(NEW, { region: "us-east-1", publish: { ...publish, owner: "proj/dev/AmiFromInstance/other" } }),
            /not published by this resource/,
        );
    });

    it("unpublishing a parameter that is gone is no error", async () => {
        await unpublishImage(OLD, { region: "us-east-1", publish });
        assert.equal(ssm.commandCalls(DeleteParameterCommand).length, 0);
    });
});

describe("publish in check and diff", () => {
    const valid = { sourceInstanceId: "i-0123456789abcdef0", region: "us-east-1", name: "web-1" };

    it("refuses bad names, tiers and options, one failure per field", () => {
        const f = checkAmiFromInstanceInputs({
            ...valid,
            publish: { ssmParameter: "/aws/x", tier: "Premium", overwrite: "yes", extra: 1 },
        });
        assert.deepEqual(f.map((x) => x.property).sort(), ["publish.extra", "publish.overwrite", "publish.ssmParameter", "publish.tier"]);
        assert.match(f.find((x) => x.property === "publish.ssmParameter")!.reason, /reserves/);
        const deep = "/" + Array.from({ length: 16 }, (_, i) => `l${i}`).join("/");
        assert.match(
            checkAmiFromInstanceInputs({ ...valid, publish: { ssmParameter: deep } })[0].reason,
            /16 levels; SSM allows at most 15/,
        );
        assert.match(checkAmiFromInstanceInputs({ ...valid, publish: {} })[0].reason, /publish.ssmParameter: is required/);
        assert.deepEqual(checkAmiFromInstanceInputs({ ...valid, publish: { ssmParameter: NAME, tier: "Intelligent-Tiering" } }), []);
    });

    it("a changed publish updates in place; it never replaces the image", () => {
        const olds = { ...valid, publish } as never;
        const d = diffImage(olds, { ...valid, publish: { ...publish, ssmParameter: "/golden/web/v2" } } as never, [
            "sourceInstanceId",
            "name",
        ]);
        assert.equal(d.changes, true);
        assert.deepEqual(d.replaces, []);
        assert.equal(diffImage(olds, { ...valid, publish } as never, ["sourceInstanceId"]).changes, false);
        assert.equal(diffImage(olds, { ...valid } as never, ["sourceInstanceId"]).changes, true, "dropping publish is a change");
    });
});
