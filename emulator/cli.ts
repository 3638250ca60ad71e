#!/usr/bin/env node
// `npx golden-ami emulator`: a local EC2 (moto_server and the golden-ami
// proxy in front of it) to try a stack against, until Ctrl-C.
import { MotoNotFoundError } from "./moto-server";
import { LENIENT_NAMES, startEmulator, type StrictBehaviour } from "./emulator";

const USAGE = `usage: golden-ami emulator [--port N] [--seed N] [--region R] [--eventual-consistency] [--lenient NAME[,NAME]] [--json]

Starts moto_server (pip install 'moto[server]') on a loopback port and the
golden-ami EC2 proxy in front of it, prints the environment to export, and
stays up until Ctrl-C.

  --port N                 loopback port of the endpoint (default: a free one)
  --seed N                 seed of the emulator's random draws (default 1)
  --region R               AWS_REGION to print (default us-east-1)
  --eventual-consistency   emulate EC2's eventual consistency (default off)
  --lenient NAME[,NAME]    switch strict behaviours off (all on by default): ${Object.keys(LENIENT_NAMES).join(", ")}
  --json                   print the environment as one JSON object (for scripts)
`;

interface Flags {
    port?: number;
    seed?: number;
    region?: string;
    eventualConsistency: boolean;
    lenient: Partial<StrictBehaviour>;
    json: boolean;
}

class UsageError extends Error {}

function parse(argv: string[]): Flags {
    const [command, ...rest] = argv;
    if (command !== "emulator") throw new UsageError(command ? `unknown command '${command}'` : "no command given");
    const flags: Flags = { eventualConsistency: false, lenient: {}, json: false };
    const integer = (name: string, value: string | undefined, min: number, max: number): number => {
        const n = Number(value);
        if (value === undefined || !Number.isInteger(n) || n < min || n > max)
            throw new UsageError(`${name} needs an integer from ${min} to ${max}, got '${value ?? ""}'`);
        return n;
    };
    for (let i = 0; i < rest.length; i++) {
        const [name, inline] = rest[i].split("=", 2) as [string, string | undefined];
        const value = () => inline ?? rest[++i];
        switch (name) {
            case "--port":
                flags.port = integer("--port", value(), 1, 65535);
                break;
            case "--seed":
                flags.seed = integer("--seed", value(), 0, 2 ** 32 - 1);
                break;
            case "--region": {
                const r = value();
                if (!r || !/^[a-z]{2}(-[a-z]+)+-\d$/.test(r))
                    throw new UsageError(`--region needs a region name such as us-east-1, got '${r ?? ""}'`);
                flags.region = r;
                break;
            }
            case "--eventual-consistency":
                flags.eventualConsistency = true;
                break;
            case "--lenient":
                for (const name of (value() ?? "").split(",")) {
                    const key = LENIENT_NAMES[name];
                    if (!key) throw new UsageError(`--lenient takes ${Object.keys(LENIENT_NAMES).join(", ")}; got '${name}'`);
                    flags.lenient = { ...flags.lenient, [key]: false };
                }
                break;
            case "--json":
                flags.json = true;
                break;
            case "--help":
            case "-h":
                process.stdout.write(USAGE);
                process.exit(0);
            // falls through (exit does not return)
            default:
                throw new UsageError(`unknown option '${rest[i]}'`);
        }
    }
    return flags;
}

async function main(): Promise<void> {
    let flags: Flags;
    try {
        flags = parse(process.argv.slice(2));
    } catch (e) {
        if (!(e instanceof UsageError)) throw e;
        process.stderr.write(`golden-ami: ${e.message}\n\n${USAGE}`);
        process.exit(2);
    }
    // Everything but the environment goes to stderr, so stdout can be eval'd or parsed.
    const note = (msg: string) => process.stderr.write(`golden-ami emulator: ${msg}\n`);
    let emulator;
    try {
        emulator = await startEmulator({
            port: flags.port,
            seed: flags.seed,
            region: flags.region,
            eventualConsistency: flags.eventualConsistency,
            strict: flags.lenient,
            log: note,
        });
    } catch (e) {
        if (e instanceof MotoNotFoundError) {
            note(e.message);
            process.exit(2);
        }
        note((e as Error).message);
        process.exit(/eventual consistency/.test((e as Error).message) ? 2 : 1);
    }
    if (flags.json) {
        process.stdout.write(`${JSON.stringify(emulator.env)}\n`);
    } else {
        process.stdout.write(
            Object.entries(emulator.env)
                .map(([k, v]) => `export ${k}=${v}`)
                .join("\n") + "\n",
        );
        note(
            `emulating deregistration protection, deprecation, pending images, unique names, CopyImage ClientToken, ` +
                `DescribeImageReferences and build instances; eventual consistency ${flags.eventualConsistency ? "on" : "off"}` +
                `${Object.keys(flags.lenient).length ? `; lenient: ${Object.keys(flags.lenient).join(", ")}` : ""}. Ctrl-C stops it.`,
        );
    }

    let stopping = false;
    const stop = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        note(`${signal}: stopping (moto_server pid ${emulator.moto.pid})`);
        await emulator.stop();
        process.exit(0);
    };
    process.on("SIGINT", () => void stop("SIGINT"));
    process.on("SIGTERM", () => void stop("SIGTERM"));
    void emulator.moto.exited.then(async (code) => {
        if (stopping) return;
        note(`moto_server exited by itself (code ${code}); stopping`);
        await emulator.proxy.stop();
        process.exit(1);
    });
}

main().catch((e) => {
    process.stderr.write(`golden-ami emulator failed: ${(e as Error).stack ?? e}\n`);
    process.exit(1);
});
