// Conformance: SSM parameters of data type aws:ec2:image
// (emulator/ssm-image-parameters.ts), through the AWS SDK and the AWS CLI
// against `startEmulator()`. Pages followed:
//   PutParameter, DataType (AWS Systems Manager API Reference,
//   https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html):
//   "If you submit an invalid AMI value, the PutParameter operation will
//   return success, but the asynchronous validation will fail and the
//   parameter will not be created or updated."
//   "Native parameter support for Amazon Machine Image IDs" and "Parameter
//   data types" (Systems Manager User Guide): a parameter can't be changed to
//   or from aws:ec2:image.
import { DeleteParameterCommand, GetParameterCommand, PutParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import assert from "node:assert/strict";
import { ParameterNotPublishedError, publishImageParameter } from "../../dynamic-providers/ec2/ssm-parameter";
import { startEc2Proxy } from "../../emulator/ec2-proxy";
import { ssmImageParameters } from "../../emulator/ssm-image-parameters";
import { currentMoto } from "../support/moto-hooks";
import { cliOk, cliRefused, refusedWith, startSession, type Session } from "../support/conformance";

const BASE = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";
const ARM = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64";

describe("emulator conformance: SSM aws:ec2:image parameters (SSM API reference, PutParameter DataType)", () => {
    let session: Session;
    let ssm: SSMClient;
    let available: string;
    let otherAvailable: string;

    const read = async (name: string) => {
        try {
            const p = (await ssm.send(new GetParameterCommand({ Name: name }))).Parameter!;
            return { value: p.Value, version: p.Version, dataType: p.DataType };
        } catch (e) {
            if ((e as Error).name === "ParameterNotFound") return undefined;
            throw e;
        }
    };
    const put = (name: string, value: string, overwrite = true, dataType = "aws:ec2:image") =>
        ssm.send(new PutParameterCommand({ Name: name, Value: value, Type: "String", DataType: dataType, Overwrite: overwrite }));

    before(async function () {
        this.timeout(120_000);
        session = await startSession();
        ssm = session.ssm();
        available = (await read(BASE))!.value!;
        otherAvailable = (await read(ARM))!.value!;
    });

    after(async function () {
        this.timeout(30_000);
        await session?.stop();
    });

    it("an available image: PutParameter answers success at once, GetParameter sees the value only once validated", async () => {
        const out = await put("/conformance/ok", available, false);
        assert.equal(out.Version, 1);
        assert.equal(await read("/conformance/ok"), undefined, "not created before the asynchronous validation");
        await session.emulator.ssmImages.settled();
        assert.deepEqual(await read("/conformance/ok"), { value: available, version: 1, dataType: "aws:ec2:image" });
    });

    it("an image that does not exist: success answered, the parameter never created", async () => {
        const out = await put("/conformance/missing", "ami-0123456789abcdef0", false);
        assert.equal(out.Version, 1);
        await session.emulator.ssmImages.settled();
        assert.equal(await read("/conformance/missing"), undefined);
        const outcome = session.emulator.ssmImages.outcomes().find((o) => o.name === "/conformance/missing");
        assert.equal(outcome?.outcome, "dropped");
        assert.match(outcome!.reason!, /no available image ami-0123456789abcdef0/);
    });

    it("an update to an image that does not exist, or a value that is no AMI id, leaves the old value", async () => {
        await put("/conformance/update", available, false);
        await session.emulator.ssmImages.settled();
        await put("/conformance/update", "ami-0fedcba9876543210");
        await put("/conformance/update", "not-an-ami");
        await session.emulator.ssmImages.settled();
        assert.deepEqual(await read("/conformance/update"), { value: available, version: 1, dataType: "aws:ec2:image" });
        await put("/conformance/update", otherAvailable);
        await session.emulator.ssmImages.settled();
        assert.equal((await read("/conformance/update"))?.value, otherAvailable, "a valid update is written");
    });

    it("refuses changing a text parameter to aws:ec2:image, and an aws:ec2:image parameter to text (ValidationException)", async () => {
        await put("/conformance/text", available, false, "text");
        await refusedWith(put("/conformance/text", available), "ValidationException");
        assert.equal((await read("/conformance/text"))?.dataType, "text");
        await refusedWith(put("/conformance/ok", "plain text", true, "text"), "ValidationException");
        assert.equal((await read("/conformance/ok"))?.dataType, "aws:ec2:image");
    });

    it("AWS CLI: put-parameter --data-type aws:ec2:image succeeds; get-parameter sees a valid value later, a bad one never", async () => {
        const good = cliOk<{ Version: number }>(
            await session.aws([
                "ssm",
                "put-parameter",
                "--name",
                "/conformance/cli",
                "--type",
                "String",
                "--data-type",
                "aws:ec2:image",
                "--value",
                available,
            ]),
        );
        assert.equal(good.Version, 1);
        const bad = cliOk<{ Version: number }>(
            await session.aws([
                "ssm",
                "put-parameter",
                "--name",
                "/conformance/cli-bad",
                "--type",
                "String",
                "--data-type",
                "aws:ec2:image",
                "--value",
                "ami-00000000000000000",
            ]),
        );
        assert.equal(bad.Version, 1);
        await session.emulator.ssmImages.settled();
        const seen = cliOk<{ Parameter: { Value: string } }>(await session.aws(["ssm", "get-parameter", "--name", "/conformance/cli"]));
        assert.equal(seen.Parameter.Value, available);
        cliRefused(await session.aws(["ssm", "get-parameter", "--name", "/conformance/cli-bad"]), "ParameterNotFound");
        cliRefused(
            await session.aws(["ssm", "put-parameter", "--name", "/conformance/cli", "--type", "String", "--value", "x", "--overwrite"]),
            "ValidationException",
        );
    });

    it("switches: validation off stores any value at once (moto's behaviour); the data-type rule is a switch of its own", async () => {
        const lenient = ssmImageParameters({ validation: false, refuseDataTypeChange: false });
        const strictTypes = ssmImageParameters({ validation: false, refuseDataTypeChange: true });
        const moto = currentMoto();
        const proxies = [
            await startEc2Proxy({ target: moto.endpoint, serviceHandlers: [lenient.handler] }),
            await startEc2Proxy({ target: moto.endpoint, serviceHandlers: [strictTypes.handler] }),
        ];
        const [viaLenient, viaStrictTypes] = proxies.map((p) => new SSMClient({ region: "us-east-1", endpoint: p.endpoint }));
        const name = "/conformance/switch";
        try {
            await viaLenient.send(
                new PutParameterCommand({ Name: name, Value: "ami-0123456789abcdef0", Type: "String", DataType: "aws:ec2:image" }),
            );
            const p = (await viaLenient.send(new GetParameterCommand({ Name: name }))).Parameter!;
            assert.equal(p.Value, "ami-0123456789abcdef0", "stored at once, unvalidated");
            await refusedWith(
                viaStrictTypes.send(new PutParameterCommand({ Name: name, Value: "x", Type: "String", DataType: "text", Overwrite: true })),
                "ValidationException",
            );
            await viaLenient.send(new PutParameterCommand({ Name: name, Value: "x", Type: "String", DataType: "text", Overwrite: true }));
        } finally {
            await viaLenient.send(new DeleteParameterCommand({ Name: name })).catch(() => undefined);
            viaLenient.destroy();
            viaStrictTypes.destroy();
            for (const p of proxies) await p.stop();
        }
    });

    it("golden-ami's publish waits until SSM holds the new id, and fails clearly when SSM drops it", async () => {
        const version = await publishImageParameter(ssm, "/conformance/publish", available, { waitSeconds: 10 });
        assert.equal(version, 1);
        await assert.rejects(
            publishImageParameter(ssm, "/conformance/publish", "ami-0123456789abcdef0", { waitSeconds: 3 }),
            (e: Error) => e instanceof ParameterNotPublishedError && /still answers ami-/.test(e.message),
        );
        assert.equal((await read("/conformance/publish"))?.value, available);
    });
});
