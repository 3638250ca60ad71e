// The local emulator users run with `npx golden-ami emulator` and the demo
// runs: moto_server on a loopback port and the EC2 proxy in front of it,
// with the EC2 behaviours moto lacks switched on.
import { builderEmulation, type BuilderEmulation } from "./builders";
import { startEc2Proxy, type Ec2Proxy, type ProxyOptions } from "./ec2-proxy";
import { motoEnv, startMoto, type Moto } from "./moto";
import { imageReferencesHandler } from "./references";

/**
 * What the emulator switches on, as real EC2 behaves: deregistration
 * protection, deprecation, images that are `pending` for a few describes,
 * unique image names, the snapshot of a just-deregistered image still in use
 * once, the `block-device-mapping.snapshot-id` filter. CopyImage's
 * ClientToken is always honoured. Faults are off.
 */
export const EMULATED_BEHAVIOUR: Omit<ProxyOptions, "target"> = {
    deregistrationProtection: true,
    deprecation: true,
    snapshotIdFilter: true,
    duplicateNames: true,
    pendingPolls: 2,
    snapshotInUseCalls: 1,
    faultRate: 0,
};

/**
 * The proxy options that switch eventual consistency on, or undefined while
 * the proxy has none. Off is the default: a stack that works against real
 * EC2 should also see its describes answer at once here.
 */
export const EVENTUAL_CONSISTENCY: Omit<ProxyOptions, "target"> | undefined = undefined;

export interface EmulatorOptions {
    /** Loopback port of the endpoint users talk to (the proxy). @default a free port */
    port?: number;
    /** Seed of every PRNG in the emulator (faults, build-instance delays): the same seed replays the same run. @default 1 */
    seed?: number;
    /** Emulate EC2's eventual consistency (describes that lag behind changes). @default false */
    eventualConsistency?: boolean;
    /** Median time a build instance whose user data powers off takes to stop, in milliseconds. @default 2000 */
    builderBootMs?: number;
    /** Answer DescribeImageReferences (`emulate`) or refuse it as an endpoint without it does (`unsupported`). @default "emulate" */
    imageReferences?: "emulate" | "unsupported";
    /** AWS_REGION in the printed environment. @default "us-east-1" */
    region?: string;
    /** Progress messages. @default none */
    log?: (msg: string) => void;
}

export interface Emulator {
    /** The endpoint for EC2, SSM and Auto Scaling: `http://127.0.0.1:<port>`. */
    endpoint: string;
    /** The environment a shell or `pulumi` needs to use the emulator. */
    env: Record<string, string>;
    moto: Moto;
    proxy: Ec2Proxy;
    builders: BuilderEmulation;
    /** Stops the proxy, then moto (by its pid). */
    stop(): Promise<void>;
}

export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
    if (options.eventualConsistency && !EVENTUAL_CONSISTENCY) {
        throw new Error("eventual consistency is not emulated by this version of the proxy; run without --eventual-consistency");
    }
    const seed = options.seed ?? 1;
    const moto = await startMoto({ log: options.log });
    const builders = builderEmulation({ seed, builderBootMs: options.builderBootMs });
    let proxy: Ec2Proxy;
    try {
        proxy = await startEc2Proxy({
            target: moto.endpoint,
            seed,
            port: options.port ?? 0,
            ...EMULATED_BEHAVIOUR,
            ...(options.eventualConsistency ? EVENTUAL_CONSISTENCY : {}),
            handlers: [imageReferencesHandler({ imageReferences: options.imageReferences }), builders.handler],
        });
    } catch (e) {
        builders.dispose();
        await moto.stop();
        throw e;
    }
    options.log?.(`EC2 emulator proxy listening on ${proxy.endpoint} in front of moto`);
    return {
        endpoint: proxy.endpoint,
        env: motoEnv(proxy.endpoint, options.region ?? "us-east-1"),
        moto,
        proxy,
        builders,
        stop: async () => {
            builders.dispose();
            await proxy.stop();
            await moto.stop();
        },
    };
}
