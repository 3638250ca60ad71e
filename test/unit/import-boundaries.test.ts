// The house rules lint enforces (eslint.config.mjs): AWS only behind
// dynamic-providers/ec2/, sdk/ never importing dynamic-providers/, no cycles.
import assert from "node:assert/strict";
import * as path from "node:path";
import { ESLint } from "eslint";

const root = path.join(__dirname, "..", "..");

async function restrictedImports(file: string, code: string): Promise<string[]> {
    const eslint = new ESLint({ cwd: root });
    const [result] = await eslint.lintText(code, { filePath: path.join(root, file) });
    return result.messages.filter((m) => m.ruleId === "no-restricted-imports").map((m) => m.message);
}

describe("import boundaries (lint)", function () {
    this.timeout(60_000);

    for (const file of ["sdk/x.ts", "dynamic-providers/x.ts", "dynamic-providers/sub/x.ts", "examples/x/index.ts"]) {
        it(`refuses an AWS SDK import in ${file}, saying where AWS calls go`, async () => {
            const messages = await restrictedImports(
                file,
                'import { EC2Client } from "@aws-sdk/client-ec2";\nimport { x } from "@smithy/core";\nexport const c = [EC2Client, x];\n',
            );
            assert.equal(messages.length, 2, messages.join("\n"));
            for (const m of messages) assert.match(m, /AWS calls go in dynamic-providers\/ec2\//);
        });
    }

    for (const file of ["dynamic-providers/ec2/x.ts", "emulator/x.ts", "bench/x.ts", "test/unit/x.ts"]) {
        it(`lets ${file} import the AWS SDK`, async () => {
            assert.deepEqual(
                await restrictedImports(file, 'import { EC2Client } from "@aws-sdk/client-ec2";\nexport const c = EC2Client;\n'),
                [],
            );
        });
    }

    it("refuses an import of dynamic-providers/ from sdk/ (dependencies run one way)", async () => {
        const messages = await restrictedImports(
            "sdk/x.ts",
            'import { pollScale } from "../dynamic-providers/ec2/limits";\nexport const p = pollScale;\n',
        );
        assert.equal(messages.length, 1);
        assert.match(messages[0], /sdk\/ never imports dynamic-providers\//);
    });

    it("finds no import cycle in sdk/, dynamic-providers/ and emulator/", async () => {
        const eslint = new ESLint({ cwd: root });
        const results = await eslint.lintFiles(["sdk", "dynamic-providers", "emulator"]);
        const cycles = results.flatMap((r) =>
            r.messages.filter((m) => m.ruleId === "import-x/no-cycle").map((m) => `${path.relative(root, r.filePath)}:${m.line}`),
        );
        assert.deepEqual(cycles, []);
    });
});
