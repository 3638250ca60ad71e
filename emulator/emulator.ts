// The local emulator users run with `npx golden-ami emulator` and the demo
// runs: moto_server on a loopback port and the EC2 proxy in front of it,
// with the EC2 behaviours moto lacks switched on.
import { AMAZON_OWNER_IDS } from "./base-images";
import { API_VERSION } from "./ec2-xml";
import { builderEmulation, type BuilderEmulation } from "./builders";
import { startEc2Proxy, type Ec2Proxy, type ProxyOptions } from "./ec2-proxy";
import { motoEnv, startMoto, type Moto } from "./moto-server";
import { ec2PagingHandler, ssmPagingHandler } from "./paging";
import { kmsKeysHandler } from "./kms-keys";
import { imageUsageReportsHandler, type UsageReportOptions } from "./image-usage-reports";
import { imageReferencesHandler } from "./references";
import { ssmImageParameters, type SsmImageParameters } from "./ssm-image-parameters";
import { tagRulesHandler } from "./tag-rules";
import { unsupportedAsEc2Error } from "./unsupported";

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

/**
 * Items per page of every paged listing the emulator answers: smaller than
 * the test data, so that every listing in the tests crosses a page boundary.
 */
export const DEFAULT_PAGE_SIZE = 5;

/**
 * The strict behaviours outside the image service, each switchable by name
 * (EmulatorOptions.strict, `golden-ami emulator --lenient <name>`). Each
 * module cites the AWS page it follows.
 */
export interface StrictBehaviour {
    /**
     * Paging of DescribeSnapshots, DescribeInstances,
     * DescribeLaunchTemplateVersions and SSM DescribeParameters: MaxResults
     * bounds, NextToken, bad tokens refused, at most `pageSize` items an
     * answer (emulator/paging.ts). false: moto's answers as they are.
     */
    paging: { pageSize: number } | false;
    /** SSM `aws:ec2:image` values validated `delayMs` after PutParameter answered; invalid ones never written (emulator/ssm-image-parameters.ts). */
    ssmImageValidation: { delayMs: number } | false;
    /** SSM refuses changing a parameter to or from `aws:ec2:image`. */
    ssmDataTypeChange: boolean;
    /** `aws:` tag keys, keys over 128 and values over 256 characters, more than 50 tags: refused (emulator/tag-rules.ts). */
    tagRules: boolean;
    /** Malformed organization, OU and account ids in ModifyImageAttribute launch permissions: refused. */
    launchPermissionRules: boolean;
    /** Amazon Linux base images, public and owned by `amazon`, in every region (emulator/base-images.ts). */
    baseImages: boolean;
    /** An action moto cannot answer (HTTP 500 page) answers EC2's HTTP 400 UnsupportedOperation (emulator/unsupported.ts). */
    neverFiveHundred: boolean;
}

/** Everything strict, as EC2 and SSM behave. */
export const STRICT_BEHAVIOUR: StrictBehaviour = {
    paging: { pageSize: DEFAULT_PAGE_SIZE },
    ssmImageValidation: { delayMs: 300 },
    ssmDataTypeChange: true,
    tagRules: true,
    launchPermissionRules: true,
    baseImages: true,
    neverFiveHundred: true,
};

/** The names `--lenient` takes, one per StrictBehaviour switch. */
export const LENIENT_NAMES: Record<string, keyof StrictBehaviour> = {
    paging: "paging",
    "ssm-image-validation": "ssmImageValidation",
    "ssm-data-type-change": "ssmDataTypeChange",
    "tag-rules": "tagRules",
    "launch-permission-rules": "launchPermissionRules",
    "base-images": "baseImages",
    "never-500": "neverFiveHundred",
};

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
    /** Image usage reports: how long one stays pending, which images' reports fail (emulator/image-usage-reports.ts). @default pending 10 s, none fail */
    usageReports?: UsageReportOptions;
    /** AWS_REGION in the printed environment. @default "us-east-1" */
    region?: string;
    /** Progress messages. @default none */
    log?: (msg: string) => void;
    /** Switches strict behaviours off one by one, e.g. `{ paging: false }`; say why where you do. @default STRICT_BEHAVIOUR */
    strict?: Partial<StrictBehaviour>;
}

export interface Emulator {
    /** The endpoint for EC2, SSM and Auto Scaling: `http://127.0.0.1:<port>`. */
    endpoint: string;
    /** The environment a shell or `pulumi` needs to use the emulator. */
    env: Record<string, string>;
    moto: Moto;
    proxy: Ec2Proxy;
    builders: BuilderEmulation;
    /** The asynchronous validation of SSM `aws:ec2:image` values (its outcomes; `settled()` waits for pending ones). */
    ssmImages: SsmImageParameters;
    /** The strict behaviours in force. */
    strict: StrictBehaviour;
    /** Stops the proxy, then moto (by its pid). */
    stop(): Promise<void>;
}

export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
    const seed = options.seed ?? 1;
    const strict: StrictBehaviour = { ...STRICT_BEHAVIOUR, ...options.strict };
    const moto = await startMoto({ log: options.log, baseImages: strict.baseImages });
    const builders = builderEmulation({ seed, builderBootMs: options.builderBootMs });
    let proxy: Ec2Proxy | undefined;
    const ssmImages = ssmImageParameters({
        validation: strict.ssmImageValidation,
        refuseDataTypeChange: strict.ssmDataTypeChange,
        // Images live in the image service's table, not at moto: asked as a client asks (DescribeImages).
        isAvailable: async (region, imageId, accessKey) =>
            proxy ? (await imageStateAt(proxy.endpoint, region, imageId, accessKey)) === "available" : false,
    });
    const paging = strict.paging && { ...strict.paging, privateSnapshotOwners: strict.baseImages ? [...AMAZON_OWNER_IDS] : [] };
    try {
        proxy = await startEc2Proxy({
            target: moto.endpoint,
            seed,
            port: options.port ?? 0,
            ...EMULATED_BEHAVIOUR,
            imageService: { defaultPageSize: strict.paging ? strict.paging.pageSize : 1000 },
            ...(options.eventualConsistency ? EVENTUAL_CONSISTENCY : {}),
            handlers: [
                // First: it notes every request's access key (the accounts a report covers).
                imageUsageReportsHandler({ pageSize: strict.paging ? strict.paging.pageSize : 1000, ...options.usageReports }),
                tagRulesHandler({ tags: strict.tagRules, launchPermissions: strict.launchPermissionRules }),
                ...(paging ? [ec2PagingHandler(paging)] : []),
                imageReferencesHandler({ imageReferences: options.imageReferences }),
                builders.handler,
            ],
            serviceHandlers: [ssmImages.handler, ...(paging ? [ssmPagingHandler(paging)] : []), kmsKeysHandler()],
            ...(strict.neverFiveHundred ? { finalReply: unsupportedAsEc2Error(() => moto.stderr()) } : {}),
        });
    } catch (e) {
        builders.dispose();
        ssmImages.dispose();
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
        ssmImages,
        strict,
        stop: async () => {
            builders.dispose();
            ssmImages.dispose();
            await proxy.stop();
            await moto.stop();
        },
    };
}

/** An image's state as DescribeImages at the emulator's endpoint answers it (undefined when it is not found). */
async function imageStateAt(endpoint: string, region: string, imageId: string, accessKey = "testing"): Promise<string | undefined> {
    const body = new URLSearchParams({ Action: "DescribeImages", Version: API_VERSION, "ImageId.1": imageId }).toString();
    const reply = await fetch(endpoint, {
        method: "POST",
        headers: {
            "content-type": "application/x-www-form-urlencoded",
            // The client's key: the proxy answers in its account (an image of another account is not "available in your account").
            authorization: `AWS4-HMAC-SHA256 Credential=${accessKey}/20260101/${region}/ec2/aws4_request, SignedHeaders=host, Signature=0`,
        },
        body,
    });
    const text = await reply.text();
    return reply.ok ? /<imageState>([^<]*)<\/imageState>/.exec(text)?.[1] : undefined;
}
