import * as pulumi from "@pulumi/pulumi";

/**
 * The region a resource lives in when its `region` arg is unset: the stack's
 * `aws:region`, else `AWS_REGION`, else `AWS_DEFAULT_REGION` — the order every
 * AWS tool uses. Undefined when none is set (check then says how to set one).
 */
export function defaultRegion(): string | undefined {
    return new pulumi.Config("aws").get("region") ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
}
