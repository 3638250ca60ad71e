// SSM parameters of data type `aws:ec2:image`, as Parameter Store documents
// them (moto stores any value at once):
//
// - "If you call PutParameter with aws:ec2:image data type, a successful HTTP
//   200 response does not guarantee that your parameter was successfully
//   created or updated. The aws:ec2:image value is validated asynchronously,
//   and the PutParameter call returns before the validation is complete. If
//   you submit an invalid AMI value, the PutParameter operation will return
//   success, but the asynchronous validation will fail and the parameter will
//   not be created or updated." Validation checks "the parameter value is in
//   the required format, such as ami-12345abcdeEXAMPLE, and that the
//   specified AMI is available in your Amazon Web Services account."
//   (PutParameter, DataType, AWS Systems Manager API Reference,
//   https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html)
//   Here: PutParameter answers success with the next version at once; after
//   `delayMs` the value is checked (format, and an image of that id in the
//   parameter's region whose state is `available`) and only then written to
//   moto. Until then GetParameter answers the old value (or
//   ParameterNotFound); a value that fails leaves the parameter as it was.
// - "You can't change a parameter to or from either of these data types"
//   (`aws:ec2:image`, `aws:ssm:integration`; AWS Systems Manager User Guide,
//   "Parameter data types",
//   https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-ec2-aliases.html).
//   The error code is not documented: ValidationException (SSM's generic
//   refusal, HTTP 400), which a client cannot tell from other bad input by
//   its code, the reading hardest on a client.
//
// Where the documentation is silent, the hardest reading: an image that is
// still `pending`, `failed`, `disabled` or deregistered is not "available";
// PutParameter without DataType means `text` (the documented default), so
// overwriting an `aws:ec2:image` parameter without repeating the data type is
// a change of data type and refused.
import type { Handler } from "./handler";
import { tagText, topLevelItems } from "./ec2-xml";
import { accessKeyOf, ec2Query, ssmError, ssmJson, ssmSuccess } from "./moto-calls";

export interface SsmImageParameterOptions {
    /** Validate `aws:ec2:image` values `delayMs` after PutParameter answered, writing only valid ones; false: moto stores any value at once. */
    validation: { delayMs: number } | false;
    /** Refuse changing a parameter to or from `aws:ec2:image`. */
    refuseDataTypeChange: boolean;
    /**
     * Whether `imageId` is an available image in `region` for the client of
     * `accessKey` (its account: "available in your Amazon Web Services
     * account"; by default: moto's DescribeImages says `available`).
     */
    isAvailable?: (region: string, imageId: string, accessKey?: string) => Promise<boolean>;
}

/** What became of one asynchronously validated PutParameter. */
export interface ValidationOutcome {
    name: string;
    value: string;
    region: string;
    outcome: "written" | "dropped";
    reason?: string;
}

export interface SsmImageParameters {
    /** For ProxyOptions.serviceHandlers. */
    handler: Handler;
    /** The validations done so far, oldest first. */
    outcomes(): ValidationOutcome[];
    /** Resolves once every validation scheduled so far has run. */
    settled(): Promise<void>;
    /** Cancels the validations not yet run. */
    dispose(): void;
}

const IMAGE = "aws:ec2:image";
const INTEGRATION = "aws:ssm:integration";
/** "ami-12345abcdeEXAMPLE": ami- and 8 or 17 hexadecimal digits, as EC2 issues them. */
const AMI_ID = /^ami-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;

interface PutInput {
    Name?: string;
    Value?: string;
    DataType?: string;
    Overwrite?: boolean;
    Tier?: string;
}

export function ssmImageParameters(options: SsmImageParameterOptions): SsmImageParameters {
    const outcomes: ValidationOutcome[] = [];
    const queues = new Map<string, Promise<void>>();
    const timers = new Set<NodeJS.Timeout>();
    let disposed = false;

    const handler: Handler = async (ctx) => {
        if (ctx.action !== "PutParameter" || !String(ctx.req.headers["x-amz-target"] ?? "").startsWith("AmazonSSM.")) return undefined;
        let input: PutInput;
        try {
            input = JSON.parse(ctx.body || "{}") as PutInput;
        } catch {
            return undefined;
        }
        const name = input.Name ?? "";
        const dataType = input.DataType ?? "text";
        const special = (t: string | undefined) => (t === IMAGE || t === INTEGRATION ? t : "text");
        // The parameter, the image and the write are the client's account's (the parameter is in the caller's account).
        const accessKey = accessKeyOf(ctx.req.headers.authorization);
        const current = await ssmJson(ctx.target, ctx.region, "GetParameter", { Name: name }, accessKey);
        const existing = current.ok ? (current.out.Parameter as { DataType?: string; Version?: number } | undefined) : undefined;

        if (existing && input.Overwrite && options.refuseDataTypeChange) {
            const from = special(existing.DataType);
            const to = special(dataType);
            if (from !== to) {
                return ssmError(
                    "ValidationException",
                    `Parameter ${name} has data type ${from}; a parameter can't be changed to or from ${from === "text" ? to : from} (asked: ${dataType}).`,
                );
            }
        }
        const validation = options.validation;
        if (dataType !== IMAGE || !validation) return undefined;
        // What SSM itself refuses at once (ParameterAlreadyExists, bad names, ...): moto answers those.
        if (existing && !input.Overwrite) return undefined;

        const region = ctx.region;
        const target = ctx.target;
        const value = input.Value ?? "";
        const validate = async () => {
            let reason: string | undefined;
            if (!AMI_ID.test(value)) reason = `${value} is not an AMI id (ami- and 8 or 17 hexadecimal digits)`;
            else if (!(await (options.isAvailable ?? ((r, id, key) => availableAtMoto(target, r, id, key)))(region, value, accessKey)))
                reason = `no available image ${value} in ${region}`;
            if (!reason) {
                const put = await ssmJson(target, region, "PutParameter", input, accessKey);
                if (!put.ok) reason = `Parameter Store refused the write: ${put.reply.body.slice(0, 200)}`;
            }
            outcomes.push({ name, value, region, outcome: reason ? "dropped" : "written", ...(reason ? { reason } : {}) });
        };
        const key = `${region}|${name}`;
        const previous = queues.get(key) ?? Promise.resolve();
        const next = previous.then(
            () =>
                new Promise<void>((resolve) => {
                    if (disposed) return resolve();
                    const timer = setTimeout(() => {
                        timers.delete(timer);
                        validate().then(resolve, (e: Error) => {
                            outcomes.push({ name, value, region, outcome: "dropped", reason: e.message });
                            resolve();
                        });
                    }, validation.delayMs);
                    timer.unref();
                    timers.add(timer);
                }),
        );
        queues.set(key, next);
        void next.then(() => {
            if (queues.get(key) === next) queues.delete(key);
        });
        return ssmSuccess({
            Version: (existing?.Version ?? 0) + 1,
            Tier: input.Tier && input.Tier !== "Intelligent-Tiering" ? input.Tier : "Standard",
        });
    };

    return {
        handler,
        outcomes: () => structuredClone(outcomes),
        settled: async () => {
            while (queues.size > 0) await Promise.all([...queues.values()]);
        },
        dispose: () => {
            disposed = true;
            for (const t of timers) clearTimeout(t);
            timers.clear();
            queues.clear();
        },
    };
}

/** Whether moto has an image of this id in the region, in state `available`. */
async function availableAtMoto(target: string, region: string, imageId: string, accessKey?: string): Promise<boolean> {
    const reply = await ec2Query(target, region, "DescribeImages", { "ImageId.1": imageId }, accessKey);
    if (reply.status !== 200) return false;
    const open = reply.body.indexOf("<imagesSet>");
    const close = reply.body.lastIndexOf("</imagesSet>");
    if (open < 0 || close < 0) return false;
    return topLevelItems(reply.body.slice(open + "<imagesSet>".length, close)).some(
        (i) => tagText(i, "imageId") === imageId && tagText(i, "imageState") === "available",
    );
}
