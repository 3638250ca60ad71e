// Never a web server's error page: an EC2 request the emulator does not model
// and moto cannot answer (moto's NotImplementedError, or a bug in moto)
// comes back from moto as HTTP 500 with an HTML page. EC2 answers a request
// it does not support with an EC2 error, HTTP 400, which the SDKs do not
// retry: `UnsupportedOperation`, "The specified request includes an
// unsupported operation" ("Error codes for the Amazon EC2 API", Common client
// errors, https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html).
// The answer names the action and, when moto logged one, its reason.
//
// An answer that already is EC2 XML (the proxy's, a handler's, moto's own
// errors, injected faults) passes unchanged, whatever its status.
import type { Reply } from "./ec2-xml";
import { ec2Error } from "./ec2-xml";

/** Whether a body is an EC2 Query-protocol error envelope. */
export function isEc2ErrorXml(body: string): boolean {
    return /<Response>\s*<Errors>\s*<Error>[\s\S]*<Code>/.test(body);
}

/**
 * The proxy's `finalReply`: a 5xx answer that is not EC2 XML becomes
 * `UnsupportedOperation`. `motoLog` returns what moto printed lately; the last
 * NotImplementedError in it that is new since the previous call names the gap.
 */
export function unsupportedAsEc2Error(motoLog?: () => string): (reply: Reply, ctx: { action: string }) => Promise<Reply> {
    let seen = 0;
    let lastLog = "";
    return async (reply, { action }) => {
        if (reply.status < 500 || isEc2ErrorXml(reply.body)) return reply;
        let reason: string | undefined;
        if (motoLog) {
            // moto writes its traceback before the answer; its pipe may deliver it a little later.
            await new Promise((r) => setTimeout(r, 50));
            const log = motoLog();
            const fresh = log.startsWith(lastLog) ? log.slice(seen) : log;
            lastLog = log;
            seen = log.length;
            const lines = [...fresh.matchAll(/NotImplementedError:?\s*(.*)/g)];
            reason = lines.length > 0 ? lines[lines.length - 1][1].trim() || "not implemented in moto" : undefined;
        }
        return ec2Error(
            400,
            "UnsupportedOperation",
            `The golden-ami emulator does not support ${action} with these parameters` +
                `${reason ? `: ${reason}` : ` (its EC2 backend, moto, answered HTTP ${reply.status})`}.`,
        );
    };
}
