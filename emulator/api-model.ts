// Request validation against the published EC2 API model: botocore's
// `ec2/2016-11-15/service-2.json` (the service model AWS publishes for its
// SDKs), read from the botocore that moto itself depends on, so it is present
// wherever moto_server is. Moto accepts unknown parameters, missing required
// ones and bad enum values silently; real EC2 refuses them with HTTP 400 and:
//
//   InvalidAction         the action is not in the API
//   UnknownParameter      a parameter the action does not have
//   MissingParameter      a required parameter is absent
//   InvalidParameterValue a value outside an enum, or not a boolean/integer
//
// Codes and messages: "Error codes for the Amazon EC2 API", Amazon EC2 API
// Reference, https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html
// ("UnknownParameter: An unknown or unrecognized parameter was supplied";
// "MissingParameter: The request is missing a required parameter";
// "InvalidParameterValue: A value specified in a parameter is not valid";
// "InvalidAction: The action or operation requested is not valid").
//
// The EC2 protocol's Query serialization (botocore's EC2Serializer, and the
// smithy `ec2Query` protocol): a member is named by its `queryName`, else by
// its `locationName` with the first letter upper-cased, else by its member
// name; lists are always flattened as `Name.N` (1-based); structures nest as
// `Name.Member`.
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";

interface ModelShape {
    type: string;
    members?: Record<string, { shape: string; locationName?: string; queryName?: string }>;
    required?: string[];
    member?: string;
    enum?: string[];
}

export interface Ec2Model {
    botocoreVersion: string;
    /** Action name → its input shape (null: the action takes no parameters). */
    operations: Record<string, string | null>;
    shapes: Record<string, ModelShape>;
    /** Every region of every partition in botocore's endpoints data. */
    regions: string[];
}

export interface Refusal {
    status: number;
    code: string;
    message: string;
}

// Prints the parts of the model the validator reads (a few MB less than the whole).
const DUMP_MODEL = `
import json, botocore, botocore.loaders as l
ld = l.Loader()
m = ld.load_service_model('ec2', 'service-2')
shapes = {}
for name, s in m['shapes'].items():
    o = {'type': s['type']}
    if s['type'] == 'structure':
        o['members'] = {k: {kk: v[kk] for kk in ('shape', 'locationName', 'queryName') if kk in v} for k, v in s['members'].items()}
        if 'required' in s: o['required'] = s['required']
    elif s['type'] == 'list':
        o['member'] = s['member']['shape']
    if 'enum' in s: o['enum'] = s['enum']
    shapes[name] = o
regions = set()
for p in ld.load_data('endpoints')['partitions']:
    regions |= set(p.get('regions', {}))
try:
    for p in ld.load_data('partitions')['partitions']:
        regions |= set(p.get('regions', {}))
except Exception:
    pass
print(json.dumps({'botocoreVersion': botocore.__version__,
                  'operations': {n: (o.get('input') or {}).get('shape') for n, o in m['operations'].items()},
                  'shapes': shapes, 'regions': sorted(regions)}))
`;

/** Interpreters that may have botocore: the one running moto_server on PATH first. */
export function pythonCandidates(): string[] {
    const found: string[] = [];
    if (process.env.GOLDEN_AMI_EMULATOR_PYTHON) found.push(process.env.GOLDEN_AMI_EMULATOR_PYTHON);
    for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
        const moto = path.join(dir, "moto_server");
        if (!dir || !fs.existsSync(moto)) continue;
        const shebang = /^#!\s*(\S+)(?:\s+(\S+))?/.exec(fs.readFileSync(moto, "utf8").split("\n")[0] ?? "");
        if (shebang && /python/.test(shebang[1])) found.push(shebang[1]);
        else if (shebang && /python/.test(shebang[2] ?? "")) found.push(shebang[2]!);
        // a virtualenv's bin/, or a pyenv shims directory: its python runs moto's environment
        for (const name of ["python", "python3"]) if (fs.existsSync(path.join(dir, name))) found.push(path.join(dir, name));
    }
    found.push("python3");
    return [...new Set(found)];
}

let loading: Promise<Ec2Model> | undefined;

/** The EC2 model from botocore, loaded once per process. */
export function loadEc2Model(): Promise<Ec2Model> {
    loading ??= (async () => {
        const errors: string[] = [];
        for (const python of pythonCandidates()) {
            try {
                const { stdout } = await promisify(execFile)(python, ["-c", DUMP_MODEL], { maxBuffer: 256 * 1024 * 1024 });
                const model = JSON.parse(stdout) as Ec2Model;
                // endpoints data also lists pseudo-regions such as aws-global: keep real ones (us-east-1)
                model.regions = model.regions.filter((r) => /^[a-z]{2}(-[a-z]+)+-\d+$/.test(r));
                return model;
            } catch (e) {
                errors.push(`${python}: ${(e as Error).message.split("\n")[0]}`);
            }
        }
        loading = undefined;
        throw new Error(
            `golden-ami emulator: cannot load the EC2 API model from botocore (it comes with moto); ` +
                `install moto, set GOLDEN_AMI_EMULATOR_PYTHON, or start the proxy with validation: false. Tried: ${errors.join("; ")}`,
        );
    })();
    return loading;
}

interface ParamNode {
    value?: string;
    children: Map<string, ParamNode>;
}

function paramTree(params: URLSearchParams): ParamNode {
    const root: ParamNode = { children: new Map() };
    for (const [key, value] of params) {
        if (key === "Action" || key === "Version") continue;
        let node = root;
        for (const part of key.split(".")) {
            let next = node.children.get(part);
            if (!next) node.children.set(part, (next = { children: new Map() }));
            node = next;
        }
        node.value = value;
    }
    return root;
}

/** The Query name of a structure member under the EC2 protocol. */
function queryName(memberName: string, member: { locationName?: string; queryName?: string }): string {
    if (member.queryName) return member.queryName;
    if (member.locationName) return member.locationName[0].toUpperCase() + member.locationName.slice(1);
    return memberName;
}

const refuse = (code: string, message: string): Refusal => ({ status: 400, code, message });

function checkShape(model: Ec2Model, shapeName: string, node: ParamNode, at: string): Refusal | undefined {
    const shape = model.shapes[shapeName];
    if (!shape) return undefined;
    const dot = at ? `${at}.` : "";
    switch (shape.type) {
        case "structure": {
            const byQueryName = new Map(Object.entries(shape.members ?? {}).map(([name, m]) => [queryName(name, m), m]));
            for (const [key, child] of node.children) {
                const member = byQueryName.get(key);
                if (!member) return refuse("UnknownParameter", `The parameter ${dot}${key} is not recognized`);
                const bad = checkShape(model, member.shape, child, `${dot}${key}`);
                if (bad) return bad;
            }
            for (const required of shape.required ?? []) {
                const name = queryName(required, shape.members![required]);
                if (!node.children.has(name)) return refuse("MissingParameter", `The request must contain the parameter ${dot}${name}`);
            }
            return undefined;
        }
        case "list": {
            for (const [key, child] of node.children) {
                if (!/^[1-9]\d*$/.test(key)) return refuse("UnknownParameter", `The parameter ${dot}${key} is not recognized`);
                const bad = checkShape(model, shape.member!, child, `${dot}${key}`);
                if (bad) return bad;
            }
            return undefined;
        }
        case "map":
            return undefined;
        default: {
            const [first] = node.children.keys();
            if (first !== undefined) return refuse("UnknownParameter", `The parameter ${dot}${first} is not recognized`);
            const value = node.value ?? "";
            const invalid = () => refuse("InvalidParameterValue", `Value (${value}) for parameter ${at} is invalid.`);
            if (shape.enum && !shape.enum.includes(value)) return invalid();
            if (shape.type === "boolean" && !/^(true|false)$/i.test(value)) return invalid();
            if ((shape.type === "integer" || shape.type === "long") && !/^-?\d+$/.test(value)) return invalid();
            return undefined;
        }
    }
}

/** Why EC2 would refuse this request, or undefined when the API model accepts it. */
export function validateRequest(model: Ec2Model, action: string, params: URLSearchParams): Refusal | undefined {
    if (!(action in model.operations)) return refuse("InvalidAction", `The action ${action} is not valid for this web service.`);
    const input = model.operations[action];
    const tree = paramTree(params);
    if (input === null) {
        const [first] = tree.children.keys();
        return first === undefined ? undefined : refuse("UnknownParameter", `The parameter ${first} is not recognized`);
    }
    return checkShape(model, input, tree, "");
}

/** The region in a SigV4 Authorization header's credential scope (`Credential=AKID/date/region/service/aws4_request`). */
export function signedRegion(authorization: string | undefined): string | undefined {
    return /Credential=[^/]+\/\d{8}\/([^/]+)\//.exec(authorization ?? "")?.[1];
}

/**
 * Real EC2 has no endpoint for a region that does not exist: the SDK builds
 * `ec2.<region>.amazonaws.com` from the region and its DNS look-up fails. With
 * AWS_ENDPOINT_URL_EC2 the region only reaches the proxy in the credential
 * scope, so the emulator answers what AWS answers a request signed for a
 * region the endpoint does not serve: HTTP 401 AuthFailure ("Credential should
 * be scoped to a valid region"), which no SDK retries.
 */
export function checkRegion(model: Ec2Model, region: string | undefined): Refusal | undefined {
    if (region === undefined || model.regions.includes(region)) return undefined;
    return {
        status: 401,
        code: "AuthFailure",
        message: `Credential should be scoped to a valid region, not '${region}': '${region}' is not an AWS region, so real EC2 has no endpoint for it (golden-ami emulator).`,
    };
}
