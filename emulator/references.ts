// DescribeImageReferences for the emulator, answered from moto's own data
// (moto does not implement the action): instances, launch-template versions
// and SSM parameters that reference the images asked about.
//
// Follows the EC2 API reference:
//   https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeImageReferences.html
//   (ImageId.N: 1 to 10 ids, required; IncludeAllResourceTypes and/or
//   ResourceType.N, one of them required; MaxResults at least 5 (API model);
//   NextToken; answer `imageReferenceSet` of {imageId, resourceType, arn} and `nextToken`)
//   https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ResourceTypeOption.html
//   (state-name for ec2:Instance, default all states, terminated included;
//   version-depth for ec2:LaunchTemplate, 1 to 10000, default 10, counted
//   from the most recent version)
// and the user guide "Identify your resources referencing specified AMIs"
// (ec2-ami-references.html): IncludeAllResourceTypes applies the default
// options; options given with ResourceTypes override them.
//
// Where the documentation is silent, the behaviour hardest on golden-ami:
// - a launch template whose image is `resolve:ssm:<parameter>` is not
//   reported as referencing the image behind the parameter (only the
//   parameter itself is, as ssm:Parameter, and only when asked for);
// - only SSM parameters of DataType `aws:ec2:image` count, not a `text`
//   parameter that happens to hold an AMI id;
// - an unknown image id fails the whole call with InvalidAMIID.NotFound
//   (moto's DescribeImages answer) instead of answering nothing for it;
// - without MaxResults the answer is paged (DEFAULT_PAGE_SIZE items), so a
//   caller that does not follow nextToken misses references.
// Image Builder recipes: moto has no Image Builder, so none are ever found.
import * as http from "node:http";
import type { Handler, HandlerContext, Reply } from "./handler";
import { ec2Error, ec2Success, invalidAction, indexed, itemsOf, textOf, xmlEscape } from "./xml";

export interface ReferencesOptions {
    /**
     * `emulate` answers DescribeImageReferences from moto's data;
     * `unsupported` answers it the way an endpoint without the action does
     * (HTTP 400 `InvalidAction`), to exercise golden-ami's fallback.
     * @default "emulate"
     */
    imageReferences?: "emulate" | "unsupported";
}

const RESOURCE_TYPES = [
    "ec2:Instance",
    "ec2:LaunchTemplate",
    "ssm:Parameter",
    "imagebuilder:ImageRecipe",
    "imagebuilder:ContainerRecipe",
] as const;
type ResourceType = (typeof RESOURCE_TYPES)[number];
const INSTANCE_STATES = ["pending", "running", "shutting-down", "terminated", "stopping", "stopped"];
const DEFAULT_VERSION_DEPTH = 10;
const MAX_VERSION_DEPTH = 10_000;
const MAX_IMAGE_IDS = 10;
const MIN_MAX_RESULTS = 5;
/** Items per page when the request has no MaxResults (the documentation gives none). */
export const DEFAULT_PAGE_SIZE = 10;

interface Scope {
    instanceStates: string[];
    versionDepth: number;
}

interface ImageReference {
    imageId: string;
    resourceType: ResourceType;
    arn: string;
}

class BadRequest extends Error {
    constructor(
        readonly code: string,
        message: string,
    ) {
        super(message);
    }
}

/** The handler for the proxy's `handlers` option. */
export function imageReferencesHandler(options: ReferencesOptions = {}): Handler {
    const mode = options.imageReferences ?? "emulate";
    return async (ctx) => {
        if (ctx.service !== undefined && ctx.service !== "ec2") return undefined;
        if (ctx.action !== "DescribeImageReferences") return undefined;
        if (mode === "unsupported") return invalidAction(ctx.action);
        try {
            return await describeImageReferences(ctx);
        } catch (e) {
            if (e instanceof BadRequest) return ec2Error(400, e.code, e.message);
            if (e instanceof MotoRefused) return e.reply;
            throw e;
        }
    };
}

/** Parses the request: the image ids, the resource types asked for and their options. */
function parseRequest(params: URLSearchParams): { imageIds: string[]; types: Map<ResourceType, Scope>; maxResults?: number } {
    const imageIds = indexed(params, /^ImageId\.(\d+)$/).map(([, v]) => v);
    if (imageIds.length === 0) throw new BadRequest("MissingParameter", "The request must contain the parameter ImageId");
    if (imageIds.length > MAX_IMAGE_IDS)
        throw new BadRequest("InvalidParameterValue", `ImageId: at most ${MAX_IMAGE_IDS} image ids per request, got ${imageIds.length}`);
    for (const id of imageIds) {
        if (!/^ami-[0-9a-f]{8,17}$/.test(id)) throw new BadRequest("InvalidAMIID.Malformed", `Invalid id: "${id}" (expecting "ami-...")`);
    }

    const defaults = (): Scope => ({ instanceStates: INSTANCE_STATES, versionDepth: DEFAULT_VERSION_DEPTH });
    const types = new Map<ResourceType, Scope>();
    if (params.get("IncludeAllResourceTypes") === "true") for (const t of RESOURCE_TYPES) types.set(t, defaults());
    for (const [n, type] of indexed(params, /^ResourceType\.(\d+)\.ResourceType$/)) {
        if (!(RESOURCE_TYPES as readonly string[]).includes(type)) {
            throw new BadRequest("InvalidParameterValue", `ResourceType: '${type}' is not one of ${RESOURCE_TYPES.join(", ")}`);
        }
        const scope = types.get(type as ResourceType) ?? defaults();
        const optionNames = indexed(params, new RegExp(`^ResourceType\\.${n}\\.ResourceTypeOption\\.(\\d+)\\.OptionName$`));
        for (const [m, name] of optionNames) {
            const values = indexed(params, new RegExp(`^ResourceType\\.${n}\\.ResourceTypeOption\\.${m}\\.OptionValue\\.(\\d+)$`)).map(
                ([, v]) => v,
            );
            if (name === "state-name" && type === "ec2:Instance") {
                const bad = values.find((v) => !INSTANCE_STATES.includes(v));
                if (bad !== undefined || values.length === 0) {
                    throw new BadRequest("InvalidParameterValue", `state-name: '${bad ?? ""}' is not one of ${INSTANCE_STATES.join(", ")}`);
                }
                scope.instanceStates = values;
            } else if (name === "version-depth" && type === "ec2:LaunchTemplate") {
                const depth = Number(values[0]);
                if (values.length !== 1 || !Number.isInteger(depth) || depth < 1 || depth > MAX_VERSION_DEPTH) {
                    throw new BadRequest(
                        "InvalidParameterValue",
                        `version-depth: '${values.join(",")}' is not an integer from 1 to ${MAX_VERSION_DEPTH}`,
                    );
                }
                scope.versionDepth = depth;
            } else {
                throw new BadRequest("InvalidParameterValue", `ResourceTypeOption '${name}' is not valid for resource type ${type}`);
            }
        }
        types.set(type as ResourceType, scope);
    }
    if (types.size === 0) {
        // The reference says one of the two must be given; the error code is an assumption.
        throw new BadRequest("MissingParameter", "Either IncludeAllResourceTypes or ResourceTypes must be specified");
    }

    let maxResults: number | undefined;
    if (params.has("MaxResults")) {
        maxResults = Number(params.get("MaxResults"));
        if (!Number.isInteger(maxResults) || maxResults < MIN_MAX_RESULTS) {
            throw new BadRequest(
                "InvalidParameterValue",
                `MaxResults: '${params.get("MaxResults")}' must be an integer of at least ${MIN_MAX_RESULTS}`,
            );
        }
    }
    return { imageIds, types, maxResults };
}

async function describeImageReferences(ctx: HandlerContext): Promise<Reply> {
    const { imageIds, types, maxResults } = parseRequest(ctx.params);
    let offset = 0;
    const token = ctx.params.get("NextToken");
    if (token) {
        const at = decodeToken(token);
        if (at === undefined) throw new BadRequest("InvalidNextToken", `The token '${token}' is invalid`);
        offset = at;
    }

    // Unknown image ids: moto's DescribeImages refuses them (InvalidAMIID.NotFound), and so does this call.
    const params: Record<string, string> = {};
    imageIds.forEach((id, i) => (params[`ImageId.${i + 1}`] = id));
    await query(ctx, "DescribeImages", params);

    const wanted = new Set(imageIds);
    const found: ImageReference[] = [];
    const instances = types.get("ec2:Instance");
    if (instances) found.push(...(await instanceReferences(ctx, imageIds, instances.instanceStates)));
    const templates = types.get("ec2:LaunchTemplate");
    if (templates) found.push(...(await launchTemplateReferences(ctx, wanted, templates.versionDepth)));
    if (types.has("ssm:Parameter")) found.push(...(await parameterReferences(ctx, wanted)));

    // A stable order, so that pages do not overlap or skip while nothing changes.
    const order = (r: ImageReference) => [imageIds.indexOf(r.imageId), RESOURCE_TYPES.indexOf(r.resourceType)];
    found.sort((a, b) => {
        const [ai, at] = order(a);
        const [bi, bt] = order(b);
        return ai - bi || at - bt || a.arn.localeCompare(b.arn);
    });
    const limit = maxResults ?? DEFAULT_PAGE_SIZE;
    const page = found.slice(offset, offset + limit);
    const next = offset + limit < found.length ? `<nextToken>${encodeToken(offset + limit)}</nextToken>` : "";
    const items = page
        .map(
            (r) =>
                `<item><imageId>${r.imageId}</imageId><resourceType>${r.resourceType}</resourceType><arn>${xmlEscape(r.arn)}</arn></item>`,
        )
        .join("");
    return ec2Success("DescribeImageReferences", `<imageReferenceSet>${items}</imageReferenceSet>${next}`);
}

async function instanceReferences(ctx: HandlerContext, imageIds: string[], states: string[]): Promise<ImageReference[]> {
    const params: Record<string, string> = { "Filter.1.Name": "image-id", "Filter.2.Name": "instance-state-name" };
    imageIds.forEach((id, i) => (params[`Filter.1.Value.${i + 1}`] = id));
    states.forEach((s, i) => (params[`Filter.2.Value.${i + 1}`] = s));
    const refs: ImageReference[] = [];
    for (const reservation of await paged(ctx, "DescribeInstances", params, "reservationSet")) {
        const owner = textOf(reservation, "ownerId") ?? "";
        for (const instance of itemsOf(reservation, "instancesSet")) {
            const imageId = textOf(instance, "imageId") ?? "";
            const state = /<instanceState>[\s\S]*?<name>([^<]*)<\/name>/.exec(instance)?.[1] ?? "";
            // moto's filters are applied again here: the answer must not depend on moto honouring them.
            if (!imageIds.includes(imageId) || !states.includes(state)) continue;
            refs.push({
                imageId,
                resourceType: "ec2:Instance",
                arn: `arn:aws:ec2:${ctx.region}:${owner}:instance/${textOf(instance, "instanceId")}`,
            });
        }
    }
    return refs;
}

async function launchTemplateReferences(ctx: HandlerContext, wanted: Set<string>, depth: number): Promise<ImageReference[]> {
    const refs: ImageReference[] = [];
    for (const template of await paged(ctx, "DescribeLaunchTemplates", {}, "launchTemplates")) {
        const id = textOf(template, "launchTemplateId") ?? "";
        const account = /arn:aws:iam::(\d+):/.exec(textOf(template, "createdBy") ?? "")?.[1] ?? "";
        const versions = (await paged(ctx, "DescribeLaunchTemplateVersions", { LaunchTemplateId: id }, "launchTemplateVersionSet"))
            .map((v) => ({ number: Number(textOf(v, "versionNumber")), imageId: textOf(v, "imageId") }))
            .sort((a, b) => b.number - a.number)
            .slice(0, depth);
        // One reference per template and image, whichever of its recent versions name it.
        for (const imageId of new Set(versions.map((v) => v.imageId))) {
            if (imageId && wanted.has(imageId)) {
                refs.push({
                    imageId,
                    resourceType: "ec2:LaunchTemplate",
                    arn: `arn:aws:ec2:${ctx.region}:${account}:launch-template/${id}`,
                });
            }
        }
    }
    return refs;
}

async function parameterReferences(ctx: HandlerContext, wanted: Set<string>): Promise<ImageReference[]> {
    const names: string[] = [];
    let nextToken: string | undefined;
    do {
        const out = (await ssm(ctx, "DescribeParameters", { MaxResults: 50, ...(nextToken ? { NextToken: nextToken } : {}) })) as {
            Parameters?: { Name: string; DataType?: string }[];
            NextToken?: string;
        };
        for (const p of out.Parameters ?? []) if (p.DataType === "aws:ec2:image") names.push(p.Name);
        nextToken = out.NextToken;
    } while (nextToken);
    const refs: ImageReference[] = [];
    for (let i = 0; i < names.length; i += 10) {
        const out = (await ssm(ctx, "GetParameters", { Names: names.slice(i, i + 10) })) as {
            Parameters?: { Name: string; Value: string; ARN?: string }[];
        };
        for (const p of out.Parameters ?? []) {
            if (!wanted.has(p.Value)) continue;
            refs.push({
                imageId: p.Value,
                resourceType: "ssm:Parameter",
                arn: p.ARN ?? `arn:aws:ssm:${ctx.region}:123456789012:parameter/${p.Name.replace(/^\//, "")}`,
            });
        }
    }
    return refs;
}

// ---- talking to moto -----------------------------------------------------------

class MotoRefused extends Error {
    constructor(readonly reply: Reply) {
        super(`moto answered ${reply.status}`);
    }
}

/** One EC2 Query call at moto; a refusal is passed on to the client as it is. */
async function query(ctx: HandlerContext, action: string, params: Record<string, string>): Promise<string> {
    // ctx.moto: image actions reach the emulator's image service when it is on, the rest moto.
    const reply = await ctx.moto(action, params);
    if (reply.status !== 200) throw new MotoRefused(reply);
    return reply.body;
}

/** Every top-level item of `set` over all of moto's pages. */
async function paged(ctx: HandlerContext, action: string, params: Record<string, string>, set: string): Promise<string[]> {
    const items: string[] = [];
    let token: string | undefined;
    do {
        const body = await query(ctx, action, token ? { ...params, NextToken: token } : params);
        items.push(...itemsOf(body, set));
        token = /<nextToken>([^<]+)<\/nextToken>/.exec(body.slice(body.lastIndexOf(`</${set}>`)))?.[1];
    } while (token);
    return items;
}

/** One SSM call at moto, which serves SSM's JSON protocol on the same port (service picked by X-Amz-Target). */
function ssm(ctx: HandlerContext, operation: string, input: object): Promise<unknown> {
    const target = new URL(ctx.target);
    const body = JSON.stringify(input);
    const headers = {
        "content-type": "application/x-amz-json-1.1",
        "x-amz-target": `AmazonSSM.${operation}`,
        // moto checks no signature; it reads the region from the credential scope.
        authorization: `AWS4-HMAC-SHA256 Credential=testing/20260101/${ctx.region}/ssm/aws4_request, SignedHeaders=host;x-amz-target, Signature=0`,
        "content-length": Buffer.byteLength(body),
    };
    return new Promise((resolve, reject) => {
        const req = http.request({ host: target.hostname, port: target.port, method: "POST", path: "/", headers }, (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("error", reject);
            res.on("end", () => {
                const text = Buffer.concat(chunks).toString("utf8");
                if (res.statusCode !== 200) {
                    // Without its parameters the answer would be silently incomplete: refuse as EC2 does when a dependency fails.
                    reject(
                        new MotoRefused(ec2Error(500, "InternalError", `SSM ${operation} at the emulator failed: ${text.slice(0, 300)}`)),
                    );
                    return;
                }
                resolve(JSON.parse(text || "{}"));
            });
        });
        req.on("error", reject);
        req.end(body);
    });
}

// ---- helpers ---------------------------------------------------------------------

function encodeToken(offset: number): string {
    return Buffer.from(`golden-ami-refs:${offset}`).toString("base64url");
}

function decodeToken(token: string): number | undefined {
    const m = /^golden-ami-refs:(\d+)$/.exec(Buffer.from(token, "base64url").toString());
    return m ? Number(m[1]) : undefined;
}
