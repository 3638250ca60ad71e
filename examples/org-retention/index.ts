// Retention across an organization: one stack per account, each an
// AmiRetentionPolicy that assumes a role in that account, driven by Pulumi's
// Automation API. This file is a Node script, not a Pulumi program: it runs
// the inline program below once per account (`LocalWorkspace`, a local file
// backend), a few accounts at a time, and prints one summary line per
// account. `preview` by default; `--up` retires.
//
//   npx ts-node index.ts accounts.json          # preview every account
//   npx ts-node index.ts accounts.json --up     # retire
//
// Each stack is an ordinary stack: `pulumi stack ls`, `pulumi stack output`
// and `pulumi destroy` work on it from this directory, and on Pulumi
// Deployments each becomes a stack with its own deployment settings (README).
import * as fs from "node:fs";
import * as path from "node:path";
import { EngineEvent, LocalWorkspace, PulumiFn, Stack } from "@pulumi/pulumi/automation";
import pLimit from "p-limit";
import { AmiRetentionPolicy, RetentionPendingSummary, RetentionRunReport } from "golden-ami";

/** One account: the role to assume there and the regions to clean. */
interface Account {
    accountId: string;
    roleArn: string;
    regions: string[];
    externalId?: string;
    /** Overrides the default `keepLatest` for this account. */
    keepLatest?: number;
}

/** The whole configuration file (see accounts.json). */
interface OrgConfig {
    namePattern: string;
    keepLatest: number;
    maxAgeDays?: number;
    /** How many accounts run at once (default 4). */
    concurrency?: number;
    accounts: Account[];
}

const PROJECT = "org-retention";
const POLICY = "account-images";

function readConfig(file: string): OrgConfig {
    const config = JSON.parse(fs.readFileSync(file, "utf8")) as OrgConfig;
    if (!config.namePattern || typeof config.keepLatest !== "number" || !Array.isArray(config.accounts))
        throw new Error(`${file}: needs namePattern, keepLatest and accounts (see accounts.json)`);
    for (const a of config.accounts) {
        // The role must be in the account it is listed for: a typo would clean another account.
        const roleAccount = /^arn:aws[\w-]*:iam::(\d{12}):role\//.exec(a.roleArn ?? "")?.[1];
        if (roleAccount !== a.accountId)
            throw new Error(`${file}: account ${a.accountId}: roleArn ${a.roleArn} is not a role in that account`);
        if (!a.regions?.length) throw new Error(`${file}: account ${a.accountId}: list at least one region`);
    }
    return config;
}

/** The Pulumi program of one account's stack. */
function program(config: OrgConfig, account: Account): PulumiFn {
    return async () => {
        const policy = new AmiRetentionPolicy(POLICY, {
            regions: account.regions,
            selector: { namePattern: config.namePattern },
            keepLatest: account.keepLatest ?? config.keepLatest,
            maxAgeDays: config.maxAgeDays,
            assumeRole: {
                roleArn: account.roleArn,
                // With an external id, golden-ami keeps the whole assumeRole secret in state.
                externalId: account.externalId,
                sessionName: "golden-ami-org-retention",
            },
        });
        return { lastRun: policy.lastRun };
    };
}

async function stackFor(config: OrgConfig, account: Account, backendUrl: string): Promise<Stack> {
    const stackName = `account-${account.accountId}`;
    // A work directory per stack (its Pulumi.yaml and stack config), below this one so that the dynamic
    // provider Pulumi starts there finds @pulumi/pulumi and golden-ami in node_modules.
    const workDir = path.join(__dirname, ".workspaces", stackName);
    fs.mkdirSync(workDir, { recursive: true });
    const stack = await LocalWorkspace.createOrSelectStack(
        { projectName: PROJECT, stackName, program: program(config, account) },
        {
            workDir,
            projectSettings: { name: PROJECT, runtime: "nodejs", backend: { url: backendUrl } },
            // The local backend encrypts secrets with PULUMI_CONFIG_PASSPHRASE (set it, even to "").
            secretsProvider: "passphrase",
        },
    );
    await stack.setConfig("aws:region", { value: account.regions[0] });
    return stack;
}

/** The policy's plan, as check computed it, from the preview's events. */
function planFrom(event: EngineEvent): RetentionPendingSummary | undefined {
    const step = event.resourcePreEvent?.metadata;
    if (!step?.urn.endsWith(`::${POLICY}`)) return undefined;
    return step.new?.inputs?.pending as RetentionPendingSummary | undefined;
}

async function runAccount(config: OrgConfig, account: Account, up: boolean, backendUrl: string): Promise<string> {
    const where = `account ${account.accountId} (${account.regions.join(", ")})`;
    try {
        const stack = await stackFor(config, account, backendUrl);
        if (!up) {
            let plan: RetentionPendingSummary | undefined;
            await stack.preview({ onEvent: (e) => (plan = planFrom(e) ?? plan) });
            if (!plan || plan.status !== "planned") return `${where}: preview: the plan is computed at apply`;
            return `${where}: preview: would retire ${plan.total}, kept ${plan.heldBack.total}, failed 0`;
        }
        const result = await stack.up();
        const run = result.outputs.lastRun?.value as RetentionRunReport | undefined;
        if (!run) return `${where}: up: no report`;
        const { retired, skipped, failed } = run.counts;
        return `${where}: up: retired ${retired}, kept ${skipped}, failed ${failed}`;
    } catch (e) {
        // One account's failure does not stop the others; its line says why.
        const message = e instanceof Error ? e.message : String(e);
        const cause = message.split("\n").find((l) => /error/i.test(l)) ?? message.split("\n")[0];
        return `${where}: FAILED: ${cause.trim()}`;
    }
}

async function main(argv: string[]): Promise<number> {
    const args = argv.filter((a) => !a.startsWith("--"));
    const up = argv.includes("--up");
    const config = readConfig(args[0] ?? "accounts.json");
    // PULUMI_BACKEND_URL wins; else a folder beside this script.
    const backendUrl = process.env.PULUMI_BACKEND_URL ?? `file://${path.resolve(__dirname, ".state")}`;
    if (backendUrl.startsWith("file://")) fs.mkdirSync(backendUrl.slice("file://".length), { recursive: true });
    const limit = pLimit(config.concurrency ?? 4);
    const lines = await Promise.all(
        config.accounts.map((account) =>
            limit(async () => {
                const line = await runAccount(config, account, up, backendUrl);
                console.log(line);
                return line;
            }),
        ),
    );
    const failed = lines.filter((l) => l.includes(": FAILED: ") || / failed [1-9]/.test(l)).length;
    console.log(`${config.accounts.length} accounts, ${failed} with failures (${up ? "up" : "preview"})`);
    return failed === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (e) => {
        console.error(e instanceof Error ? e.message : e);
        process.exitCode = 2;
    },
);
