import { CopyImageCommand, CreateImageCommand, EC2Client } from "@aws-sdk/client-ec2";
import { mockClient } from "aws-sdk-client-mock";
import assert from "node:assert/strict";
import * as http from "node:http";
import * as copy from "../../dynamic-providers/ami-copy-hooks";
import * as bake from "../../dynamic-providers/ami-from-instance-hooks";
import { errorCode, OperationError } from "../../dynamic-providers/ec2/errors";
import { ec2Error } from "../support/aws-errors";

const ec2 = mockClient(EC2Client);

const bakeInputs = { sourceInstanceId: "i-0123456789abcdef0", name: "web-1", region: "us-east-1" };
const copyInputs = {
    sourceAmiId: "ami-0123456789abcdef0",
    sourceAmiRegion: "us-east-1",
    region: "us-west-2",
    name: "web-dr",
    encrypted: true,
    kmsKeyId: "alias/dr",
};

describe("EC2 errors users meet become messages naming the resource, the AWS code and what to do", () => {
    beforeEach(() => ec2.reset());

    // code, message EC2 gives, the advice the user must see
    const table: [string, string, RegExp][] = [
        ["InvalidInstanceID.NotFound", "The instance ID 'i-0123456789abcdef0' does not exist", /check sourceInstanceId/],
        ["UnauthorizedOperation", "You are not authorized to perform this operation.", /IAM policy in the README/],
        ["InvalidAMIName.Duplicate", "AMI name web-1 is already in use by AMI ami-0fff", /choose another name, or leave name unset/],
        ["ResourceLimitExceeded", "You have exceeded your AMI quota", /AMI quota is reached: retire old images \(see AmiRetentionPolicy\)/],
        ["AMIQuotaExceeded", "AMI quota exceeded", /AMI quota is reached/],
        ["RequestLimitExceeded", "Request limit exceeded.", /throttled .* beyond the retry budget: run the command again later/],
    ];
    for (const [code, message, advice] of table) {
        it(`${code} on create`, async () => {
            ec2.on(CreateImageCommand).rejects(ec2Error(code, message));
            // InvalidAMIName.Duplicate leads to a lookup of images of that name: none of ours
            ec2.onAnyCommand().rejects(ec2Error(code, message));
            await assert.rejects(bake.create(bakeInputs), (e: Error) => {
                assert.ok(e instanceof OperationError, String(e));
                assert.match(e.message, /^creating AMI \(web-1\) from instance \(i-0123456789abcdef0\): /, "names the resource");
                assert.ok(e.message.includes(code), "names the AWS error code");
                assert.match(e.message, advice, "says what to do");
                assert.equal(errorCode(e.cause), code, "keeps the cause");
                return true;
            });
        });
    }

    for (const code of ["KMS.DisabledException", "KMS.NotFoundException", "KMS.AccessDeniedException"]) {
        it(`${code} on copy says what is wrong with the key`, async () => {
            ec2.on(CopyImageCommand).rejects(ec2Error(code, "key problem"));
            await assert.rejects(copy.create(copyInputs), (e: Error) => {
                assert.match(e.message, /^copying AMI ami-0123456789abcdef0 \(us-east-1\) to us-west-2 as \(web-dr\): CopyImage: /);
                assert.ok(e.message.includes(code));
                assert.match(e.message, /KMS key/);
                return true;
            });
        });
    }
});

describe("an endpoint that does not answer EC2's XML", () => {
    let server: http.Server;
    let endpoint: string;
    const saved = process.env.AWS_ENDPOINT_URL_EC2;
    before(async () => {
        server = http.createServer((_req, res) => {
            res.writeHead(404, { "content-type": "text/html" });
            res.end("<!DOCTYPE html><html><body><h1>Not Found</h1><br></body></html>");
        });
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    });
    after(() => {
        server.close();
        if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_EC2;
        else process.env.AWS_ENDPOINT_URL_EC2 = saved;
    });

    async function sdkError(): Promise<unknown> {
        const client = new EC2Client({
            region: "us-east-9",
            endpoint,
            credentials: { accessKeyId: "a", secretAccessKey: "b" },
            maxAttempts: 1,
        });
        try {
            // The SDK's own send (the smithy Client's), past the unit tests' mock of EC2Client.
            const send = Object.getPrototypeOf(EC2Client.prototype).send as (this: EC2Client, command: unknown) => Promise<unknown>;
            await send.call(client, new CreateImageCommand({ InstanceId: "i-0123456789abcdef0", Name: "web-1" }));
        } catch (e) {
            return e;
        } finally {
            client.destroy();
        }
        throw new Error("the HTML answer was accepted");
    }

    it("reads as what happened (the endpoint, the region, the fix), never as an XML parse error", async () => {
        const cause = await sdkError();
        assert.match(String((cause as Error).message), /XML parse error|Deserialization error/, "the SDK's own message, as users met it");
        process.env.AWS_ENDPOINT_URL_EC2 = endpoint;
        const err = new OperationError("creating AMI (web-1) from instance (i-0123456789abcdef0)", "CreateImage", cause, {
            region: "us-east-9",
        });
        assert.match(
            err.message,
            new RegExp(
                `^creating AMI \\(web-1\\) from instance \\(i-0123456789abcdef0\\): CreateImage: the endpoint for region us-east-9 answered something that is not EC2 \\(HTTP 404, not EC2's XML\\); AWS_ENDPOINT_URL_EC2 is ${endpoint}: check that it is an EC2 endpoint`,
            ),
        );
        assert.doesNotMatch(err.message, /XML parse error/);
        delete process.env.AWS_ENDPOINT_URL_EC2;
        const publicEndpoint = new OperationError("reading AMI (web-1) ami-1", "describing the image", cause, { region: "us-east-9" });
        assert.match(
            publicEndpoint.message,
            /no AWS_ENDPOINT_URL_EC2 is set, so this is the public endpoint of the region: check that "us-east-9" is an AWS region/,
        );
    });

    it("leaves EC2's own errors alone", () => {
        const err = new OperationError("op", "step", ec2Error("InvalidAMIID.NotFound", "The image id 'ami-1' does not exist"));
        assert.doesNotMatch(err.message, /not EC2/);
    });
});
