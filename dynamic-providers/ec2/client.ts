import { EC2Client } from "@aws-sdk/client-ec2";
import { EC2_MAX_ATTEMPTS } from "./limits";
import { installPacing } from "./request-pacing";

const clients = new Map<string, EC2Client>();

/**
 * One EC2 client per region for the life of the provider process. Credentials
 * come from the SDK's default chain (environment, AWS_PROFILE, SSO, instance
 * role); `AWS_ENDPOINT_URL_EC2` points it at an emulator. Adaptive retry backs
 * off when EC2 throttles.
 */
export function ec2Client(region: string): EC2Client {
    let client = clients.get(region);
    if (!client) {
        client = installPacing(new EC2Client({ region, retryMode: "adaptive", maxAttempts: EC2_MAX_ATTEMPTS }));
        clients.set(region, client);
    }
    return client;
}
