import { AutoScalingClient } from "@aws-sdk/client-auto-scaling";
import { EC2Client } from "@aws-sdk/client-ec2";
import { KMSClient } from "@aws-sdk/client-kms";
import { SSMClient } from "@aws-sdk/client-ssm";
import { fromTemporaryCredentials } from "@aws-sdk/credential-providers";
import { AsyncLocalStorage } from "node:async_hooks";
import { EC2_MAX_ATTEMPTS } from "./limits";
import { installPacing } from "./request-pacing";

/** A role to assume (a resource's `assumeRole` input, see AssumeRoleArgs in sdk/types.ts). */
export interface AssumeRole {
    roleArn: string;
    externalId?: string;
    sessionName?: string;
}

/**
 * Where and as whom a client calls AWS: a region, and a role to assume
 * (another account). The role is part of the cache key, so that two
 * accounts never share a client, pacing or cache.
 */
export interface AwsTarget {
    region: string;
    roleArn?: string;
    externalId?: string;
    sessionName?: string;
}

/** The role of the resource whose hook is running (see withRole). */
const currentRole = new AsyncLocalStorage<AssumeRole | undefined>();

/**
 * Runs a resource's hook in the role's account: every client the hook (and
 * everything it calls) asks for by region alone is made with the role's
 * credentials. Without a role, the default credential chain.
 */
export function withRole<T>(role: AssumeRole | undefined, fn: () => Promise<T>): Promise<T> {
    const usable = role && typeof role.roleArn === "string" ? role : undefined;
    return currentRole.run(usable, fn);
}

/** The default name of an assumed role's session: CloudTrail shows it in the role's account. */
export const DEFAULT_SESSION_NAME = "golden-ami";

type ClientKind = "ec2" | "ssm" | "autoScaling" | "kms";
type AnyClient = EC2Client | SSMClient | AutoScalingClient | KMSClient;

const clients = new Map<string, AnyClient>();

function keyOf(kind: ClientKind, target: AwsTarget): string {
    return JSON.stringify([kind, target.region, target.roleArn ?? "", target.externalId ?? "", target.sessionName ?? ""]);
}

/** A region alone means the running hook's role (withRole), if any. */
function targetOf(target: string | AwsTarget): AwsTarget {
    return typeof target === "string" ? { region: target, ...currentRole.getStore() } : target;
}

/**
 * The role's credentials, from STS AssumeRole through the SDK's own provider
 * (refreshed before they expire; `AWS_ENDPOINT_URL_STS` points it at an
 * emulator), the caller's default chain assuming it.
 */
function credentialsOf(t: AwsTarget) {
    if (t.roleArn === undefined) return {};
    return {
        credentials: fromTemporaryCredentials({
            params: {
                RoleArn: t.roleArn,
                RoleSessionName: t.sessionName ?? DEFAULT_SESSION_NAME,
                ...(t.externalId !== undefined ? { ExternalId: t.externalId } : {}),
            },
            clientConfig: { region: t.region },
        }),
    };
}

/**
 * The one place golden-ami builds AWS clients, one per service, region and
 * credentials for the life of the provider process. Credentials come from the
 * SDK's default chain (environment, AWS_PROFILE, SSO, instance role);
 * `AWS_ENDPOINT_URL_EC2` / `AWS_ENDPOINT_URL_SSM` / `AWS_ENDPOINT_URL_KMS` point them at an emulator.
 * Retries back off when AWS throttles. Middleware every client needs
 * (a client-side rate limiter, say) belongs here.
 */
function cachedClient<C extends AnyClient>(kind: ClientKind, target: string | AwsTarget, make: (t: AwsTarget) => C): C {
    const t = targetOf(target);
    const key = keyOf(kind, t);
    let client = clients.get(key) as C | undefined;
    if (!client) {
        client = make(t);
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

const config = (t: AwsTarget) => ({
    region: t.region,
    retryMode: "adaptive",
    maxAttempts: EC2_MAX_ATTEMPTS,
    customUserAgent: USER_AGENT,
    ...credentialsOf(t),
});

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
const ec2Config = (t: AwsTarget) => ({
    region: t.region,
    retryMode: "standard",
    maxAttempts: EC2_MAX_ATTEMPTS,
    customUserAgent: USER_AGENT,
    ...credentialsOf(t),
});

/** The EC2 client for a region (or a region and credentials). */
export function ec2Client(target: string | AwsTarget): EC2Client {
    return cachedClient("ec2", target, (t) => installPacing(new EC2Client(ec2Config(t)), { roleArn: t.roleArn }));
}

/** The SSM client for a region (launch templates' `resolve:ssm:` images; SSM publishing). */
export function ssmClient(target: string | AwsTarget): SSMClient {
    return cachedClient("ssm", target, (t) => new SSMClient(config(t)));
}

/** The Auto Scaling client for a region (groups' launch templates and configurations). */
export function autoScalingClient(target: string | AwsTarget): AutoScalingClient {
    return cachedClient("autoScaling", target, (t) => new AutoScalingClient(config(t)));
}

/** The KMS client for a region (which key encrypts an image before it is shared: see image-encryption.ts). */
export function kmsClient(target: string | AwsTarget): KMSClient {
    return cachedClient("kms", target, (t) => new KMSClient(config(t)));
}
