// Build instances for the emulator: moto runs no user data, so an instance
// that should run a build script and power itself off would stay `running`
// for ever. This behaviour plays the script's outcome:
//
// - RunInstances whose UserData (base64) is a shell script (`#!` first line)
//   whose last non-empty line is a power-off command (`poweroff`,
//   `shutdown -h now`, `systemctl poweroff`, `halt -p`, optionally after
//   `sudo`) is a build that succeeds: after a seeded delay the instance
//   shuts itself down. With InstanceInitiatedShutdownBehavior `stop` (EC2's
//   default: "Default: stop", RunInstances in the EC2 API reference) it
//   becomes `stopped` (moto's StopInstances); with `terminate`, `terminated`
//   (moto's TerminateInstances), as the EC2 user guide "Change instance
//   initiated shutdown behavior" describes.
// - Any other user data (a script that ends otherwise, cloud-config, no
//   shebang) is a build that failed or hangs: the instance stays `running`.
// - GetConsoleOutput of such an instance answers base64 text shaped like a
//   cloud-init boot log (the EC2 API reference: "The console output,
//   base64-encoded"), with the script's lines echoed as `bash -x` prints
//   them and, for a script that does not power off, cloud-init's warnings
//   about a failed `scripts-user` module at the end. Before the delay has
//   passed the log stops where the script starts (the documentation is
//   silent on partial output; a log without the script's lines is the
//   hardest case for a caller that reads it too early).
//
// The delay of each instance is `builderBootMs × (0.5 + r)`, r drawn from a
// mulberry32 PRNG seeded with `seed`, in launch order: the same seed and the
// same launches give the same delays.
import type { Handler, HandlerContext, Reply } from "./handler";
import { mulberry32 } from "./handler";
import { API_VERSION, ec2Success, itemsOf, textOf } from "./xml";

export interface BuildersOptions {
    /** Median time from RunInstances until a powering-off build instance shuts down, in milliseconds. @default 2000 */
    builderBootMs?: number;
    /** Seed of the PRNG that draws each instance's delay. @default 1 */
    seed?: number;
}

/** What the emulator knows of one build instance. */
export interface BuilderInstance {
    instanceId: string;
    /** The script's lines (user data decoded). */
    script: string[];
    /** Whether its last non-empty line powers the instance off. */
    powersOff: boolean;
    /** InstanceInitiatedShutdownBehavior. */
    shutdownBehavior: "stop" | "terminate";
    launchedAt: Date;
    /** When the script ends (and, if it powers off, the instance shuts down). */
    endsAt: Date;
    /** `running` until the delay passes; then `stopped`/`terminated` (powering off) or `failed` (left running); `shutdown-refused` if moto refused. */
    outcome: "running" | "stopped" | "terminated" | "failed" | "shutdown-refused";
    /** moto's answer when it refused the shutdown. */
    refusal?: string;
}

export interface BuilderEmulation {
    /** For the proxy's `handlers` option. */
    handler: Handler;
    /** The state of a build instance, undefined for instances launched without user data or before this emulation. */
    instance(instanceId: string): BuilderInstance | undefined;
    /** Cancels pending shutdowns (call when the proxy stops). */
    dispose(): void;
}

const POWER_OFF = /^(?:sudo\s+)?(?:poweroff|systemctl\s+poweroff|shutdown\s+-h\s+now|halt\s+-p)\s*(?:#.*)?$/;

/** Decodes user data and tells whether it is a script that powers the instance off at its end. */
export function readUserData(base64: string): { script: string[]; isScript: boolean; powersOff: boolean } {
    const text = Buffer.from(base64, "base64").toString("utf8");
    const script = text.replace(/\r\n/g, "\n").split("\n");
    const isScript = script[0]?.startsWith("#!") ?? false;
    const last =
        [...script]
            .reverse()
            .find((l) => l.trim() !== "")
            ?.trim() ?? "";
    return { script, isScript, powersOff: isScript && POWER_OFF.test(last) };
}

export function builderEmulation(options: BuildersOptions = {}): BuilderEmulation {
    const bootMs = options.builderBootMs ?? 2000;
    const random = mulberry32(options.seed ?? 1);
    const instances = new Map<string, BuilderInstance>();
    const timers = new Set<NodeJS.Timeout>();

    async function runInstances(ctx: HandlerContext): Promise<Reply> {
        const reply = await ctx.next(); // the image checks of RunInstances first
        const userData = ctx.params.get("UserData");
        if (reply.status !== 200 || !userData) return reply;
        const { script, powersOff } = readUserData(userData);
        const shutdownBehavior = ctx.params.get("InstanceInitiatedShutdownBehavior") === "terminate" ? "terminate" : "stop";
        for (const item of itemsOf(reply.body, "instancesSet")) {
            const instanceId = textOf(item, "instanceId");
            if (!instanceId) continue;
            const delay = Math.round(bootMs * (0.5 + random()));
            const now = Date.now();
            const state: BuilderInstance = {
                instanceId,
                script,
                powersOff,
                shutdownBehavior,
                launchedAt: new Date(now),
                endsAt: new Date(now + delay),
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
            state.outcome = "failed";
            return;
        }
        const action = state.shutdownBehavior === "terminate" ? "TerminateInstances" : "StopInstances";
        try {
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

    function consoleOutput(ctx: HandlerContext, state: BuilderInstance): Reply {
        const log = cloudInitLog(state, new Date());
        return ec2Success(
            "GetConsoleOutput",
            `<instanceId>${state.instanceId}</instanceId><timestamp>${new Date().toISOString()}</timestamp>` +
                `<output>${Buffer.from(log).toString("base64")}</output>`,
        );
    }

    const handler: Handler = async (ctx) => {
        if (ctx.service !== undefined && ctx.service !== "ec2") return undefined;
        if (ctx.action === "RunInstances") return runInstances(ctx);
        if (ctx.action === "GetConsoleOutput") {
            const state = instances.get(ctx.params.get("InstanceId") ?? "");
            return state ? consoleOutput(ctx, state) : undefined;
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
    // `bash -x` echoes each command with a `+ ` before it; comments and blank lines are not commands.
    for (const line of state.script.slice(1)) {
        if (line.trim() === "" || line.trim().startsWith("#")) continue;
        lines.push(`cloud-init[780]: + ${line.trim()}`);
    }
    if (state.powersOff) {
        lines.push(
            `cloud-init[780]: Cloud-init v. 23.4 finished at ${stamp(end)}. Datasource DataSourceEc2Local.  Up ${up(end)} seconds`,
            "[  OK  ] Stopped target Multi-User System.",
            "[  OK  ] Reached target System Power Off.",
            kernel(end, "reboot: Power down"),
        );
    } else {
        const iso = new Date(end).toISOString().replace("T", " ").replace("Z", "");
        lines.push(
            `cloud-init[780]: ${iso} - subp.py[WARNING]: Failed running /var/lib/cloud/instance/scripts/part-001 [1]`,
            `cloud-init[780]: ${iso} - cc_scripts_user.py[WARNING]: Failed to run module scripts-user (scripts in /var/lib/cloud/instance/scripts)`,
            `cloud-init[780]: ${iso} - util.py[WARNING]: Running module scripts-user (<module 'cloudinit.config.cc_scripts_user'>) failed`,
            `cloud-init[780]: Cloud-init v. 23.4 finished at ${stamp(end)}. Datasource DataSourceEc2Local.  Up ${up(end)} seconds`,
        );
    }
    return lines.join("\n") + "\n";
}
