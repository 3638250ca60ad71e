import { containsUnknown, fail, CheckFailure } from "./primitives";
import type { RuleContext } from "./runner";

/**
 * An alias or alias ARN of an AWS managed KMS key (`alias/aws/ebs`,
 * `arn:aws:kms:…:alias/aws/ebs`): AWS managed keys are named `aws/<service>`
 * (KMS developer guide, "AWS managed keys").
 */
export function namesAwsManagedKey(keyId: unknown): boolean {
    return typeof keyId === "string" && /(^|:)alias\/aws\//.test(keyId);
}

/**
 * An image encrypted with an AWS managed key cannot be shared with other
 * accounts (EC2 User Guide, "Share an AMI with specific AWS accounts"):
 * refused at preview when `kmsKeyId` names one and `launchPermissions` lists
 * accounts, organizations or OUs. A key known only by id is checked with KMS
 * before any share is made (dynamic-providers/ec2/image-encryption.ts).
 */
export function awsManagedKeyShareFailures({ news }: RuleContext<Record<string, unknown>>): CheckFailure[] {
    const { kmsKeyId, launchPermissions: p } = news;
    if (!namesAwsManagedKey(kmsKeyId) || p === undefined || containsUnknown(p) || typeof p !== "object" || p === null) return [];
    const perms = p as Record<string, unknown>;
    const shared = ["userIds", "organizationArns", "organizationalUnitArns"].some((k) => Array.isArray(perms[k]) && perms[k].length > 0);
    if (!shared) return [];
    return [
        fail(
            "kmsKeyId",
            `is the AWS managed key ${kmsKeyId as string}, and an image encrypted with it cannot be shared with other accounts ` +
                `(launchPermissions): use a customer managed key whose key policy lets those accounts use it, or drop the accounts`,
        ),
    ];
}
