/** An error shaped as the AWS SDK throws it for an EC2 error `code` (what the mocks reject with). */
export function ec2Error(code: string, message: string = code): Error {
    return Object.assign(new Error(message), { name: code, Code: code, $fault: "client", $metadata: { httpStatusCode: 400 } });
}

/** The error name (EC2's code) a request was refused with; fails when the request succeeds. */
export async function refusal(p: Promise<unknown>): Promise<string> {
    try {
        await p;
    } catch (e) {
        return (e as Error & { name: string }).name;
    }
    throw new Error("expected EC2 to refuse the request");
}
