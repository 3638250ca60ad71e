// ESLint (typescript-eslint) for the package, the tests, the scripts and the examples.
import js from "@eslint/js";
import { createNodeResolver, importX } from "eslint-plugin-import-x";
import tseslint from "typescript-eslint";

// The EC2 boundary: AWS is called only from dynamic-providers/ec2/ (client
// factory, finders, waiters, image lifecycle). The emulator, the bench, the
// scripts and the tests talk to AWS (or moto) directly on purpose.
const AWS_SDK_OUTSIDE_BOUNDARY = {
    group: ["@aws-sdk/*", "@smithy/*"],
    message:
        "AWS calls go in dynamic-providers/ec2/ (the EC2 boundary): add or reuse a function there (a finder, waiter or image-lifecycle step) and call it from here.",
};

export default tseslint.config(
    { ignores: ["dist/**", "docs/**", "node_modules/**", ".tools/**", "**/node_modules/**", "tools/**"] },
    js.configs.recommended,
    ...tseslint.configs.recommended,
    {
        languageOptions: {
            globals: {
                console: "readonly",
                process: "readonly",
                require: "readonly",
                module: "writable",
                __dirname: "readonly",
                Buffer: "readonly",
                setTimeout: "readonly",
                clearTimeout: "readonly",
            },
        },
        rules: {
            "@typescript-eslint/no-unused-vars": [
                "error",
                { argsIgnorePattern: "^_", varsIgnorePattern: "^_", destructuredArrayIgnorePattern: "^_" },
            ],
        },
    },
    {
        files: ["**/*.ts"],
        rules: { "no-restricted-imports": ["error", { patterns: [AWS_SDK_OUTSIDE_BOUNDARY] }] },
    },
    {
        // Dependencies run one way: sdk/ never imports dynamic-providers/ (the
        // provider objects load it lazily, by package name, in the provider process).
        files: ["sdk/**/*.ts"],
        rules: {
            "no-restricted-imports": [
                "error",
                {
                    patterns: [
                        AWS_SDK_OUTSIDE_BOUNDARY,
                        {
                            group: ["**/dynamic-providers", "**/dynamic-providers/**"],
                            message:
                                "sdk/ never imports dynamic-providers/: move what both need (a pure constant, type or rule) into sdk/ and import it from there.",
                        },
                    ],
                },
            ],
        },
    },
    {
        files: ["dynamic-providers/ec2/**", "emulator/**", "bench/**", "scripts/**", "test/**"],
        rules: { "no-restricted-imports": "off" },
    },
    {
        // No import cycles in the package: dependencies run one way
        // (sdk <- dynamic-providers <- dynamic-providers/ec2; the emulator on its own).
        files: ["sdk/**/*.ts", "dynamic-providers/**/*.ts", "emulator/**/*.ts"],
        plugins: { "import-x": importX },
        settings: {
            "import-x/parsers": { "@typescript-eslint/parser": [".ts"] },
            "import-x/resolver-next": [createNodeResolver({ extensions: [".ts", ".js", ".json"] })],
        },
        rules: { "import-x/no-cycle": ["error", { ignoreExternal: true, commonjs: true }] },
    },
    {
        files: ["**/*.js"],
        rules: { "@typescript-eslint/no-require-imports": "off" },
    },
    {
        files: ["test/**/*.ts", "bench/**/*.ts"],
        rules: { "@typescript-eslint/no-explicit-any": "off" },
    },
);
