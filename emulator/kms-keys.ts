// KMS DescribeKey as AWS answers it for AWS managed keys. moto creates the
// key behind `alias/aws/ebs` when asked for it but calls it a customer
// managed key (`KeyManager: "CUSTOMER"`); AWS answers `KeyManager: "AWS"`
// for every key of an `aws/<service>` alias ("AWS managed keys ... have
// aliases in the format aws/service-name", KMS developer guide, "AWS managed
// keys"; DescribeKey, KeyMetadata.KeyManager: "The manager of the KMS key.
// KMS keys in your AWS account are either customer managed or AWS
// managed"). golden-ami asks it before sharing an encrypted image (such a
// key cannot be shared), so the emulator must answer as AWS does.
import type { Handler, Reply } from "./handler";
import { accessKeyOf, kmsJson } from "./moto-calls";

/** The aliases moto knows for a key, in a region. */
async function aliasesOf(target: string, region: string, keyId: string, accessKey?: string): Promise<string[]> {
    const got = await kmsJson(target, region, "ListAliases", { KeyId: keyId }, accessKey);
    if (!got.ok) return [];
    return ((got.out.Aliases as { AliasName?: string }[] | undefined) ?? []).map((a) => a.AliasName ?? "");
}

/** The service handler: DescribeKey of a key behind an `alias/aws/…` answers `KeyManager: "AWS"`. */
export function kmsKeysHandler(): Handler {
    return async (ctx) => {
        if (ctx.action !== "DescribeKey" || !String(ctx.req.headers["x-amz-target"] ?? "").startsWith("TrentService.")) return undefined;
        const reply: Reply = await ctx.forward();
        if (reply.status !== 200) return reply;
        const answer = JSON.parse(reply.body || "{}") as { KeyMetadata?: { KeyId?: string; KeyManager?: string } };
        const meta = answer.KeyMetadata;
        if (!meta?.KeyId || meta.KeyManager === "AWS") return reply;
        const asked = String((JSON.parse(ctx.body || "{}") as { KeyId?: string }).KeyId ?? "");
        const awsAlias = (name: string) => /(^|:)alias\/aws\//.test(name);
        if (
            !awsAlias(asked) &&
            !(await aliasesOf(ctx.target, ctx.region, meta.KeyId, accessKeyOf(ctx.req.headers.authorization))).some(awsAlias)
        )
            return reply;
        meta.KeyManager = "AWS";
        return { ...reply, body: JSON.stringify(answer) };
    };
}
