// A record of every action the emulator serves, for the test that keeps the
// README's minimal IAM policy equal to what golden-ami calls (test/iam-actions/).
// With GOLDEN_AMI_EMULATOR_ACTION_LOG=<file> in its environment, every
// emulator and every test proxy (emulator/ec2-proxy.ts: a proxy in front of
// the emulator may answer an image action itself; in a test process, or
// `npx golden-ami emulator`) appends one JSON line per request: the IAM action (`ec2:CreateImage`, `ssm:PutParameter`)
// and whether golden-ami's own clients made it (their User-Agent carries
// GOLDEN_AMI_USER_AGENT, dynamic-providers/ec2/client.ts) or something else
// did (test fixtures, the AWS CLI, Packer).
import * as fs from "node:fs";
import type { Handler } from "./handler";

/** The environment variable naming the file. */
export const ACTION_LOG_ENV = "GOLDEN_AMI_EMULATOR_ACTION_LOG";

/** The User-Agent part golden-ami's AWS clients send (kept equal to dynamic-providers/ec2/client.ts; a unit test checks). */
export const GOLDEN_AMI_USER_AGENT = "golden-ami";

/** One line of the log. */
export interface ActionRecord {
    /** The IAM action, `<service>:<Action>`. */
    action: string;
    /** Made by golden-ami's own clients. */
    goldenAmi: boolean;
}

/** A handler (EC2's, or another service's) that records each request and passes it on; undefined when the log is off. */
export function actionLogHandler(file = process.env[ACTION_LOG_ENV]): Handler | undefined {
    if (!file) return undefined;
    return async (ctx) => {
        const service = ctx.service ?? "ec2";
        const agent = String(ctx.req.headers["user-agent"] ?? "") + " " + String(ctx.req.headers["x-amz-user-agent"] ?? "");
        const record: ActionRecord = { action: `${service}:${ctx.action}`, goldenAmi: agent.includes(GOLDEN_AMI_USER_AGENT) };
        // Appends of one short line from several processes do not interleave (O_APPEND).
        fs.appendFileSync(file, JSON.stringify(record) + "\n");
        return undefined;
    };
}

/** The records of a log file (none when it does not exist). */
export function readActionLog(file: string): ActionRecord[] {
    if (!fs.existsSync(file)) return [];
    return fs
        .readFileSync(file, "utf8")
        .split("\n")
        .filter((l) => l.trim() !== "")
        .map((l) => JSON.parse(l) as ActionRecord);
}
