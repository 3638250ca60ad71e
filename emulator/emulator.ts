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
 * once, the `block-device-mapping.snapshot-id` filter, protection's 24-hour
 * cooldown, CopyImage's ClientToken with `IdempotentParameterMismatch`,
 * CreateImage's block-device rules, `DeleteAssociatedSnapshots` and request
 * validation against the EC2 API model. Faults and throttling are off.
 */
export const EMULATED_BEHAVIOUR: Omit<ProxyOptions, "target"> = {
    deregistrationProtection: true,
    protectionCooldown: true,
    idempotentParameterMismatch: true,
    createImageBlockDeviceRules: true,
    deleteAssociatedSnapshots: true,
    validation: true,
    deprecation: true,
    snapshotIdFilter: true,
    duplicateNames: true,
    pendingPolls: 2,
    snapshotInUseCalls: 1,
    faultRate: 0,
    imageService: true,
};

/**
 * The proxy options that switch eventual consistency on: a new image is not
 * found for up to two describes, a tag or attribute change shows its old
 * value for up to two. Off is the default, so that a first try of a stack
 * here is not slowed by it; real EC2 behaves this way.
 */
export const EVENTUAL_CONSISTENCY: Omit<ProxyOptions, "target"> = { eventualConsistency: { notFoundReads: 2, staleReads: 2 } };

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
