import { EC2Client, Image } from "@aws-sdk/client-ec2";
import { DescribeKeyCommand } from "@aws-sdk/client-kms";
import type { LaunchPermissions } from "../../sdk/types";
import { kmsClient } from "./client";
import { findImageById, findSnapshots } from "./finders";

/**
 * Sharing an encrypted image: the accounts it is shared with must be able to
 * use its key, and an AWS managed key (`aws/ebs`) cannot be shared ("You
 * can't share an AMI that has volumes that are encrypted with an AWS managed
 * key", EC2 User Guide, "Share an AMI with specific AWS accounts"; KMS
 * DescribeKey answers `KeyManager: "AWS"` for one). So before any share is
 * made the keys of the image's snapshots are read, and an AWS managed one
 * refuses the share with the fix.
 */

/** Whether `grant` shares with other accounts (accounts, organizations, OUs): what an AWS managed key forbids. */
export function sharesWithAccounts(grant: LaunchPermissions): boolean {
    return !!(grant.userIds?.length || grant.organizationArns?.length || grant.organizationalUnitArns?.length);
}

/** The KMS keys of an image's encrypted EBS snapshots, from its mappings, else from the snapshots themselves. */
export async function imageKmsKeys(client: EC2Client, image: Image): Promise<string[]> {
    const encrypted = (image.BlockDeviceMappings ?? []).filter((m) => m.Ebs?.Encrypted);
    const keys = new Set(encrypted.map((m) => m.Ebs!.KmsKeyId).filter((k): k is string => !!k));
    const unnamed = encrypted.filter((m) => !m.Ebs!.KmsKeyId && m.Ebs!.SnapshotId).map((m) => m.Ebs!.SnapshotId!);
    if (unnamed.length > 0) for (const s of await findSnapshots(client, unnamed)) if (s.KmsKeyId) keys.add(s.KmsKeyId);
    return [...keys].sort();
}

/** The keys among `keys` that KMS says are AWS managed (`KeyManager: "AWS"`), in the client's region. */
export async function awsManagedKeys(region: string, keys: readonly string[]): Promise<string[]> {
    const kms = kmsClient(region);
    const managed: string[] = [];
    for (const keyId of keys) {
        const { KeyMetadata } = await kms.send(new DescribeKeyCommand({ KeyId: keyId }));
        if (KeyMetadata?.KeyManager === "AWS") managed.push(keyId);
    }
    return managed;
}

/** The error that refuses sharing an image encrypted with an AWS managed key, naming the fix. */
export function awsManagedKeyShareError(imageId: string, keys: readonly string[]): Error {
    return new Error(
        `sharing ${imageId}: it is encrypted with the AWS managed KMS key ${keys.join(", ")} (aws/ebs), which cannot be shared ` +
            `with other accounts; encrypt it with a customer managed key instead (GoldenImage image.kmsKeyId, AmiCopy kmsKeyId, ` +
            `AmiReplicaSet kmsKeyIds) and grant the accounts use of that key, or drop the accounts from launchPermissions`,
    );
}

/** Refuses, before any share is made, to share `imageId` with other accounts when an AWS managed key encrypts it. */
export async function refuseSharingAwsManagedKey(client: EC2Client, imageId: string, grant: LaunchPermissions): Promise<void> {
    if (!sharesWithAccounts(grant)) return;
    const keys = await imageKmsKeys(client, await findImageById(client, imageId));
    if (keys.length === 0) return;
    const managed = await awsManagedKeys(await client.config.region(), keys);
    if (managed.length > 0) throw awsManagedKeyShareError(imageId, managed);
}
