// AmiRetentionPolicy's inventory finds every kind of reference (issue 12),
// through the real AWS SDK against moto behind the emulator proxy, once with
// DescribeImageReferences emulated and once with the endpoint answering it
// InvalidAction (the direct enumeration), and once against moto's own answer
// to an action it has not implemented (an HTTP 500 page). Auto Scaling and
// SSM are moto's own.
import assert from "node:assert/strict";
import * as sinon from "sinon";
import * as hooks from "../../dynamic-providers/retention-policy-hooks";
import { pendingEntries } from "../../sdk/retention-pending-entry";
import { computePlan } from "../../dynamic-providers/retention-planning";
import { Ec2Proxy, startEc2Proxy } from "../../emulator/ec2-proxy";
import type { Handler } from "../../emulator/handler";
import { imageReferencesHandler } from "../../emulator/references";
import { ec2Error } from "../../emulator/xml";
import { motoEnv } from "../../scripts/lib/moto";
import { inventory } from "../../scripts/lib/ec2-fixtures";
import { expectedReasons, seedReferences } from "../support/reference-seed";
import { currentMoto } from "../support/moto-hooks";

type Mode = "emulate" | "unsupported" | "moto";

describe("retention inventory finds every kind of reference (moto, emulator proxy)", () => {
    let proxy: Ec2Proxy;
    let mode: Mode = "emulate";
    let fleetsRefused = false;
    const emulate = imageReferencesHandler({ imageReferences: "emulate" });
    const unsupported = imageReferencesHandler({ imageReferences: "unsupported" });
    /** DescribeInstances requests that list every live instance (the enumeration), not only those launched from templates. */
    let instanceListings = 0;
    const handler: Handler = async (ctx) => {
        if (ctx.action === "DescribeInstances" && ![...ctx.params.values()].includes("aws:ec2launchtemplate:id")) instanceListings++;
        if (fleetsRefused && ctx.action === "DescribeFleets")
            return ec2Error(403, "UnauthorizedOperation", "You are not authorized to perform this operation.");
        if (mode === "moto") return undefined; // moto's own answer: an HTTP 500 page
        return (mode === "emulate" ? emulate : unsupported)(ctx);
    };
    const saved: Record<string, string | undefined> = {};
    let log: sinon.SinonStub;
    const seeds: Record<string, Awaited<ReturnType<typeof seedReferences>>> = {};
    // One region per mode that retires (clients are cached per region, so each keeps the proxy's endpoint).
    const REGIONS: Record<Mode, string> = { emulate: "eu-west-2", unsupported: "ap-northeast-2", moto: "ap-northeast-3" };

    before(async function () {
        this.timeout(120_000);
        proxy = await startEc2Proxy({ target: currentMoto().endpoint, handlers: [handler] });
        const env = motoEnv(proxy.endpoint);
        for (const k of Object.keys(env)) saved[k] = process.env[k];
        Object.assign(process.env, env);
        for (const [m, region] of Object.entries(REGIONS)) seeds[m] = await seedReferences(region, `refs-int-${m}`);
    });
    after(async function () {
        this.timeout(60_000);
        for (const [k, v] of Object.entries(saved)) {
            if (v === undefined) delete process.env[k];
            else process.env[k] = v;
        }
        for (const s of Object.values(seeds)) await s.cleanup();
        await proxy.stop();
    });
    beforeEach(() => {
        log = sinon.stub(console, "log");
        fleetsRefused = false;
    });
    afterEach(() => log.restore());

    const settings = (m: Mode) => ({ regions: [REGIONS[m]], selector: { namePattern: `refs-int-${m}-*` }, keepLatest: 2 });

    for (const m of ["emulate", "unsupported", "moto"] as const) {
        const label = {
            emulate: "with DescribeImageReferences",
            unsupported: "without it (InvalidAction)",
            moto: "against moto's HTTP 500 page",
        }[m];
        describe(label, () => {
            before(() => {
                mode = m;
            });

            it("plans exactly the unreferenced old images, and says why each referenced one is kept", async () => {
                mode = m;
                const s = seeds[m];
                const before = proxy.stats().byAction.DescribeImageReferences ?? 0;
                const instancesBefore = instanceListings;
                const r = await hooks.check({}, settings(m));
                assert.deepEqual(r.failures, undefined);
                const planned = pendingEntries(r.inputs.pending).map((p) => p.imageId);
                assert.equal(r.inputs.pending.total, s.unreferenced.length);
                assert.deepEqual(planned.sort(), [...s.unreferenced].sort());
                // DescribeImageReferences was asked (about the candidates only, ten at a time).
                assert.ok((proxy.stats().byAction.DescribeImageReferences ?? 0) > before, "DescribeImageReferences was tried");
                // Instances are enumerated directly only where the endpoint lacks the reference check (with it, only
                // those launched from a template are asked for, for the versions they name).
                const enumerated = instanceListings > instancesBefore;
                assert.equal(enumerated, m !== "emulate", "instances enumerated directly only without DescribeImageReferences");

                const plan = await computePlan(r.inputs as never, new Date());
                const reasons = expectedReasons(`refs-int-${m}`, s.running, s.parameter);
                s.referenced.forEach((imageId, i) => {
                    const skipped = plan.skipped.find((k) => k.imageId === imageId);
                    assert.ok(skipped, `image ${i} (${imageId}) is reported as kept: ${JSON.stringify(plan.skipped)}`);
                    assert.match(skipped.reason, reasons[i], `image ${i}`);
                });
            });

            it("up retires them and none of the referenced images", async () => {
                mode = m;
                const s = seeds[m];
                const { inputs } = await hooks.check({}, settings(m));
                const r = await hooks.update("policy", inputs, inputs);
                assert.deepEqual(r.outs.lastRun.failed, []);
                assert.deepEqual(r.outs.lastRun.retired.map((x: { imageId: string }) => x.imageId).sort(), [...s.unreferenced].sort());
                const left = new Set((await inventory(REGIONS[m])).images.map((i: { id: string }) => i.id));
                for (const id of s.referenced) assert.ok(left.has(id), `${id} is still there`);
                for (const id of s.unreferenced) assert.ok(!left.has(id), `${id} is gone`);
                const again = await hooks.check(inputs, settings(m));
                assert.equal(again.inputs.pending.total, 0);
            });
        });
    }

    it("a source that cannot be read stops the plan, naming the action and the IAM permission", async () => {
        mode = "emulate";
        fleetsRefused = true;
        const r = await hooks.check({}, { ...settings("emulate"), keepLatest: 1 });
        assert.equal(r.failures?.length, 1);
        assert.match(r.failures![0].reason, /DescribeFleets failed \(UnauthorizedOperation\).*grant ec2:DescribeFleets/);
    });
});
