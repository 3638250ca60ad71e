// The extraction behind test/e2e/readme-examples.test.ts: every TypeScript
// fence of README becomes a program a user would write from it.
import assert from "node:assert/strict";
import { exampleProgram, filesFor, readmeExamples } from "../support/readme-examples";

const IDS = { instanceId: "i-0aaaaaaaaaaaaaaaa", imageId: "ami-0bbbbbbbbbbbbbbbb" };

describe("README examples as programs", () => {
    it("finds every TypeScript fence of README, with its line and heading", () => {
        const examples = readmeExamples();
        assert.ok(examples.length >= 6, `${examples.length} examples`);
        assert.ok(examples.every((e) => e.code.trim().length > 0 && e.line > 0 && e.heading.length > 0));
        assert.ok(examples.some((e) => e.code.includes("new GoldenImage(")));
    });

    it("imports what an example uses, defines web and instance when it borrows them, and replaces the placeholder ids", () => {
        const md = [
            "## Copy it",
            "```ts",
            'const dr = new AmiCopy("dr", { sourceAmiId: web.imageId, sourceAmiRegion: "us-east-1" });',
            'const m = new ManagedAmi("m", { imageId: "ami-0123456789abcdef0" });',
            'const w2 = new AmiFromInstance("w2", { sourceInstanceId: instance.id });',
            "```",
        ].join("\n");
        const [e] = readmeExamples(md);
        assert.equal(e.heading, "Copy it");
        const program = exampleProgram(e, IDS);
        assert.match(program, /^import \{ AmiCopy, AmiFromInstance, ManagedAmi \} from "golden-ami";$/m);
        assert.match(program, /^const web = new AmiFromInstance\("readme-source", \{ sourceInstanceId: "i-0aaaaaaaaaaaaaaaa" \}\);$/m);
        assert.match(program, /^const instance = \{ id: pulumi\.output\("i-0aaaaaaaaaaaaaaaa"\) \};$/m);
        assert.match(program, /imageId: "ami-0bbbbbbbbbbbbbbbb"/);
        assert.doesNotMatch(program, /0123456789abcdef0/);
    });

    it("keeps an example's own definitions and replaces its own golden-ami import", () => {
        const md = [
            "# X",
            "```ts",
            'import { AmiFromInstance } from "golden-ami";',
            'const web = new AmiFromInstance("web", { sourceInstanceId: "i-0123456789abcdef0" });',
            "export const id = web.imageId;",
            "```",
        ].join("\n");
        const program = exampleProgram(readmeExamples(md)[0], IDS);
        assert.equal(program.match(/from "golden-ami"/g)?.length, 1);
        assert.doesNotMatch(program, /readme-source/);
    });

    it("gives an example the scripts it reads: the repository's example file, else the script README shows after it", () => {
        const md = [
            "# G",
            "```ts",
            'build: { userData: fs.readFileSync("provision.sh", "utf8") }, test: { userData: fs.readFileSync("test.sh", "utf8") }',
            "```",
            "```sh",
            "#!/bin/bash",
            'echo "golden-ami: success"',
            "poweroff",
            "```",
        ].join("\n");
        const files = filesFor(readmeExamples(md)[0], md);
        assert.match(files["provision.sh"], /poweroff\s*$/);
        assert.equal(files["test.sh"], '#!/bin/bash\necho "golden-ami: success"\npoweroff\n');
    });
});
