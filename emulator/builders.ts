// Build instances for the emulator: moto runs no user data, so an instance
// that should run a build script and power itself off would stay `running`
// for ever. This behaviour plays the script's outcome:
//
// - RunInstances whose UserData (base64) is a shell script (`#!` first line)
//   is played line by line (playScript): `set -e`, `trap '... poweroff' EXIT`,
//   `echo` (its text goes to the console), failing commands (`false`,
//   `exit N`) and the power-off commands (`poweroff`, `shutdown -h now`,
//   `systemctl poweroff`, `halt -p`, optionally after `sudo`). A script that
//   reaches a power-off command (or exits with a power-off trap) shuts the
//   instance down after a seeded delay. With InstanceInitiatedShutdownBehavior
//   `stop` (EC2's default: "Default: stop", RunInstances in the EC2 API
//   reference) it becomes `stopped` (moto's StopInstances); with `terminate`,
//   `terminated` (moto's TerminateInstances), as the EC2 user guide "Change
//   instance initiated shutdown behavior" describes.
// - Any other user data (a script that fails under `set -e` or ends without
//   powering off, cloud-config, no shebang) is a build that failed or hangs:
//   the instance stays `running`. A failing command without `set -e` does not
//   stop the script: it still reaches `poweroff` (callers must not take a
//   stopped instance for a successful script; golden-ami looks for its
//   success marker in the console output).
// - GetConsoleOutput answers base64 text shaped like a cloud-init boot log
//   (the EC2 API reference: "The console output, base64-encoded"), with the
//   script's commands echoed as `bash -x` prints them, what `echo` printed,
//   and cloud-init's warnings about a failed `scripts-user` module when the
//   script exits non-zero. Before the delay has passed the log stops where the
//   script starts (the documentation is silent on partial output; a log
//   without the script's lines is the hardest case for a caller that reads it
//   too early). An instance launched without user data gets the boot log.
// - DescribeInstanceStatus: EC2 reports the system and instance status
//   checks `initializing` for the first minutes after launch, then `ok`
//   ("Status checks for your instances", EC2 user guide); moto answers `ok`
//   at once. For every instance launched through the emulator the checks
//   stay `initializing` until its seeded status delay has passed.
//
// The delays of each instance are `builderBootMs × (0.5 + r)` (script end)
// and `builderBootMs × (0.25 + r / 2)` (status checks), r drawn from a
// mulberry32 PRNG seeded with `seed`, in launch order: the same seed and the
// same launches give the same delays.
import type { Handler, HandlerContext, Reply } from "./handler";
import { mulberry32 } from "./handler";
import { setElement } from "./ec2-xml";
import { API_VERSION, ec2Success, itemsOf, textOf } from "./xml";

export interface BuildersOptions {
    /** Median time from RunInstances until a powering-off build instance shuts down, in milliseconds. @default 2000 */
    builderBootMs?: number;
    /** Seed of the PRNG that draws each instance's delays. @default 1 */
    seed?: number;
}

/** What the emulator knows of one instance launched through it. */
export interface BuilderInstance {
    instanceId: string;
    /** The script's lines (user data decoded); empty without user data. */
    script: string[];
    /** Whether the script powers the instance off (reaches a power-off command, or exits with a power-off trap). */
    powersOff: boolean;
    /** What the script prints on the console once it has run (the `bash -x` trace and `echo` output). */
    console: string[];
    /** The script's exit status; undefined when it powered off, or without a script. */
    exitStatus?: number;
    /** InstanceInitiatedShutdownBehavior. */
    shutdownBehavior: "stop" | "terminate";
    launchedAt: Date;
    /** When the script ends (and, if it powers off, the instance shuts down). */
    endsAt: Date;
    /** When the status checks turn from `initializing` to `ok`. */
    statusOkAt: Date;
    /**
     * `running` until the delay passes; then `stopped`/`terminated` (powering
     * off), `failed` (a script left running) or `idle` (no script);
     * `shutdown-refused` if moto refused.
     */
    outcome: "running" | "stopped" | "terminated" | "failed" | "idle" | "shutdown-refused";
    /** moto's answer when it refused the shutdown. */
    refusal?: string;
}

export interface BuilderEmulation {
    /** For the proxy's `handlers` option. */
    handler: Handler;
    /** The state of an instance launched through this emulation, undefined for others. */
    instance(instanceId: string): BuilderInstance | undefined;
    /** Cancels pending shutdowns (call when the proxy stops). */
    dispose(): void;
}

const POWER_OFF = /^(?:sudo\s+)?(?:poweroff|systemctl\s+poweroff|shutdown\s+-h\s+now|halt\s+-p)\s*(?:#.*)?$/;
const POWER_OFF_ANYWHERE = /(?:^|[\s;'"])(?:sudo\s+)?(?:poweroff|systemctl\s+poweroff|shutdown\s+-h\s+now|halt\s+-p)(?:$|[\s;'"])/;

/** How a script run ends, as the emulator plays it. */
export interface ScriptRun {
    /** Console lines: `+ <command>` for each command run (`bash -x`), and what `echo` printed. */
    console: string[];
    powersOff: boolean;
    /** Exit status when the script ended without powering off. */
    exitStatus?: number;
}

/** The text `echo` prints for one command line (outer quotes removed, a redirection to the console kept, to a file dropped). */
function echoed(args: string): string | undefined {
    const m = /^(.*?)\s*(\d?>>?)\s*(\S+)\s*$/.exec(args);
    let text = args;
    if (m && !/^["']/.test(m[3])) {
        if (m[3] !== "/dev/console" && m[3] !== "/dev/ttyS0") return undefined;
        text = m[1];
    }
    return text
        .trim()
        .replace(/^"(.*)"$/, "$1")
        .replace(/^'(.*)'$/, "$1");
}

/**
 * Plays a shell script as bash would for the few things the emulator
 * understands: `set -e`/`set +e`, `trap '<cmd>' EXIT` with a power-off
 * command, `echo`, `false`, `exit [N]` and the power-off commands. Every
 * other command succeeds.
 */
/** The line without a trailing `# comment` outside quotes, as bash reads it (`echo "x"  # note` prints `x`). */
function withoutComment(line: string): string {
    let quote: string | undefined;
    for (let i = 0; i < line.length; i++) {
        const c = line[i];
        if (quote) {
            if (c === quote) quote = undefined;
        } else if (c === '"' || c === "'") {
            quote = c;
        } else if (c === "#" && (i === 0 || /\s/.test(line[i - 1]))) {
            return line.slice(0, i);
        }
    }
    return line;
}

export function playScript(lines: string[]): ScriptRun {
    const out: string[] = [];
    let errexit = false;
    let trapPowersOff = false;
    let status = 0;
    const end = (code: number): ScriptRun => {
        if (trapPowersOff) {
            out.push("+ poweroff");
            return { console: out, powersOff: true };
        }
        return { console: out, powersOff: false, exitStatus: code };
    };
    for (const raw of lines.slice(1)) {
        const line = withoutComment(raw).trim();
        if (line === "" || line.startsWith("#")) continue;
        const set = /^set\s+([-+])([a-z]*)/.exec(line);
        if (set) {
            if (set[2].includes("e")) errexit = set[1] === "-";
            continue; // bash -x prints `set` lines only after -x is on; leaving them out keeps the trace short
        }
        out.push(`+ ${line}`);
        const trap = /^trap\s+(['"])(.*)\1\s+(.*)$/.exec(line);
        if (trap) {
            if (/\bEXIT\b|\b0\b/.test(trap[3])) trapPowersOff = POWER_OFF_ANYWHERE.test(` ${trap[2]} `);
            continue;
        }
        if (POWER_OFF.test(line)) return { console: out, powersOff: true };
        const exit = /^exit(?:\s+(\d+))?\s*$/.exec(line);
        if (exit) return end(exit[1] === undefined ? status : Number(exit[1]));
        if (/^(?:\/bin\/|\/usr\/bin\/)?false$/.test(line)) {
            status = 1;
            if (errexit) return end(1);
            continue;
        }
        status = 0;
        const echo = /^echo\s+(.*)$/.exec(line);
        if (echo) {
            const text = echoed(echo[1]);
            if (text !== undefined) out.push(text);
        }
    }
    return end(status);
}

/** Decodes user data and tells whether it is a script, and whether it powers the instance off when played. */
export function readUserData(base64: string): { script: string[]; isScript: boolean; powersOff: boolean; run?: ScriptRun } {
    const text = Buffer.from(base64, "base64").toString("utf8");
    const script = text.replace(/\r\n/g, "\n").split("\n");
    const isScript = script[0]?.startsWith("#!") ?? false;
    if (!isScript) return { script, isScript, powersOff: false };
    const run = playScript(script);
    return { script, isScript, powersOff: run.powersOff, run };
}

export function builderEmulation(options: BuildersOptions = {}): BuilderEmulation {
    const bootMs = options.builderBootMs ?? 2000;
    const random = mulberry32(options.seed ?? 1);
    const instances = new Map<string, BuilderInstance>();
    const timers = new Set<NodeJS.Timeout>();

    async function runInstances(ctx: HandlerContext): Promise<Reply> {
        const reply = await ctx.next(); // the image checks of RunInstances first
        if (reply.status !== 200) return reply;
        const userData = ctx.params.get("UserData");
        const read = userData ? readUserData(userData) : undefined;
        // Cloud-config and other user data that is not a script: played as a script that never powers off.
        const run: ScriptRun | undefined = read ? (read.run ?? { console: [], powersOff: false, exitStatus: 1 }) : undefined;
        const shutdownBehavior = ctx.params.get("InstanceInitiatedShutdownBehavior") === "terminate" ? "terminate" : "stop";
        for (const item of itemsOf(reply.body, "instancesSet")) {
            const instanceId = textOf(item, "instanceId");
            if (!instanceId) continue;
            const r = random();
            const delay = Math.round(bootMs * (0.5 + r));
            const statusDelay = Math.round(bootMs * (0.25 + r / 2));
            const now = Date.now();
            const state: BuilderInstance = {
                instanceId,
                script: read?.script ?? [],
                powersOff: run?.powersOff ?? false,
                console: run?.console ?? [],
                exitStatus: run?.exitStatus,
                shutdownBehavior,
                launchedAt: new Date(now),
                endsAt: new Date(now + delay),
                statusOkAt: new Date(now + statusDelay),
                outcome: "running",
            };
            instances.set(instanceId, state);
            const timer = setTimeout(() => {
                timers.delete(timer);
                void scriptEnds(ctx, state);
            }, delay);
            timer.unref();
            timers.add(timer);
        }
        return reply;
    }

    /** The script is done: a powering-off one shuts the instance down through moto, any other leaves it running. */
    async function scriptEnds(ctx: HandlerContext, state: BuilderInstance): Promise<void> {
        if (!state.powersOff) {
            state.outcome = state.script.length ? "failed" : "idle";
            return;
        }
        const action = state.shutdownBehavior === "terminate" ? "TerminateInstances" : "StopInstances";
        try {
            // An instance its owner terminated meanwhile cannot power itself off: EC2 answers StopInstances on it
            // with IncorrectInstanceState ("Error codes for the Amazon EC2 API"), where moto would set a terminated
            // instance back to `stopped`.
            const described = await ctx.forward(
                new URLSearchParams({ Action: "DescribeInstances", Version: API_VERSION, "InstanceId.1": state.instanceId }).toString(),
            );
            const current = /<instanceState>[\s\S]*?<name>([^<]*)<\/name>/.exec(described.body)?.[1];
            if (current === "terminated" || current === "shutting-down") {
                state.outcome = "shutdown-refused";
                state.refusal = "IncorrectInstanceState";
                return;
            }
            const reply = await ctx.forward(
                new URLSearchParams({ Action: action, Version: API_VERSION, "InstanceId.1": state.instanceId }).toString(),
            );
            if (reply.status === 200) {
                state.outcome = state.shutdownBehavior === "terminate" ? "terminated" : "stopped";
            } else {
                // e.g. the instance was terminated by its owner meanwhile: kept for the console output and instance().
                state.outcome = "shutdown-refused";
                state.refusal = textOf(reply.body, "Code") ?? `HTTP ${reply.status}`;
            }
        } catch (e) {
            state.outcome = "shutdown-refused";
            state.refusal = (e as Error).message;
        }
    }

    function consoleOutput(state: BuilderInstance): Reply {
        const log = cloudInitLog(state, new Date());
        return ec2Success(
            "GetConsoleOutput",
            `<instanceId>${state.instanceId}</instanceId><timestamp>${new Date().toISOString()}</timestamp>` +
                `<output>${Buffer.from(log).toString("base64")}</output>`,
        );
    }

    /** moto's answer with the status checks of instances still booting set back to `initializing`, as EC2 reports them. */
    async function instanceStatus(ctx: HandlerContext): Promise<Reply> {
        const reply = await ctx.forward(ctx.params.toString());
        if (reply.status !== 200) return reply;
        const now = Date.now();
        const initializing =
            "<status>initializing</status><details><item><name>reachability</name><status>initializing</status></item></details>";
        let body = reply.body;
        for (const item of itemsOf(reply.body, "instanceStatusSet")) {
            const state = instances.get(textOf(item, "instanceId") ?? "");
            if (!state || now >= state.statusOkAt.getTime() || !/<status>ok<\/status>/.test(item)) continue;
            const changed = setElement(setElement(item, "systemStatus", initializing), "instanceStatus", initializing);
            body = body.replace(item, changed);
        }
        return { ...reply, body };
    }

    const handler: Handler = async (ctx) => {
        if (ctx.service !== undefined && ctx.service !== "ec2") return undefined;
        if (ctx.action === "RunInstances") return runInstances(ctx);
        if (ctx.action === "DescribeInstanceStatus") return instanceStatus(ctx);
        if (ctx.action === "GetConsoleOutput") {
            const state = instances.get(ctx.params.get("InstanceId") ?? "");
            return state ? consoleOutput(state) : undefined;
        }
        return undefined;
    };

    return {
        handler,
        instance: (id) => {
            const s = instances.get(id);
            return s ? structuredClone(s) : undefined;
        },
        dispose: () => {
            for (const t of timers) clearTimeout(t);
            timers.clear();
        },
    };
}

/** A console log in the shape cloud-init writes on an Amazon Linux / Ubuntu boot, up to `now`. */
export function cloudInitLog(state: BuilderInstance, now: Date): string {
    const t0 = state.launchedAt.getTime();
    const up = (at: number) => ((at - t0) / 1000 + 4).toFixed(2);
    const stamp = (at: number) => new Date(at).toUTCString();
    const kernel = (at: number, msg: string) => `[${((at - t0) / 1000 + 0.5).toFixed(6).padStart(12)}] ${msg}`;
    const lines = [
        kernel(t0, "Linux version 6.1.0-emulated (golden-ami emulator) #1 SMP"),
        kernel(t0, "Command line: BOOT_IMAGE=/boot/vmlinuz root=/dev/nvme0n1p1 ro console=ttyS0"),
        kernel(t0, "EXT4-fs (nvme0n1p1): mounted filesystem with ordered data mode."),
        `cloud-init[512]: Cloud-init v. 23.4 running 'init-local' at ${stamp(t0)}. Up ${up(t0)} seconds.`,
        `cloud-init[530]: Cloud-init v. 23.4 running 'init' at ${stamp(t0)}. Up ${up(t0)} seconds.`,
        `cloud-init[610]: Cloud-init v. 23.4 running 'modules:config' at ${stamp(t0)}. Up ${up(t0)} seconds.`,
        `cloud-init[780]: Cloud-init v. 23.4 running 'modules:final' at ${stamp(t0)}. Up ${up(t0)} seconds.`,
    ];
    const end = state.endsAt.getTime();
    if (now.getTime() < end) return lines.join("\n") + "\n";
    const finished = `cloud-init[780]: Cloud-init v. 23.4 finished at ${stamp(end)}. Datasource DataSourceEc2Local.  Up ${up(end)} seconds`;
    for (const line of state.console) lines.push(`cloud-init[780]: ${line}`);
    if (state.powersOff) {
        lines.push(
            finished,
            "[  OK  ] Stopped target Multi-User System.",
            "[  OK  ] Reached target System Power Off.",
            kernel(end, "reboot: Power down"),
        );
    } else if (state.exitStatus !== undefined && state.exitStatus !== 0) {
        const iso = new Date(end).toISOString().replace("T", " ").replace("Z", "");
        lines.push(
            `cloud-init[780]: ${iso} - subp.py[WARNING]: Failed running /var/lib/cloud/instance/scripts/part-001 [${state.exitStatus}]`,
            `cloud-init[780]: ${iso} - cc_scripts_user.py[WARNING]: Failed to run module scripts-user (scripts in /var/lib/cloud/instance/scripts)`,
            `cloud-init[780]: ${iso} - util.py[WARNING]: Running module scripts-user (<module 'cloudinit.config.cc_scripts_user'>) failed`,
            finished,
        );
    } else {
        lines.push(finished);
    }
    return lines.join("\n") + "\n";
}
