/** An error shaped as the AWS SDK throws it for an EC2 error `code` (what the mocks reject with). */
export function ec2Error(code: string, message: string = code): Error {
    return Object.assign(new Error(message), { name: code, Code: code, $fault: "client", $metadata: { httpStatusCode: 400 } });
}
