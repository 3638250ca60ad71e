import { CopyImageCommand, CreateImageCommand, EC2Client } from "@aws-sdk/client-ec2";
import { mockClient } from "aws-sdk-client-mock";
import assert from "node:assert/strict";
import * as copy from "../../dynamic-providers/ami-copy";
import * as bake from "../../dynamic-providers/ami-from-instance";
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
