// Behaving under the engine's features: resource options, names decided once,
// kept images, previews that say why, secrets never printed. Pure parts.
import assert from "node:assert/strict";
import { descriptor as fromInstance } from "../../sdk/ami-from-instance";
import { buildHash } from "../../sdk/golden-image-bake";
import { optionInputs, timeoutMinutes, topLevelKey } from "../../sdk/resource-options";
import { describeAdoptionChange } from "../../dynamic-providers/adoption-plan";
import { diffImage, keepDecided, planningHooks, replaceReason } from "../../dynamic-providers/image-planning";
import { CREATE_FINISHED_TAG, isFinishedCreate, keptImageError } from "../../dynamic-providers/kept-image";
import { tagsToRecord } from "../../dynamic-providers/ec2/converters";

const base = { region: "us-east-1", sourceInstanceId: "i-0123456789abcdef0", snapshotWithoutReboot: false, blockDeviceMappings: [] };

describe("resource options the protocol drops", () => {
    it("reads customTimeouts durations as Pulumi writes them, in whole minutes", () => {
        assert.equal(timeoutMinutes("90m", "x"), 90);
        assert.equal(timeoutMinutes("1h30m", "x"), 90);
        assert.equal(timeoutMinutes("30s", "x"), 1);
        assert.equal(timeoutMinutes("1.5h", "x"), 90);
        assert.equal(timeoutMinutes(undefined, "x"), undefined);
        assert.throws(() => timeoutMinutes("soon", "customTimeouts.create"), /customTimeouts.create: "soon" is not a duration/);
    });

    it("turns customTimeouts into the create and delete limits and replaceOnChanges into top-level keys", () => {
        const got = optionInputs(
            "AmiFromInstance",
            "web",
            { customTimeouts: { create: "2h", delete: "5m" }, replaceOnChanges: ["tags.App", "description"] },
            "",
        );
        assert.deepEqual(got, { createTimeoutMinutes: 120, deleteTimeoutMinutes: 5, replaceOnChanges: ["description", "tags"] });
        assert.equal(topLevelKey('tags["App"]'), "tags");
        assert.deepEqual(optionInputs("AmiFromInstance", "web", undefined, ""), {});
    });

    it("refuses import and customTimeouts.update at construction, naming the alternative", () => {
        assert.throws(
            () => optionInputs("AmiFromInstance", "web", { import: "ami-1" }, "adopt it with ManagedAmi"),
            /web: the import resource option cannot work.*ManagedAmi/,
        );
        assert.throws(
            () => optionInputs("AmiCopy", "dr", { customTimeouts: { update: "1m" } }, ""),
            /AmiCopy dr: customTimeouts.update has no effect.*customTimeouts.create/,
        );
    });

    it("replaceOnChanges makes an in-place change a replacement, named as such", () => {
        const olds = { ...base, name: "web-1", tags: { App: "a" } };
        const keys = ["sourceInstanceId", "name", "snapshotWithoutReboot", "blockDeviceMappings", "region"];
        const plain = diffImage(olds, { ...olds, tags: { App: "b" } }, keys);
        assert.deepEqual(plain.replaces, [], "an update without the option");
        const asked = diffImage(olds, { ...olds, tags: { App: "b" }, replaceOnChanges: ["tags"] }, keys);
        assert.deepEqual(asked.replaces, ["tags"]);
        assert.equal(asked.deleteBeforeReplace, true, "same name: the old image goes first");
        assert.match(replaceReason(fromInstance, olds, ["tags"]), /replaced because tags \(replaceOnChanges\) changed/);
        const all = diffImage(olds, { ...olds, description: "d", replaceOnChanges: ["*"] }, keys);
        assert.deepEqual(all.replaces, ["description"]);
    });
});

describe("names decided once", () => {
    const hooks = planningHooks(fromInstance);

    it("keeps the name in state when only the name the class makes changed (a resource or stack rename)", async () => {
        const olds = { ...base, name: "web-aaaaaaaa", autoNamed: true };
        const { inputs } = await hooks.check(olds, { ...base, name: "site-bbbbbbbb", autoNamed: true });
        assert.equal(inputs.name, "web-aaaaaaaa");
        const d = await hooks.diff("ami-1", { ...olds, imageId: "ami-1" } as never, inputs as never);
        assert.equal(d.changes, false, "nothing to do in EC2");
    });

    it("takes the new name on a replacement, and names the cause without the derived name", async () => {
        const olds = { ...base, name: "web-aaaaaaaa", autoNamed: true };
        const news = { ...base, sourceInstanceId: "i-0fedcba9876543210", name: "web-cccccccc", autoNamed: true };
        const { inputs } = await hooks.check(olds, news);
        assert.equal(inputs.name, "web-cccccccc");
        const d = await hooks.diff("ami-1", { ...olds, imageId: "ami-1" } as never, inputs as never);
        assert.deepEqual(d.replaces, ["sourceInstanceId"]);
    });

    it("never overrides a name the program gives", () => {
        const out = keepDecided(fromInstance, { ...base, name: "web-a", autoNamed: true }, { ...base, name: "mine" });
        assert.equal(out.name, "mine");
    });

    it("keeps the publisher mark of a parameter that stays", () => {
        const p = { ssmParameter: "/golden/web", owner: "proj/dev/AmiFromInstance/web" };
        const out = keepDecided(
            fromInstance,
            { ...base, name: "n", publish: p },
            { ...base, name: "n", publish: { ...p, owner: "proj/prod/AmiFromInstance/web" } },
        );
        assert.equal(out.publish?.owner, p.owner);
    });

    it("says why an image deregistered outside Pulumi is replaced", () => {
        assert.match(replaceReason(fromInstance, { name: "web", imageId: "ami-1" }, ["state"]), /deregistered outside Pulumi/);
    });
});

describe("retained means released", () => {
    it("tells an image a finished create made from one an interrupted create left", () => {
        assert.equal(isFinishedCreate({ ImageId: "ami-1", Tags: [{ Key: CREATE_FINISHED_TAG, Value: "ami-1" }] }), true);
        assert.equal(isFinishedCreate({ ImageId: "ami-1", Tags: [] }), false, "interrupted: adopted");
        assert.equal(
            isFinishedCreate({ ImageId: "ami-2", Tags: [{ Key: CREATE_FINISHED_TAG, Value: "ami-1" }] }),
            false,
            "a copy with its source's tags",
        );
        assert.deepEqual(
            tagsToRecord([
                { Key: CREATE_FINISHED_TAG, Value: "ami-1" },
                { Key: "App", Value: "web" },
            ]),
            { App: "web" },
            "never an input, output or drift",
        );
    });

    it("names the kept image and the ways out", () => {
        const e = keptImageError("creating AMI (web-1)", { ImageId: "ami-1", Name: "web-1" });
        assert.match(e.message, /ami-1 \(web-1\) already exists and this create did not make it/);
        assert.match(e.message, /ManagedAmi\("…", \{ imageId: "ami-1" \}\)/);
        assert.match(e.message, /another name/);
    });
});

describe("secrets", () => {
    it("check keeps the key of an output made from a secret (the engine marks that output secret by its key)", async () => {
        const news = { ...base, name: "web-aaaaaaaa", publish: { ssmParameter: "/p", owner: "o" }, publishedParameter: "/p" };
        const { inputs } = await planningHooks(fromInstance).check({}, news);
        assert.equal(inputs.publishedParameter, "/p");
    });

    it("never prints the values of secret inputs in adoption lines", () => {
        const c = { property: "tags" as const, key: "Token", from: "old-secret", to: "new-secret" };
        assert.equal(describeAdoptionChange(c, new Set(["tags"])), "tag Token: [secret] -> [secret]");
        assert.equal(describeAdoptionChange(c), 'tag Token: "old-secret" -> "new-secret"');
    });

    it("stretches the build hash of a secret script, still deterministic", () => {
        const parts = { baseImageId: "ami-0123456789abcdef0", userData: "pw=7", instanceType: "t3.micro", region: "us-east-1" };
        const secret = buildHash(parts, true)!;
        assert.match(secret, /^[0-9a-f]{16}$/);
        assert.equal(buildHash(parts, true), secret);
        assert.notEqual(buildHash(parts), secret);
    });
});
