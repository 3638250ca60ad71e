import {
    paginateDescribeAutoScalingGroups,
    paginateDescribeLaunchConfigurations,
    type AutoScalingClient,
    type LaunchTemplateSpecification as AsgTemplateSpec,
} from "@aws-sdk/client-auto-scaling";
import {
    DescribeImageReferencesCommand,
    paginateDescribeFleets,
    paginateDescribeInstances,
    paginateDescribeLaunchTemplates,
    paginateDescribeLaunchTemplateVersions,
    paginateDescribeSpotFleetRequests,
    type DescribeImageReferencesCommandOutput,
    type EC2Client,
    type Instance,
    type LaunchTemplateVersion,
    type ResourceTypeRequest,
} from "@aws-sdk/client-ec2";
import { GetParametersCommand, paginateDescribeParameters, type SSMClient } from "@aws-sdk/client-ssm";
import type { ImageReference, LaunchTemplateVersionRule } from "../../sdk/retention-plan";
import { autoScalingClient, ssmClient } from "./client";
import {
    ACCESS_DENIED_CODES,
    ACTION_UNSUPPORTED_CODES,
    LAUNCH_TEMPLATE_VERSION_NOT_FOUND,
    NOT_FOUND_CODES,
    SSM_VALIDATION,
    THROTTLING_CODES,
} from "./error-codes";
import { errorCode, hasCode, isNotFoundCode } from "./errors";

/**
 * Which images something refers to, for AmiRetentionPolicy: EC2's own
 * reference check (DescribeImageReferences) first, what no reference API
 * covers always, and where the endpoint lacks the check, the same sources
 * enumerated directly. Never "unused" for a source that could not be read.
 *
 * 1. DescribeImageReferences for the candidate images (10 ids a call, every
 *    page): instances that are not terminated, `ssm:Parameter`, Image
 *    Builder image and container recipes. Launch templates are no
 *    references there: it would count every version (version-depth), the
 *    enumeration another set, and the same account would get two plans.
 *    With the "in-use" rule they are asked at every version only to say
 *    which images the rule lets go although an old version names them
 *    (the log line of {@link describeLetGo}, shown by preview).
 * 2. Always, one rule for launch templates whichever source answered the
 *    rest (`launchTemplateVersions`): with `"in-use"` (the default) the
 *    versions something launches from (pinned by Auto Scaling groups, their
 *    MixedInstancesPolicy and its overrides, EC2 Fleets and Spot Fleets,
 *    named by live instances' `aws:ec2launchtemplate:*` tags, plus every
 *    template's `$Default` and `$Latest`); with `"all"` every
 *    version of every template. Each version's ImageId or `resolve:ssm:`
 *    parameter is resolved with SSM. And launch configurations (Auto
 *    Scaling API; no reference API covers them).
 * 3. When the endpoint does not offer DescribeImageReferences (an emulator,
 *    a partition without it: `InvalidAction`, `UnknownOperation`,
 *    `UnsupportedOperation`, or an HTTP 500 page that is no AWS error at all,
 *    moto's answer to an action it has not implemented), also: instances that
 *    are not terminated, and SSM parameters of data type `aws:ec2:image`.
 *
 * A source that cannot be read (access denied, throttled past the retries,
 * any other failure) throws {@link UnreadableReferenceSourceError}, naming
 * the action and the IAM permission: the plan stops.
 */

/** A source of references could not be read: the plan must stop, never count the images as unused. */
export class UnreadableReferenceSourceError extends Error {
    readonly code: string | undefined;
    constructor(
        readonly action: string,
        readonly permission: string,
        cause: unknown,
    ) {
        const code = errorCode(cause);
        const why = hasCode(cause, ...ACCESS_DENIED_CODES)
            ? `access denied: grant ${permission} (see the minimal IAM policy in the README)`
            : hasCode(cause, ...THROTTLING_CODES)
              ? `throttled past the retry budget: run again later (every tool in the account and region shares AWS's request buckets)`
              : `the images it refers to would count as unused; fix the cause (${permission} is needed) and run again`;
        super(`finding images in use: ${action} failed (${code ?? (cause as Error)?.message ?? String(cause)}): ${why}`, { cause });
        this.name = "UnreadableReferenceSourceError";
        this.code = code;
    }
}

/** Runs one read of a source; any failure becomes an UnreadableReferenceSourceError naming the action and permission. */
async function reading<T>(action: string, permission: string, read: () => Promise<T>): Promise<T> {
    try {
        return await read();
    } catch (e) {
        if (e instanceof UnreadableReferenceSourceError) throw e;
        throw new UnreadableReferenceSourceError(action, permission, e);
    }
}

/**
 * Like {@link reading}, for a kind of resource the endpoint may not offer at
 * all (fleets at an emulator): an answer by code that the action does not
 * exist (InvalidAction, UnsupportedOperation, ...) means no such resource
 * can exist there, so none refers to an image; said once in the log. Any
 * other failure, an unexplained HTTP 500 included, stops the plan.
 */
async function readingUnlessAbsent(action: string, permission: string, read: () => Promise<void>): Promise<void> {
    try {
        await read();
    } catch (e) {
        if (!hasCode(e, ...ACTION_UNSUPPORTED_CODES)) throw new UnreadableReferenceSourceError(action, permission, e);
        if (!absentSaid.has(action)) {
            absentSaid.add(action);
            console.log(
                `finding images in use: the endpoint does not offer ${action} (${errorCode(e)}): nothing of that kind can refer to an image there`,
            );
        }
    }
}
const absentSaid = new Set<string>();

/** The endpoint does not offer the action at all (by code). */
export function isActionUnsupported(e: unknown): boolean {
    return hasCode(e, ...ACTION_UNSUPPORTED_CODES) || e instanceof EndpointLacksActionError;
}

/**
 * An HTTP 500 whose body is not an AWS error (an HTML page, no error code):
 * AWS always answers in its protocol with a code, so this is a server that
 * does not speak the action (moto's answer to an action it has not
 * implemented). Raised without HTTP metadata, so the SDK does not spend its
 * retry budget on it.
 */
export class EndpointLacksActionError extends Error {
    constructor(readonly action: string) {
        super(`the endpoint answered ${action} with an HTTP 500 page that is not an AWS error: it does not implement the action`);
        this.name = "EndpointLacksActionError";
    }
}

/** Per-command middleware: an HTML 500 becomes an EndpointLacksActionError before the deserializer and the retries see it. */
function failFastOnNonAwsAnswer<C extends { middlewareStack: { add: (...a: never[]) => unknown } }>(command: C, action: string): C {
    type Raw = { response?: { statusCode?: number; headers?: Record<string, string>; body?: { destroy?: () => void } } };
    const middleware =
        (next: (args: unknown) => Promise<Raw>) =>
        async (args: unknown): Promise<Raw> => {
            const out = await next(args);
            const r = out.response;
            const type = r?.headers?.["content-type"] ?? r?.headers?.["Content-Type"] ?? "";
            if (r?.statusCode === 500 && /text\/html/i.test(type)) {
                r.body?.destroy?.();
                throw new EndpointLacksActionError(action);
            }
            return out;
        };
    (command.middlewareStack.add as (m: unknown, o: unknown) => void)(middleware, {
        step: "deserialize",
        priority: "low",
        name: "goldenAmiEndpointLacksAction",
    });
    return command;
}

/** The references found so far, by image id. */
export class ReferenceMap extends Map<string, ImageReference[]> {
    add(imageId: string | undefined, ref: ImageReference): void {
        if (!imageId || !imageId.startsWith("ami-")) return;
        const list = this.get(imageId) ?? [];
        if (!list.some((r) => r.kind === ref.kind && r.id === ref.id && r.detail === ref.detail)) list.push(ref);
        this.set(imageId, list);
    }
}

/** Ids a call takes at once (DescribeImageReferences: ImageId.N, 1 to 10). */
const REFERENCE_IDS_PER_CALL = 10;
const LIVE_INSTANCE_STATES = ["pending", "running", "shutting-down", "stopping", "stopped"];

const RESOURCE_KIND: Record<string, string> = {
    "ec2:Instance": "instance",
    "ec2:LaunchTemplate": "launch-template",
    "ssm:Parameter": "ssm-parameter",
    "imagebuilder:ImageRecipe": "image-recipe",
    "imagebuilder:ContainerRecipe": "container-recipe",
};

/** `arn:aws:ec2:r:a:instance/i-1` → `i-1`; `arn:aws:ssm:r:a:parameter/golden/web` → `/golden/web`. */
function idFromArn(resourceType: string, arn: string): string {
    const resource = arn.split(":").slice(5).join(":");
    if (resourceType === "ssm:Parameter") return resource.startsWith("parameter/") ? `/${resource.slice("parameter/".length)}` : resource;
    const slash = resource.indexOf("/");
    return slash < 0 ? arn : resource.slice(slash + 1);
}

/**
 * DescribeImageReferences for these images, every page. Returns false when
 * the endpoint does not offer the action (the caller enumerates instead).
 */
export async function describeImageReferences(
    client: EC2Client,
    imageIds: string[],
    refs: ReferenceMap,
    named?: TemplatesNaming,
): Promise<boolean> {
    const ids = [...new Set(imageIds)];
    for (let i = 0; i < ids.length; i += REFERENCE_IDS_PER_CALL) {
        const chunk = ids.slice(i, i + REFERENCE_IDS_PER_CALL);
        try {
            await referencesOf(client, chunk, refs, named);
        } catch (e) {
            if (isActionUnsupported(e)) return false;
            // One unknown id fails the call: an image gone since the listing needs no references; ask one by one.
            if (!isNotFoundCode(e, "image"))
                throw new UnreadableReferenceSourceError("DescribeImageReferences", "ec2:DescribeImageReferences", e);
            for (const id of chunk) {
                try {
                    await referencesOf(client, [id], refs, named);
                } catch (err) {
                    if (isNotFoundCode(err, "image")) continue;
                    if (isActionUnsupported(err)) return false;
                    throw new UnreadableReferenceSourceError("DescribeImageReferences", "ec2:DescribeImageReferences", err);
                }
            }
        }
    }
    return true;
}

/**
 * Templates with any version that names an image (DescribeImageReferences'
 * ec2:LaunchTemplate at full version-depth), by image id: not references
 * (the launch-template rule decides those), only to say which images the
 * rule lets go although a version nothing launches from still names them.
 */
export type TemplatesNaming = Map<string, Set<string>>;

/** ec2:LaunchTemplate at DescribeImageReferences' largest version-depth (ResourceTypeOption): every version of a template. */
const EVERY_TEMPLATE_VERSION: ResourceTypeRequest = {
    ResourceType: "ec2:LaunchTemplate",
    ResourceTypeOptions: [{ OptionName: "version-depth", OptionValues: ["10000"] }],
};

async function referencesOf(client: EC2Client, imageIds: string[], refs: ReferenceMap, named?: TemplatesNaming): Promise<void> {
    let token: string | undefined;
    do {
        const command = new DescribeImageReferencesCommand({
            ImageIds: imageIds,
            ResourceTypes: [
                { ResourceType: "ec2:Instance", ResourceTypeOptions: [{ OptionName: "state-name", OptionValues: LIVE_INSTANCE_STATES }] },
                // Launch templates are counted by one rule for every endpoint (launchTemplateReferences); asked
                // here at every version only to name what that rule lets go (TemplatesNaming).
                ...(named ? [EVERY_TEMPLATE_VERSION] : []),
                { ResourceType: "ssm:Parameter" },
                { ResourceType: "imagebuilder:ImageRecipe" },
                { ResourceType: "imagebuilder:ContainerRecipe" },
            ],
            ...(token ? { NextToken: token } : {}),
        });
        // Not the SDK paginator: this command needs the fail-fast middleware on every page.
        const page: DescribeImageReferencesCommandOutput | undefined = await client.send(
            failFastOnNonAwsAnswer(command, "DescribeImageReferences"),
        );
        for (const r of page?.ImageReferences ?? []) {
            const type = r.ResourceType ?? "";
            // Not a reference: launch templates are counted by one rule for every endpoint.
            if (type === "ec2:LaunchTemplate") {
                if (named && r.ImageId) named.set(r.ImageId, (named.get(r.ImageId) ?? new Set()).add(idFromArn(type, r.Arn ?? "")));
                continue;
            }
            const kind = RESOURCE_KIND[type] ?? type;
            refs.add(r.ImageId, { kind, id: idFromArn(type, r.Arn ?? ""), detail: "DescribeImageReferences" });
        }
        token = page?.NextToken;
    } while (token);
}

/** Instances that are not terminated (fallback for DescribeImageReferences' ec2:Instance). */
export async function instanceReferences(client: EC2Client, refs: ReferenceMap, templateUses: TemplateUse[] = []): Promise<void> {
    await reading("DescribeInstances", "ec2:DescribeInstances", async () => {
        const pages = paginateDescribeInstances(
            { client, pageSize: 1000 },
            { Filters: [{ Name: "instance-state-name", Values: LIVE_INSTANCE_STATES }] },
        );
        for await (const page of pages) {
            for (const r of page?.Reservations ?? []) {
                for (const i of r.Instances ?? []) {
                    refs.add(i.ImageId, { kind: "instance", id: i.InstanceId ?? "?", detail: i.State?.Name });
                    const use = instanceTemplateUse(i);
                    if (use) templateUses.push(use);
                }
            }
        }
    });
}

/** Launch configurations: always, since no reference API covers them. */
export async function launchConfigurationReferences(
    asg: AutoScalingClient,
    refs: ReferenceMap,
    usedBy: Map<string, string[]>,
): Promise<void> {
    await reading("DescribeLaunchConfigurations", "autoscaling:DescribeLaunchConfigurations", async () => {
        for await (const page of paginateDescribeLaunchConfigurations({ client: asg, pageSize: 100 }, {})) {
            for (const lc of page.LaunchConfigurations ?? []) {
                const name = lc.LaunchConfigurationName ?? "?";
                const groups = usedBy.get(name) ?? [];
                refs.add(lc.ImageId, {
                    kind: "launch-configuration",
                    id: name,
                    detail: groups.length ? `of Auto Scaling group ${groups.join(", ")}` : "used by no Auto Scaling group now",
                });
            }
        }
    });
}

/** A launch template as an Auto Scaling group, a fleet or a Spot Fleet names it. */
interface TemplateUse {
    id?: string;
    name?: string;
    version: string;
    by: string;
}

/**
 * The template a launch-template specification names, as `by` launches it;
 * undefined when it names none. An unset version is the template's $Default
 * (Auto Scaling, EC2 Fleet and Spot Fleet all default to it).
 */
function templateUse(
    spec: { LaunchTemplateId?: string; LaunchTemplateName?: string; Version?: string } | undefined,
    by: string,
): TemplateUse | undefined {
    if (!spec || (!spec.LaunchTemplateId && !spec.LaunchTemplateName)) return undefined;
    return { id: spec.LaunchTemplateId, name: spec.LaunchTemplateName, version: spec.Version ?? "$Default", by };
}

/** What Auto Scaling groups launch from: launch-template versions (also MixedInstancesPolicy's and its overrides'), and launch configurations by name. */
async function autoScalingUses(asg: AutoScalingClient): Promise<{ templates: TemplateUse[]; configurations: Map<string, string[]> }> {
    const templates: TemplateUse[] = [];
    const configurations = new Map<string, string[]>();
    await reading("DescribeAutoScalingGroups", "autoscaling:DescribeAutoScalingGroups", async () => {
        for await (const page of paginateDescribeAutoScalingGroups({ client: asg, pageSize: 100 }, {})) {
            for (const g of page.AutoScalingGroups ?? []) {
                const group = g.AutoScalingGroupName ?? "?";
                const use = (spec: AsgTemplateSpec | undefined, how: string) => {
                    const t = templateUse(spec, `${how}Auto Scaling group ${group}`);
                    if (t) templates.push(t);
                };
                use(g.LaunchTemplate, "");
                const mixed = g.MixedInstancesPolicy?.LaunchTemplate;
                use(mixed?.LaunchTemplateSpecification, "the mixed instances policy of ");
                for (const o of mixed?.Overrides ?? [])
                    use(o.LaunchTemplateSpecification, `an override (${o.InstanceType ?? "instance requirements"}) of `);
                if (g.LaunchConfigurationName)
                    configurations.set(g.LaunchConfigurationName, [...(configurations.get(g.LaunchConfigurationName) ?? []), group]);
            }
        }
    });
    return { templates, configurations };
}

/** EC2 Fleets and Spot Fleets still active: their launch-template versions, and images named directly in overrides or launch specifications. */
async function fleetUses(client: EC2Client, refs: ReferenceMap, viaSsm: Map<string, ImageReference[]>): Promise<TemplateUse[]> {
    const templates: TemplateUse[] = [];
    const direct = (imageId: string | undefined, ref: ImageReference) => {
        if (!imageId) return;
        const parameter = ssmParameterOf(imageId);
        if (parameter) viaSsm.set(parameter, [...(viaSsm.get(parameter) ?? []), ref]);
        else refs.add(imageId, ref);
    };
    const done = (state: string | undefined) =>
        !!state && (state.startsWith("deleted") || state.startsWith("cancelled") || state === "failed");
    await readingUnlessAbsent("DescribeFleets", "ec2:DescribeFleets", async () => {
        for await (const page of paginateDescribeFleets({ client, pageSize: 1000 }, {})) {
            for (const f of page.Fleets ?? []) {
                if (done(f.FleetState)) continue;
                const fleet = f.FleetId ?? "?";
                for (const c of f.LaunchTemplateConfigs ?? []) {
                    const t = templateUse(c.LaunchTemplateSpecification, `EC2 Fleet ${fleet}`);
                    if (t) templates.push(t);
                    for (const o of c.Overrides ?? []) direct(o.ImageId, { kind: "ec2-fleet", id: fleet, detail: "an override's ImageId" });
                }
            }
        }
    });
    await readingUnlessAbsent("DescribeSpotFleetRequests", "ec2:DescribeSpotFleetRequests", async () => {
        for await (const page of paginateDescribeSpotFleetRequests({ client, pageSize: 1000 }, {})) {
            for (const r of page.SpotFleetRequestConfigs ?? []) {
                if (done(r.SpotFleetRequestState)) continue;
                const fleet = r.SpotFleetRequestId ?? "?";
                for (const c of r.SpotFleetRequestConfig?.LaunchTemplateConfigs ?? []) {
                    const t = templateUse(c.LaunchTemplateSpecification, `Spot Fleet request ${fleet}`);
                    if (t) templates.push(t);
                }
                for (const s of r.SpotFleetRequestConfig?.LaunchSpecifications ?? [])
                    direct(s.ImageId, { kind: "spot-fleet", id: fleet, detail: "a launch specification" });
            }
        }
    });
    return templates;
}

/** The tags EC2 puts on an instance launched from a launch template: the template's id and the version's number. */
const TEMPLATE_ID_TAG = "aws:ec2launchtemplate:id";
const TEMPLATE_VERSION_TAG = "aws:ec2launchtemplate:version";

/**
 * The launch-template versions live instances were launched from, as EC2
 * tags them (`aws:ec2launchtemplate:id` and `:version`, "Launch an instance
 * from a launch template" in the EC2 user guide): a version an instance
 * names counts like one a group pins, so the same account gets the same
 * plan whichever source answers. One paginated DescribeInstances, filtered
 * to instances that carry the tag.
 */
async function instanceTemplateUses(client: EC2Client): Promise<TemplateUse[]> {
    const uses: TemplateUse[] = [];
    await reading("DescribeInstances", "ec2:DescribeInstances", async () => {
        const pages = paginateDescribeInstances(
            { client, pageSize: 1000 },
            {
                Filters: [
                    { Name: "tag-key", Values: [TEMPLATE_ID_TAG] },
                    { Name: "instance-state-name", Values: LIVE_INSTANCE_STATES },
                ],
            },
        );
        for await (const page of pages) {
            for (const r of page?.Reservations ?? []) {
                for (const i of r.Instances ?? []) {
                    const use = instanceTemplateUse(i);
                    if (use) uses.push(use);
                }
            }
        }
    });
    return uses;
}

/** The launch-template version an instance names by its tags, if any. */
function instanceTemplateUse(i: Instance): TemplateUse | undefined {
    const tag = (key: string) => i.Tags?.find((t) => t.Key === key)?.Value;
    const id = tag(TEMPLATE_ID_TAG);
    const version = tag(TEMPLATE_VERSION_TAG);
    return id && version ? { id, version, by: `instance ${i.InstanceId ?? "?"} (launched from it)` } : undefined;
}

/** `resolve:ssm:/golden/web` or `resolve:ssm:/golden/web:3` (a version) as GetParameters takes it. */
function ssmParameterOf(imageId: string): string | undefined {
    return imageId.startsWith("resolve:ssm:") ? imageId.slice("resolve:ssm:".length) : undefined;
}

/** Records a launch-template version's image (directly, or a `resolve:ssm:` parameter to resolve later). */
function recordVersion(v: LaunchTemplateVersion, why: string[], refs: ReferenceMap, viaSsm: Map<string, ImageReference[]>): void {
    const imageId = v.LaunchTemplateData?.ImageId;
    if (!imageId) return;
    const detail = [`version ${v.VersionNumber}`, ...why].join(", ");
    const ref: ImageReference = { kind: "launch-template", id: v.LaunchTemplateId ?? v.LaunchTemplateName ?? "?", detail };
    const parameter = ssmParameterOf(imageId);
    if (parameter) viaSsm.set(parameter, [...(viaSsm.get(parameter) ?? []), ref]);
    else refs.add(imageId, ref);
}

/**
 * The launch-template versions something launches from: every template's
 * `$Default` and `$Latest` (one paginated call for all templates), then the
 * versions pinned by number by Auto Scaling groups, EC2 Fleets, Spot
 * Fleets and instances (their launch-template tags), one call per
 * template. A pinned template or version that no longer exists launches
 * nothing.
 */
async function launchTemplateReferences(
    client: EC2Client,
    uses: TemplateUse[],
    refs: ReferenceMap,
    viaSsm: Map<string, ImageReference[]>,
    rule: LaunchTemplateVersionRule,
): Promise<void> {
    const action = "DescribeLaunchTemplateVersions";
    const permission = "ec2:DescribeLaunchTemplateVersions";
    if (rule === "all") return everyTemplateVersion(client, refs, viaSsm);
    /** Each version once, with everything that makes it count. */
    const versions = new Map<string, { v: LaunchTemplateVersion; why: Set<string> }>();
    const note = (v: LaunchTemplateVersion, why: string) => {
        const key = `${v.LaunchTemplateId ?? v.LaunchTemplateName}#${v.VersionNumber}`;
        const entry = versions.get(key) ?? { v, why: new Set<string>() };
        entry.why.add(why);
        versions.set(key, entry);
    };
    /** $Default and $Latest of each template (by id), and template ids by name. */
    const special = new Map<string, { $Default?: LaunchTemplateVersion; $Latest?: LaunchTemplateVersion }>();
    const idOfName = new Map<string, string>();
    await reading(action, permission, async () => {
        const pages = paginateDescribeLaunchTemplateVersions({ client, pageSize: 200 }, { Versions: ["$Default", "$Latest"] });
        for await (const page of pages) {
            for (const v of page.LaunchTemplateVersions ?? []) {
                const key = v.LaunchTemplateId ?? `name:${v.LaunchTemplateName}`;
                if (v.LaunchTemplateName) idOfName.set(v.LaunchTemplateName, key);
                const s = special.get(key) ?? {};
                if (v.DefaultVersion) s.$Default = v;
                if (!s.$Latest || (v.VersionNumber ?? 0) > (s.$Latest.VersionNumber ?? 0)) s.$Latest = v;
                special.set(key, s);
            }
        }
    });
    for (const s of special.values()) {
        if (s.$Default) note(s.$Default, "$Default");
        if (s.$Latest) note(s.$Latest, "$Latest");
    }
    // What pins which version, by template (by id or by name, as it was named).
    const byTemplate = new Map<string, { id?: string; name?: string; numbered: Map<string, string[]> }>();
    for (const u of uses) {
        const key = u.id ? `id:${u.id}` : `name:${u.name}`;
        if (u.version === "$Default" || u.version === "$Latest") {
            const v = special.get(u.id ?? idOfName.get(u.name ?? "") ?? "")?.[u.version];
            if (v) note(v, `${u.version} used by ${u.by}`);
            continue;
        }
        const t = byTemplate.get(key) ?? { id: u.id, name: u.name, numbered: new Map<string, string[]>() };
        t.numbered.set(u.version, [...(t.numbered.get(u.version) ?? []), `pinned by ${u.by}`]);
        byTemplate.set(key, t);
    }
    for (const t of byTemplate.values()) {
        const which = t.id ? { LaunchTemplateId: t.id } : { LaunchTemplateName: t.name };
        const ask = async (asked: string[]): Promise<LaunchTemplateVersion[]> => {
            // Every page: EC2 may page even an answer by version numbers (NextToken), and a version missed here
            // would read as an image nobody uses.
            const versions: LaunchTemplateVersion[] = [];
            for await (const page of paginateDescribeLaunchTemplateVersions({ client }, { ...which, Versions: asked })) {
                versions.push(...(page.LaunchTemplateVersions ?? []));
            }
            return versions;
        };
        const asked = [...t.numbered.keys()];
        const found: LaunchTemplateVersion[] = [];
        await reading(action, permission, async () => {
            try {
                found.push(...(await ask(asked)));
            } catch (e) {
                if (isNotFoundCode(e, "launchTemplate")) return; // the template is gone: it launches nothing
                if (!hasCode(e, LAUNCH_TEMPLATE_VERSION_NOT_FOUND)) throw e;
                for (const version of asked) {
                    try {
                        found.push(...(await ask([version])));
                    } catch (err) {
                        if (!hasCode(err, LAUNCH_TEMPLATE_VERSION_NOT_FOUND) && !isNotFoundCode(err, "launchTemplate")) throw err;
                    }
                }
            }
        });
        for (const v of found) for (const why of t.numbered.get(String(v.VersionNumber)) ?? []) note(v, why);
    }
    for (const { v, why } of versions.values()) recordVersion(v, [...why], refs, viaSsm);
}

/** `launchTemplateVersions: "all"`: every version of every template counts, each template's versions paginated. */
async function everyTemplateVersion(client: EC2Client, refs: ReferenceMap, viaSsm: Map<string, ImageReference[]>): Promise<void> {
    const ids: string[] = [];
    await reading("DescribeLaunchTemplates", "ec2:DescribeLaunchTemplates", async () => {
        for await (const page of paginateDescribeLaunchTemplates({ client, pageSize: 200 }, {}))
            for (const t of page.LaunchTemplates ?? []) if (t.LaunchTemplateId) ids.push(t.LaunchTemplateId);
    });
    for (const id of ids) {
        await reading("DescribeLaunchTemplateVersions", "ec2:DescribeLaunchTemplateVersions", async () => {
            try {
                for await (const page of paginateDescribeLaunchTemplateVersions({ client, pageSize: 200 }, { LaunchTemplateId: id }))
                    for (const v of page.LaunchTemplateVersions ?? [])
                        recordVersion(v, ['every version counts (launchTemplateVersions: "all")'], refs, viaSsm);
            } catch (e) {
                if (!isNotFoundCode(e, "launchTemplate")) throw e; // deleted since the listing: launches nothing
            }
        });
    }
}

/**
 * The AMI ids behind `resolve:ssm:` parameters, asked of SSM ten at a time.
 * A parameter that cannot be read stops the plan: an image in use must never
 * look unused.
 */
export class UnresolvedTemplateImageError extends Error {
    constructor(
        readonly parameters: string[],
        cause: unknown,
    ) {
        super(
            `launch templates take their AMI from SSM parameter(s) ${parameters.join(", ")}, which could not be read ` +
                `(${errorCode(cause) ?? (cause as Error).message}); the images behind them would count as unused. ` +
                `Grant ssm:GetParameters on them, or fix the templates`,
            { cause },
        );
        this.name = "UnresolvedTemplateImageError";
    }
}

async function resolveSsmImages(ssm: SSMClient, parameters: Map<string, ImageReference[]>, refs: ReferenceMap): Promise<void> {
    const names = [...parameters.keys()];
    for (let i = 0; i < names.length; i += 10) {
        const chunk = names.slice(i, i + 10);
        let out;
        try {
            out = await ssm.send(new GetParametersCommand({ Names: chunk }));
        } catch (e) {
            throw new UnresolvedTemplateImageError(chunk, e);
        }
        if (out?.InvalidParameters?.length) {
            throw new UnresolvedTemplateImageError(out.InvalidParameters, new Error(NOT_FOUND_CODES.parameter[0]));
        }
        for (const p of out?.Parameters ?? []) {
            const asked = chunk.find((n) => n === p.Name || n === p.Selector || n.startsWith(`${p.Name}:`)) ?? p.Name ?? "";
            for (const ref of parameters.get(asked) ?? []) {
                refs.add(p.Value, { ...ref, detail: `${ref.detail ? `${ref.detail}, ` : ""}via SSM parameter ${asked}` });
            }
        }
    }
}

/**
 * SSM parameters of data type `aws:ec2:image` (fallback for
 * DescribeImageReferences' ssm:Parameter): DescribeParameters with the
 * `DataType` filter, or, where the endpoint refuses that filter
 * (ValidationException), every parameter filtered here; then their values
 * with GetParameters, ten at a time.
 */
export async function imageParameterReferences(ssm: SSMClient, refs: ReferenceMap): Promise<void> {
    const names: string[] = [];
    const list = async (filtered: boolean) => {
        const input = filtered ? { ParameterFilters: [{ Key: "DataType", Option: "Equals", Values: ["aws:ec2:image"] }] } : {};
        for await (const page of paginateDescribeParameters({ client: ssm, pageSize: 50 }, input)) {
            for (const p of page.Parameters ?? []) if (p.DataType === "aws:ec2:image" && p.Name) names.push(p.Name);
        }
    };
    await reading("DescribeParameters", "ssm:DescribeParameters", async () => {
        try {
            await list(true);
        } catch (e) {
            if (!hasCode(e, SSM_VALIDATION)) throw e;
            names.length = 0;
            await list(false);
        }
    });
    for (let i = 0; i < names.length; i += 10) {
        const chunk = names.slice(i, i + 10);
        const out = await reading("GetParameters", "ssm:GetParameters", () => ssm.send(new GetParametersCommand({ Names: chunk })));
        for (const p of out?.Parameters ?? [])
            refs.add(p.Value, { kind: "ssm-parameter", id: p.Name ?? "?", detail: "data type aws:ec2:image" });
    }
}

/** Clients for the three services, from an EC2 client and its region. */
export interface ReferenceClients {
    ec2: EC2Client;
    autoScaling: AutoScalingClient;
    ssm: SSMClient;
}

export function referenceClients(ec2: EC2Client, region: string): ReferenceClients {
    return { ec2, autoScaling: autoScalingClient(region), ssm: ssmClient(region) };
}

/**
 * The launch-template rule's effect: images nothing else uses that a
 * template names only in versions the rule does not count, with those
 * templates. (Known where the endpoint has DescribeImageReferences; the
 * enumeration does not read every version unless the rule is "all".)
 */
export function rulesEffect(named: TemplatesNaming, refs: Map<string, ImageReference[]>): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const [imageId, templates] of named) {
        if ((refs.get(imageId) ?? []).length > 0) continue;
        out.set(imageId, [...templates].sort());
    }
    return out;
}

/** Images named in the log line of {@link describeLetGo}; the rest are counted. */
const LET_GO_LISTED = 5;

/** The launch-template rule's effect in one line, e.g. for preview: which images it lets go, and how to keep them. */
export function describeLetGo(letGo: Map<string, string[]>): string {
    const items = [...letGo].map(([imageId, templates]) => `${imageId} (${templates.join(", ")})`);
    const listed =
        items.slice(0, LET_GO_LISTED).join(", ") + (items.length > LET_GO_LISTED ? `, and ${items.length - LET_GO_LISTED} more` : "");
    return (
        `${letGo.size} image(s) count as unused although a launch template names them in a version nothing launches from: ${listed}. ` +
        `launchTemplateVersions "in-use" counts $Default, $Latest and the versions a group, fleet or instance names; ` +
        `launchTemplateVersions: "all" would keep them`
    );
}

/** Regions (per process) already told that DescribeImageReferences is missing, so the warning shows once. */
const warned = new Set<string>();

/**
 * Every reference to the candidate images (and to any other image the
 * direct enumerations meet), by image id. `via` says which path was taken.
 */
export async function findImageReferences(
    clients: ReferenceClients,
    region: string,
    candidateImageIds: readonly string[],
    options: { launchTemplateVersions?: LaunchTemplateVersionRule } = {},
): Promise<{
    refs: Map<string, ImageReference[]>;
    via: "DescribeImageReferences" | "enumeration";
    /** Candidates only launch-template versions nothing launches from name, with those templates (see {@link rulesEffect}). */
    letGo: Map<string, string[]>;
}> {
    const refs = new ReferenceMap();
    const rule = options.launchTemplateVersions ?? "in-use";
    const named: TemplatesNaming | undefined = rule === "in-use" ? new Map() : undefined;
    /** Launch-template versions live instances name (their aws:ec2launchtemplate tags). */
    const instances: TemplateUse[] = [];
    const supported =
        candidateImageIds.length === 0 ? true : await describeImageReferences(clients.ec2, [...candidateImageIds], refs, named);
    if (!supported) {
        if (!warned.has(region)) {
            warned.add(region);
            console.log(
                `finding images in use: DescribeImageReferences is not available at this endpoint (${region}); enumerating instances, launch templates and SSM parameters directly`,
            );
        }
        await instanceReferences(clients.ec2, refs, instances);
        await imageParameterReferences(clients.ssm, refs);
    }
    const viaSsm = new Map<string, ImageReference[]>();
    const groups = await autoScalingUses(clients.autoScaling);
    const fleets = await fleetUses(clients.ec2, refs, viaSsm);
    // With "all" every version counts anyway: no need to ask which ones instances name.
    // With the enumeration the listing above gave them; with DescribeImageReferences one filtered DescribeInstances.
    if (supported && rule === "in-use") instances.push(...(await instanceTemplateUses(clients.ec2)));
    await launchTemplateReferences(clients.ec2, [...groups.templates, ...fleets, ...instances], refs, viaSsm, rule);
    await resolveSsmImages(clients.ssm, viaSsm, refs);
    await launchConfigurationReferences(clients.autoScaling, refs, groups.configurations);
    const letGo = rulesEffect(named ?? new Map(), refs);
    if (letGo.size > 0) console.log(`finding images in use (${region}): ${describeLetGo(letGo)}`);
    return { refs, via: supported ? "DescribeImageReferences" : "enumeration", letGo };
}
