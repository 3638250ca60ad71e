// The emulator's own calls at moto in a region of its choosing, whatever
// service the client's request was for: EC2's Query protocol and SSM's JSON
// protocol, both served on moto's one port. moto checks no signature; it
// reads the region and the service from the credential scope.
import * as http from "node:http";
import { API_VERSION, type Reply } from "./ec2-xml";

function post(target: string, headers: http.OutgoingHttpHeaders, body: string): Promise<Reply> {
    const url = new URL(target);
    return new Promise((resolve, reject) => {
        const req = http.request(
            {
                host: url.hostname,
                port: url.port,
                method: "POST",
                path: "/",
                headers: { ...headers, "content-length": Buffer.byteLength(body) },
            },
            (res) => {
                const chunks: Buffer[] = [];
                res.on("data", (c: Buffer) => chunks.push(c));
                res.on("error", reject);
                res.on("end", () => resolve({ status: res.statusCode ?? 502, headers: {}, body: Buffer.concat(chunks).toString("utf8") }));
            },
        );
        req.on("error", reject);
        req.end(body);
    });
}

/**
 * The credential scope of a call. `accessKey`: the client's, so that moto
 * answers in the client's account (moto ties the keys of its STS AssumeRole
 * to the role's account); moto's default account without one.
 */
const scope = (region: string, service: string, accessKey = "testing") =>
    `AWS4-HMAC-SHA256 Credential=${accessKey}/20260101/${region}/${service}/aws4_request, SignedHeaders=host, Signature=0`;

/** The access key id of a signed request (`Credential=<key>/…`), if any. */
export function accessKeyOf(authorization: string | string[] | undefined): string | undefined {
    return /Credential=([^/,\s]+)\//.exec(String(authorization ?? ""))?.[1];
}

/** One EC2 Query call at moto in `region` (in the account of `accessKey`, see scope). */
export function ec2Query(
    target: string,
    region: string,
    action: string,
    params: Record<string, string>,
    accessKey?: string,
): Promise<Reply> {
    return queryCall(target, "ec2", region, { Action: action, Version: API_VERSION, ...params }, { key: accessKey });
}

/**
 * One Query-protocol call (EC2, STS) at moto in `region`: in the account of
 * the access key `as.key` (see scope), or in `as.account` named outright
 * (moto's `x-moto-account-id` header, core/responses.py get_current_account).
 */
export function queryCall(
    target: string,
    service: "ec2" | "sts",
    region: string,
    params: Record<string, string>,
    as: { key?: string; account?: string } = {},
): Promise<Reply> {
    return post(
        target,
        {
            "content-type": "application/x-www-form-urlencoded; charset=utf-8",
            authorization: scope(region, service, as.key),
            ...(as.account ? { "x-moto-account-id": as.account } : {}),
        },
        new URLSearchParams(params).toString(),
    );
}

/** One JSON-protocol call at moto in `region` (`<targetPrefix>.<operation>`); the parsed answer, or the refusal as it came. */
async function jsonCall(
    target: string,
    region: string,
    service: "ssm" | "kms",
    targetPrefix: string,
    operation: string,
    input: object,
    accessKey?: string,
): Promise<{ ok: true; out: Record<string, unknown> } | { ok: false; reply: Reply }> {
    const reply = await post(
        target,
        {
            "content-type": "application/x-amz-json-1.1",
            "x-amz-target": `${targetPrefix}.${operation}`,
            authorization: scope(region, service, accessKey),
        },
        JSON.stringify(input),
    );
    if (reply.status !== 200) return { ok: false, reply };
    return { ok: true, out: JSON.parse(reply.body || "{}") as Record<string, unknown> };
}

/** One SSM call at moto in `region` (in the account of `accessKey`, see scope); the parsed JSON answer, or the refusal as it came. */
export function ssmJson(target: string, region: string, operation: string, input: object, accessKey?: string) {
    return jsonCall(target, region, "ssm", "AmazonSSM", operation, input, accessKey);
}

/** SSM's error answer (JSON protocol): `__type` names the error, HTTP 400 unless said otherwise. */
export function ssmError(type: string, message: string, status = 400): Reply {
    return {
        status,
        headers: { "content-type": "application/x-amz-json-1.1", "x-amzn-errortype": type },
        body: JSON.stringify({ __type: type, message }),
    };
}

/** SSM's success answer (JSON protocol). */
export function ssmSuccess(out: object): Reply {
    return { status: 200, headers: { "content-type": "application/x-amz-json-1.1" }, body: JSON.stringify(out) };
}

/** One KMS call at moto in `region` (JSON protocol, `TrentService.<operation>`); the parsed answer, or the refusal as it came. */
export function kmsJson(target: string, region: string, operation: string, input: object, accessKey?: string) {
    return jsonCall(target, region, "kms", "TrentService", operation, input, accessKey);
}
