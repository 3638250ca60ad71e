// What `pulumi preview` says is what `pulumi up` does: one stack holding every
// kind (test/e2e/programs/preview-apply), each resource changing one
// documented property (or one group of in-place ones) per round, some only
// following another resource (a copy of an image that gets a new tag). Per
// resource and round, the operation the preview shows (same, update,
// replace, create) must be the one `up` performs, and the one README
// documents. The GoldenImage case is the README's: an image tag and
// build.timeoutMinutes added update the bake and its copy in place.
import { CreateImageCommand, EC2Client, waitUntilImageAvailable } from "@aws-sdk/client-ec2";
import { PutParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import assert from "node:assert/strict";
import { motoEnv } from "../../scripts/lib/moto";
import { createSourceInstance, inventory, leftBehind } from "../../scripts/lib/ec2-fixtures";
import { newStack, Stack } from "../support/consumer";
import { currentMoto } from "../support/moto-hooks";
import { sweepAfterSuite } from "../support/sweep-teardown";
import { builderEmulation, BuilderEmulation } from "../../emulator/builders";
import { Ec2Proxy, startEc2Proxy } from "../../emulator/ec2-proxy";
import { EMULATED_BEHAVIOUR } from "../../emulator/emulator";
import { imageReferencesHandler } from "../../emulator/references";

const HOME = "eu-central-1";
const COPY = "ap-northeast-3";
const OTHER = "eu-west-2";
const REGIONS = [HOME, COPY, OTHER];

type Op = "same" | "update" | "replace" | "create" | "delete";

interface Step {
    op: string;
    urn: string;
    type: string;
    /** The properties the diff reports as changed. */
    diffs?: string[];
    /** The properties that force a replacement. */
    keys?: string[];
}

/**
 * The operation per golden-ami resource (by name, the URN's last part), from
 * the engine events `preview --json` and `up --json` stream (one JSON object
 * a line). A replacement's steps (create-replacement, replace,
 * delete-replaced) count as one replace.
 */
function operations(events: string): Map<string, { op: Op; step: Step }> {
    const out = new Map<string, { op: Op; step: Step }>();
    const rank: Record<Op, number> = { same: 0, update: 1, create: 2, delete: 2, replace: 3 };
    for (const line of events.split("\n")) {
        if (!line.startsWith("{")) continue;
        const s: Step | undefined = JSON.parse(line).resourcePreEvent?.metadata;
        if (!s || !s.type.startsWith("pulumi-nodejs:dynamic/golden-ami:")) continue;
        const name = s.urn.split("::").pop()!;
        const op: Op = ["replace", "create-replacement", "delete-replaced"].includes(s.op)
            ? "replace"
            : s.op === "update" || s.op === "create" || s.op === "delete"
              ? s.op
              : "same";
        const had = out.get(name);
        if (!had || rank[op] > rank[had.op]) out.set(name, { op, step: s });
    }
    return out;
}

/** Round 1 and 2 changes, as README documents them; every resource not listed changes nothing. */
const EXPECTED: Record<number, Record<string, Op>> = {
    1: {
        "afi-tags": "update",
        "afi-snapshot-tags": "update",
        "afi-description": "update",
        "afi-deprecation": "update",
        "afi-protection": "update",
        "afi-launch-permissions": "update",
        "afi-stored": "update",
        "afi-publish": "update",
        "afi-source": "replace",
        "afi-name": "replace",
        "afi-no-reboot": "replace",
        "afi-block-devices": "replace",
        "copy-follows-update-own-tags": "update",
        "copy-follows-replace": "replace",
        "copy-in-place": "update",
        "copy-region": "replace",
        "copy-encrypted": "replace",
        "copy-name": "replace",
        "managed-in-place": "update",
        "managed-image": "replace",
        retention: "update",
        golden: "update",
        [`golden-${COPY}`]: "update",
    },
    2: {
        "afi-protection": "update",
        "afi-stored": "update",
        [`replicas-${OTHER}`]: "create",
        golden: "replace",
        [`golden-${COPY}`]: "replace",
        "golden-retention": "update",
    },
};

describe("preview equals apply: every kind, every documented property (real pulumi CLI, packed package, emulator)", () => {
    let stack: Stack;
    let proxy: Ec2Proxy;
    let builders: BuilderEmulation;
    let baseline: Record<string, Awaited<ReturnType<typeof inventory>>>;
    let names: string[] = [];

    before(async function () {
        this.timeout(600_000);
        const { instanceId, baseImageId } = await createSourceInstance(HOME, { name: "truth-base" });
        const { instanceId: instanceId2 } = await createSourceInstance(HOME, { name: "truth-base-2" });
        const ec2 = new EC2Client({ region: HOME });
        const legacy: string[] = [];
        for (const n of [1, 2, 3]) {
            legacy.push(
                (await ec2.send(new CreateImageCommand({ InstanceId: instanceId, Name: `truth-legacy-${n}-${Date.now()}` }))).ImageId!,
            );
        }
        await waitUntilImageAvailable({ client: ec2, maxWaitTime: 60, minDelay: 1, maxDelay: 2 }, { ImageIds: legacy });
        ec2.destroy();
        const ssm = new SSMClient({ region: HOME });
        await ssm.send(
            new PutParameterCommand({
                Name: "/truth/base",
                Value: baseImageId,
                Type: "String",
                DataType: "aws:ec2:image",
                Overwrite: true,
            }),
        );
        ssm.destroy();
        baseline = Object.fromEntries(await Promise.all(REGIONS.map(async (r) => [r, await inventory(r)] as const)));
        builders = builderEmulation({ seed: 28, builderBootMs: 500 });
        proxy = await startEc2Proxy({
            target: currentMoto().endpoint,
            ...EMULATED_BEHAVIOUR,
            // The images live in the table of the strict emulator behind this proxy (the e2e tier's endpoint):
            // a second image service in front of it would know none of them.
            imageService: false,
            handlers: [imageReferencesHandler({}), builders.handler],
        });
        stack = await newStack("preview-apply", "matrix", {
            ...motoEnv(proxy.endpoint, HOME),
            AWS_ENDPOINT_URL_SSM: currentMoto().endpoint,
            AWS_ENDPOINT_URL_AUTO_SCALING: currentMoto().endpoint,
            GOLDEN_AMI_POLL_SCALE: "0.05",
            // preview --json as the same event stream up --json prints.
            PULUMI_ENABLE_STREAMING_JSON_PREVIEW: "true",
        });
        await stack.config({
            "aws:region": HOME,
            round: "0",
            copyRegion: COPY,
            otherRegion: OTHER,
            instanceId,
            instanceId2,
            legacyImageId: legacy[0],
            legacyImageId2: legacy[1],
            legacyImageId3: legacy[2],
            baseParameter: "/truth/base",
        });
        const up = operations((await stack.run(["up", "--yes", "--skip-preview", "--json"])).stdout);
        names = [...up.keys()];
        assert.ok(names.length >= 25, `the stack made ${names.length} image resources: ${names.join(", ")}`);
        for (const [name, { op }] of up) assert.equal(op, "create", name);
    });
    after(async function () {
        this.timeout(120_000);
        builders?.dispose();
        await proxy?.stop();
    });

    for (const round of [1, 2]) {
        it(`round ${round}: the preview shows, per resource, the operation up performs, as README documents it`, async function () {
            this.timeout(600_000);
            await stack.config({ round: String(round) });
            const preview = operations((await stack.run(["preview", "--json"])).stdout);
            const up = operations((await stack.run(["up", "--yes", "--skip-preview", "--json"])).stdout);
            const all = [...new Set([...names, ...preview.keys(), ...up.keys()])].sort();
            const table = all.map((n) => ({
                name: n,
                documented: EXPECTED[round][n] ?? "same",
                preview: preview.get(n)?.op ?? "same",
                up: up.get(n)?.op ?? "same",
            }));
            const wrong = table.filter((t) => t.preview !== t.up || t.up !== t.documented);
            assert.deepEqual(
                wrong,
                [],
                `preview, up and README disagree:\n${wrong.map((t) => `  ${t.name}: README ${t.documented}, preview ${t.preview}, up ${t.up}`).join("\n")}`,
            );
            // What the preview names as changed is what the program changed, never a value derived from another resource's outputs.
            for (const n of ["copy-follows-update-own-tags", `golden-${COPY}`]) {
                const step = preview.get(n)?.step;
                if (round === 1) assert.ok(step, n);
                for (const derived of ["sourceAmiId", "name"]) {
                    if (round === 1) assert.ok(!(step?.diffs ?? []).includes(derived), `${n} shows ${derived} as changed: ${step?.diffs}`);
                }
            }
            names = [...new Set([...names, ...up.keys()])];
        });
    }

    it("destroy leaves nothing golden-ami made", async function () {
        this.timeout(600_000);
        await stack.run(["destroy", "--yes", "--skip-preview"]);
        for (const r of REGIONS) {
            const left = leftBehind(baseline[r], await inventory(r));
            assert.deepEqual(left, { images: [], snapshots: [] }, r);
        }
    });

    sweepAfterSuite(REGIONS);
});
