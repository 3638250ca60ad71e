import { assumeRoleRule, roleAccount } from "./assume-role";
import { awsManagedKeyShareFailures, namesAwsManagedKey } from "./encryption";
import { CheckFailure, containsUnknown, fail, kmsKeyRule, launchPermissionsRule, regionRule, show } from "./primitives";
import { publishFailures } from "./publish-rules";

/**
 * GoldenImage's `distribute` rules, checked when the program runs (so
 * `pulumi preview` refuses bad targets before anything is built or
 * shared), one failure per bad property, each naming the property and the
 * fix. Each copy's own inputs are then checked by AmiCopy's table in the
 * target account. Pure.
 */

/** What the rules see of GoldenImageArgs: `distribute`, and the settings of the image that is shared. */
export interface DistributeCheckInputs {
    distribute?: unknown;
    /** The GoldenImage's own `assumeRole` (the account the image is built in), when given. */
    assumeRole?: unknown;
    /** `image.kmsKeyId`: the key of the image that is shared with every target account. */
    imageKmsKeyId?: unknown;
}

/** `arn:<partition>:kms:<region>:<account>:…`: a key ARN names one region. */
const KMS_ARN_REGION = /^arn:aws[a-z-]*:kms:([a-z0-9-]+):/;

/** Every failure of `distribute`, each on its own property (`distribute[1].regions`). */
export function distributeFailures(inputs: DistributeCheckInputs): CheckFailure[] {
    const { distribute } = inputs;
    if (distribute === undefined) return [];
    if (!Array.isArray(distribute)) {
        return [
            fail(
                "distribute",
                "must be a list of targets known when the program runs, e.g. " +
                    '[{ assumeRole: { roleArn: "arn:aws:iam::111122223333:role/golden-ami" }, regions: ["us-east-1"] }]',
            ),
        ];
    }
    const failures: CheckFailure[] = [];
    const seen = new Map<string, number>();
    const buildAccount = roleAccount(inputs.assumeRole);
    distribute.forEach((target, i) => {
        const at = `distribute[${i}]`;
        if (typeof target !== "object" || target === null || Array.isArray(target)) {
            failures.push(fail(at, "must be an object { assumeRole, regions, kmsKeyId?, launchPermissions?, publish? }"));
            return;
        }
        const t = target as Record<string, unknown>;
        const stray = Object.keys(t).filter((k) => !["assumeRole", "regions", "kmsKeyId", "launchPermissions", "publish"].includes(k));
        if (stray.length) {
            failures.push(
                fail(
                    `${at}.${stray[0]}`,
                    "is not a distribute setting; allowed are assumeRole, regions, kmsKeyId, launchPermissions and publish",
                ),
            );
        }
        const roleProblem =
            t.assumeRole === undefined
                ? 'is required: the role golden-ami assumes in the target account, e.g. { roleArn: "arn:aws:iam::111122223333:role/golden-ami" }'
                : typeof (t.assumeRole as { roleArn?: unknown })?.roleArn !== "string"
                  ? "roleArn must be a plain string known when the program runs (the target's account names its copies), " +
                    `e.g. "arn:aws:iam::111122223333:role/golden-ami", got ${show((t.assumeRole as { roleArn?: unknown })?.roleArn)}`
                  : containsUnknown(t.assumeRole)
                    ? undefined
                    : assumeRoleRule(t.assumeRole, `${at}.assumeRole`);
        if (roleProblem) failures.push(fail(`${at}.assumeRole`, roleProblem));
        const account = roleProblem ? undefined : roleAccount(t.assumeRole);
        if (account !== undefined) {
            const first = seen.get(account);
            if (first !== undefined) {
                failures.push(
                    fail(
                        `${at}.assumeRole`,
                        `names account ${account} again (distribute[${first}] already does); give each account once, with all its regions in one target`,
                    ),
                );
            } else seen.set(account, i);
            if (buildAccount !== undefined && account === buildAccount) {
                failures.push(
                    fail(
                        `${at}.assumeRole`,
                        `is in account ${account}, where the image is built (assumeRole); copy it to more regions of that account with regions instead`,
                    ),
                );
            }
        }
        const regions = t.regions;
        let regionsOk = false;
        if (regions === undefined)
            failures.push(fail(`${at}.regions`, "is required: give at least one region to copy the image to in that account"));
        else if (!Array.isArray(regions) || regions.some((r) => typeof r !== "string")) {
            failures.push(
                fail(
                    `${at}.regions`,
                    "must be a list of region names known when the program runs (each region is a child resource), not an Output",
                ),
            );
        } else if (regions.length === 0)
            failures.push(fail(`${at}.regions`, "is empty; give at least one region to copy the image to in that account"));
        else {
            const repeated = [...new Set(regions.filter((r, j) => regions.indexOf(r) !== j))];
            const bad = regions.map((r) => regionRule(r, `${at}.regions`)).find((r) => r !== undefined);
            if (repeated.length)
                failures.push(fail(`${at}.regions`, `repeats ${repeated.join(", ")}; give each region once (one copy per region)`));
            else if (bad) failures.push(fail(`${at}.regions`, bad));
            else regionsOk = true;
        }
        const key = t.kmsKeyId;
        if (key !== undefined && !containsUnknown(key)) {
            const bad = kmsKeyRule(key, `${at}.kmsKeyId`);
            const keyRegion = typeof key === "string" ? KMS_ARN_REGION.exec(key)?.[1] : undefined;
            if (bad) failures.push(fail(`${at}.kmsKeyId`, bad));
            else if (regionsOk && keyRegion !== undefined && (regions as string[]).some((r) => r !== keyRegion)) {
                failures.push(
                    fail(
                        `${at}.kmsKeyId`,
                        `is a key ARN of ${keyRegion}, but the copies are made in ${(regions as string[]).join(", ")} (keys are regional); ` +
                            `use an alias that exists in each of those regions (e.g. "alias/golden-ami"), or one target region`,
                    ),
                );
            } else {
                failures.push(
                    ...awsManagedKeyShareFailures({
                        news: { kmsKeyId: key, launchPermissions: t.launchPermissions },
                        olds: undefined,
                        now: new Date(),
                    }).map((f) => ({ ...f, property: `${at}.kmsKeyId`, reason: `${at}.${f.reason}` })),
                );
            }
        }
        if (t.launchPermissions !== undefined && !containsUnknown(t.launchPermissions)) {
            const bad = launchPermissionsRule(t.launchPermissions, `${at}.launchPermissions`);
            if (bad) failures.push(fail(`${at}.launchPermissions`, bad));
        }
        if (t.publish !== undefined) {
            failures.push(
                ...publishFailures({ news: { publish: t.publish }, olds: undefined, now: new Date() }).map((f) => ({
                    property: `${at}.${f.property}`,
                    reason: `${at}.${f.reason}`,
                })),
            );
        }
    });
    if (distribute.length && namesAwsManagedKey(inputs.imageKmsKeyId)) {
        failures.push(
            fail(
                "image.kmsKeyId",
                `is the AWS managed key ${inputs.imageKmsKeyId as string}, and an image encrypted with it cannot be shared with the ` +
                    `distribute accounts: use a customer managed key whose key policy lets those accounts use it (kms:Decrypt, ` +
                    `kms:CreateGrant, kms:DescribeKey, kms:ReEncrypt*), or drop distribute`,
            ),
        );
    }
    return failures;
}
