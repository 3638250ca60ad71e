// The README's minimal IAM policy, and the AWS actions golden-ami's code can
// call, for the tests that keep the two equal.
import * as fs from "node:fs";
import * as path from "node:path";

const ROOT = path.join(__dirname, "..", "..");

/** The actions (`ec2:CreateImage`, ...) of the README's minimal policy. */
export function readmePolicyActions(): string[] {
    const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
    const start = readme.indexOf("as a minimal IAM policy:");
    if (start < 0) throw new Error("README.md has no minimal IAM policy");
    const block = /```json\n([\s\S]*?)```/.exec(readme.slice(start));
    if (!block) throw new Error("README.md's minimal IAM policy is not a json block");
    const policy = JSON.parse(block[1]) as { Statement: { Action: string[] | string }[] };
    return [...new Set(policy.Statement.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action])))].sort();
}

const SERVICES: Record<string, string> = {
    "@aws-sdk/client-ec2": "ec2",
    "@aws-sdk/client-ssm": "ssm",
    "@aws-sdk/client-auto-scaling": "autoscaling",
    "@aws-sdk/client-kms": "kms",
};

function sources(dir: string): string[] {
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
        const p = path.join(dir, e.name);
        return e.isDirectory() ? sources(p) : e.name.endsWith(".ts") ? [p] : [];
    });
}

/**
 * Every action the providers can call: for each AWS SDK command a file
 * imports and constructs (`new XCommand(`), paginator it runs
 * (`paginateX(`, the X action) and instance waiter (`waitUntilInstance…(`,
 * DescribeInstances), the IAM action `<service>:X`.
 */
export function actionsInCode(): string[] {
    const actions = new Set<string>();
    for (const file of sources(path.join(ROOT, "dynamic-providers"))) {
        const text = fs.readFileSync(file, "utf8");
        for (const m of text.matchAll(/import\s*(?:type\s*)?\{([^}]*)\}\s*from\s*"(@aws-sdk\/client-[a-z0-9-]+)"/g)) {
            const service = SERVICES[m[2]];
            if (!service) continue;
            for (const raw of m[1].split(",")) {
                const name = raw.trim().split(/\s+as\s+/)[0];
                const local = raw.trim().split(/\s+as\s+/)[1] ?? name;
                if (!name) continue;
                if (name.endsWith("Command") && text.includes(`new ${local}(`))
                    actions.add(`${service}:${name.slice(0, -"Command".length)}`);
                else if (name.startsWith("paginate") && text.includes(`${local}(`))
                    actions.add(`${service}:${name.slice("paginate".length)}`);
                else if (name.startsWith("waitUntilInstance") && text.includes(`${local}(`)) actions.add(`${service}:DescribeInstances`);
            }
        }
    }
    return [...actions].sort();
}
