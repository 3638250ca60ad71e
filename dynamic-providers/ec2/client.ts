import { AutoScalingClient } from "@aws-sdk/client-auto-scaling";
import { EC2Client } from "@aws-sdk/client-ec2";
import { KMSClient } from "@aws-sdk/client-kms";
import { SSMClient } from "@aws-sdk/client-ssm";
import { EC2_MAX_ATTEMPTS } from "./limits";
import { installPacing } from "./request-pacing";

/**
 * Where and as whom a client calls AWS. Today only `region` is used; a
 * `roleArn` (another account, for multi-account work) is part of the cache key
 * so that two accounts can never share a client, and is refused until
 * assuming roles is supported.
 */
export interface AwsTarget {
    region: string;
    roleArn?: string;
}

type ClientKind = "ec2" | "ssm" | "autoScaling" | "kms";
type AnyClient = EC2Client | SSMClient | AutoScalingClient | KMSClient;

const clients = new Map<string, AnyClient>();

function keyOf(kind: ClientKind, target: AwsTarget): string {
    return JSON.stringify([kind, target.region, target.roleArn ?? ""]);
}

function targetOf(target: string | AwsTarget): AwsTarget {
    return typeof target === "string" ? { region: target } : target;
}

/**
 * The one place golden-ami builds AWS clients, one per service, region and
 * credentials for the life of the provider process. Credentials come from the
 * SDK's default chain (environment, AWS_PROFILE, SSO, instance role);
 * `AWS_ENDPOINT_URL_EC2` / `AWS_ENDPOINT_URL_SSM` / `AWS_ENDPOINT_URL_KMS` point them at an emulator.
 * Retries back off when AWS throttles. Middleware every client needs
 * (a client-side rate limiter, say) belongs here.
 */
function cachedClient<C extends AnyClient>(kind: ClientKind, target: string | AwsTarget, make: (region: string) => C): C {
    const t = targetOf(target);
    if (t.roleArn !== undefined) {
        throw new Error(
            `assuming role ${t.roleArn} is not supported by this version of golden-ami; ` +
                `run with credentials of the target account (AWS_PROFILE or the default credential chain) instead`,
        );
    }
    const key = keyOf(kind, t);
    let client = clients.get(key) as C | undefined;
    if (!client) {
        client = make(t.region);
        clients.set(key, client);
    }
    return client;
}

/**
 * Added to the User-Agent of every request golden-ami makes: AWS CloudTrail
 * shows which calls were golden-ami's, and the emulator's action log
 * (emulator/action-log.ts) tells them from a test's own.
 */
export const USER_AGENT = "golden-ami";

const config = (region: string) => ({ region, retryMode: "adaptive", maxAttempts: EC2_MAX_ATTEMPTS, customUserAgent: USER_AGENT });

/**
 * EC2 clients retry in the SDK's standard mode (back-off with jitter, the
 * retry quota) and leave the rate to request-pacing.ts, which adapts per
 * account, region and action. The SDK's adaptive mode would add its own
 * limiter (DefaultRateLimiter): one per client, so a throttled
 * DeregisterImage would slow that region's DescribeImageAttribute and every
 * other action too, although EC2 keeps a bucket per action; it knows no
 * bucket size (starts unlimited, learns only from throttling, and keeps no
 * burst above one second's rate).
 */
const ec2Config = (region: string) => ({ region, retryMode: "standard", maxAttempts: EC2_MAX_ATTEMPTS, customUserAgent: USER_AGENT });

/** The EC2 client for a region (or a region and credentials). */
export function ec2Client(target: string | AwsTarget): EC2Client {
    return cachedClient("ec2", target, (region) => installPacing(new EC2Client(ec2Config(region)), { roleArn: targetOf(target).roleArn }));
}

/** The SSM client for a region (launch templates' `resolve:ssm:` images; SSM publishing). */
export function ssmClient(target: string | AwsTarget): SSMClient {
    return cachedClient("ssm", target, (region) => new SSMClient(config(region)));
}

/** The Auto Scaling client for a region (groups' launch templates and configurations). */
export function autoScalingClient(target: string | AwsTarget): AutoScalingClient {
    return cachedClient("autoScaling", target, (region) => new AutoScalingClient(config(region)));
}

/** The KMS client for a region (which key encrypts an image before it is shared: see image-encryption.ts). */
export function kmsClient(target: string | AwsTarget): KMSClient {
    return cachedClient("kms", target, (region) => new KMSClient(config(region)));
}
