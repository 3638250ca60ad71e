// The README's TypeScript examples as programs a user would write from them:
// extracted from the ```ts fences, given the imports and the few names an
// example takes from the one before it (`web`, `instance`), with the
// placeholder ids replaced by ones that exist, as a user replaces them with
// their own. test/e2e/readme-examples.test.ts runs them under the real CLI.
import * as fs from "node:fs";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "..", "..");

export interface ReadmeExample {
    /** 1-based position among the README's TypeScript examples. */
    index: number;
    /** Line of the opening fence in README.md. */
    line: number;
    /** The nearest heading above it. */
    heading: string;
    code: string;
}

/** Every ```ts (or ```typescript) fence of `markdown`, in order. */
export function readmeExamples(markdown = fs.readFileSync(path.join(ROOT, "README.md"), "utf8")): ReadmeExample[] {
    const lines = markdown.split("\n");
    const out: ReadmeExample[] = [];
    let heading = "";
    for (let i = 0; i < lines.length; i++) {
        const h = /^#+\s+(.*)$/.exec(lines[i]);
        if (h) heading = h[1];
        const fence = /^(\s*)```(ts|typescript)\s*$/.exec(lines[i]);
        if (!fence) continue;
        const body: string[] = [];
        let j = i + 1;
        for (; j < lines.length && !/^\s*```\s*$/.test(lines[j]); j++) body.push(lines[j].slice(fence[1].length));
        out.push({ index: out.length + 1, line: i + 1, heading, code: body.join("\n") });
        i = j;
    }
    return out;
}

/** What the placeholders of the README stand for in the test's account. */
export interface ExampleIds {
    /** Replaces `i-0123456789abcdef0`: an instance to bake. */
    instanceId: string;
    /** Replaces `ami-0123456789abcdef0`: an image this account owns. */
    imageId: string;
    /** Replaces `snap-0123456789abcdef0`: a snapshot of this account's (AmiFromSnapshot's example). */
    snapshotId?: string;
    /** SSM parameter names to read instead of the README's, when the emulator lacks one (see the test). */
    parameters?: Record<string, string>;
}

/** The names golden-ami exports at run time (classes and functions an example may use without importing them). */
function runtimeExports(): string[] {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return Object.keys(require("../../sdk") as object);
}

/**
 * The program for one example: its own imports of golden-ami replaced by one
 * import of every golden-ami name it uses, `web` (an AmiFromInstance) and
 * `instance` defined when it uses them without defining them, placeholder
 * ids replaced.
 */
export function exampleProgram(example: ReadmeExample, ids: ExampleIds): string {
    const imported = new Set<string>();
    let body = example.code
        .split("\n")
        .filter((l) => {
            const m = /^import\s*\{([^}]*)\}\s*from\s*"golden-ami";\s*$/.exec(l);
            if (m) for (const n of m[1].split(",")) if (n.trim()) imported.add(n.trim());
            return !m;
        })
        .join("\n")
        .replaceAll('"i-0123456789abcdef0"', JSON.stringify(ids.instanceId))
        .replaceAll('"ami-0123456789abcdef0"', JSON.stringify(ids.imageId))
        .replaceAll('"snap-0123456789abcdef0"', JSON.stringify(ids.snapshotId ?? "snap-0123456789abcdef0"));
    for (const [from, to] of Object.entries(ids.parameters ?? {})) body = body.replaceAll(JSON.stringify(from), JSON.stringify(to));
    const defines = (name: string) => new RegExp(`\\b(const|let|var)\\s+${name}\\b`).test(body);
    const prelude: string[] = [];
    if (/\bweb\./.test(body) && !defines("web")) {
        prelude.push(`const web = new AmiFromInstance("readme-source", { sourceInstanceId: ${JSON.stringify(ids.instanceId)} });`);
    }
    if (/\binstance\.id\b/.test(body) && !defines("instance")) {
        prelude.push(`const instance = { id: pulumi.output(${JSON.stringify(ids.instanceId)}) };`);
    }
    const text = [...prelude, body].join("\n");
    for (const n of runtimeExports()) if (new RegExp(`\\b${n}\\b`).test(text)) imported.add(n);
    return [
        `// README.md line ${example.line} (${example.heading}), as a program.`,
        `import * as pulumi from "@pulumi/pulumi";`,
        `import { ${[...imported].sort().join(", ")} } from "golden-ami";`,
        ``,
        text,
        ``,
    ].join("\n");
}

/**
 * The files an example reads with `fs.readFileSync("<name>")` (a GoldenImage's
 * scripts), as a user who follows README has them: the repository's
 * examples/golden-pipeline/<name> when there is one, else the first shell
 * script README shows after the example (a fence whose first line is `#!`).
 */
export function filesFor(example: ReadmeExample, markdown = fs.readFileSync(path.join(ROOT, "README.md"), "utf8")): Record<string, string> {
    const names = [...example.code.matchAll(/readFileSync\("([^"]+)"/g)].map((m) => m[1]);
    const after = markdown.split("\n").slice(example.line).join("\n");
    const shown = /```(?:sh|bash)\n(#![^\n]*\n[\s\S]*?)```/.exec(after)?.[1];
    const out: Record<string, string> = {};
    for (const name of names) {
        const file = path.join(ROOT, "examples", "golden-pipeline", name);
        if (fs.existsSync(file)) out[name] = fs.readFileSync(file, "utf8");
        else if (shown) out[name] = shown;
        else throw new Error(`README.md line ${example.line} reads ${name}, which neither examples/golden-pipeline nor README shows`);
    }
    return out;
}

/** Writes the example as a Pulumi project under `parent` (`readme-<index>/`); `files` are copied beside it. */
export function writeExampleProject(parent: string, example: ReadmeExample, ids: ExampleIds, files: Record<string, string> = {}): string {
    const dir = path.join(parent, `readme-${example.index}`);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(
        path.join(dir, "Pulumi.yaml"),
        `name: readme-${example.index}\nruntime:\n    name: nodejs\n    options:\n        typescript: true\n`,
    );
    fs.writeFileSync(path.join(dir, "index.ts"), exampleProgram(example, ids));
    for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
    return dir;
}
