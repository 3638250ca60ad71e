// File names say what is inside: no two source files of sdk/, dynamic-providers/,
// emulator/ and scripts/ share a base name, so a name found in a stack trace,
// an import or a review points at one file.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";

const ROOT = path.join(__dirname, "..", "..");
const FOLDERS = ["sdk", "dynamic-providers", "emulator", "scripts"];
const SOURCE = /\.(ts|js|mjs|cjs)$/;

function sources(dir: string): string[] {
    return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
        const rel = path.posix.join(dir, e.name);
        if (e.isDirectory()) return sources(rel);
        return SOURCE.test(e.name) && !e.name.endsWith(".d.ts") ? [rel] : [];
    });
}

/**
 * The one pairing allowed: `sdk/providers/<module>.ts`, the provider object of
 * the resource in `sdk/<module>.ts`. Its path is part of every stack's state
 * (Pulumi records `require("golden-ami/providers/<module>")`), so it keeps
 * the resource's name for good.
 */
function isProviderOfItsResource(file: string, other: string): boolean {
    const base = path.posix.basename(file);
    const pair = new Set([file, other]);
    return pair.has(`sdk/${base}`) && pair.has(`sdk/providers/${base}`);
}

/** Files that share a base name (without the extension), other than a provider object and its resource. */
export function sharedBaseNames(files: readonly string[]): string[][] {
    const byBase = new Map<string, string[]>();
    for (const f of files) {
        const base = path.posix.basename(f).replace(SOURCE, "");
        byBase.set(base, [...(byBase.get(base) ?? []), f]);
    }
    return [...byBase.values()].filter((fs) => fs.length > 2 || (fs.length === 2 && !isProviderOfItsResource(fs[0], fs[1])));
}

describe("source file names", () => {
    it("no two source files of sdk/, dynamic-providers/, emulator/ and scripts/ share a base name (but a provider object and its resource)", () => {
        const clashes = sharedBaseNames(FOLDERS.flatMap(sources));
        assert.deepEqual(clashes, [], `rename so that each name says what the file holds: ${JSON.stringify(clashes)}`);
    });

    it("the check finds a clash across folders and allows only sdk/<module>.ts with sdk/providers/<module>.ts", () => {
        assert.deepEqual(sharedBaseNames(["sdk/publish.ts", "dynamic-providers/publish.ts"]), [
            ["sdk/publish.ts", "dynamic-providers/publish.ts"],
        ]);
        assert.deepEqual(sharedBaseNames(["emulator/moto.ts", "scripts/lib/moto.js"]), [["emulator/moto.ts", "scripts/lib/moto.js"]]);
        assert.deepEqual(sharedBaseNames(["sdk/ami-copy.ts", "sdk/providers/ami-copy.ts"]), []);
        assert.equal(sharedBaseNames(["sdk/ami-copy.ts", "sdk/providers/ami-copy.ts", "dynamic-providers/ami-copy.ts"]).length, 1);
    });
});
