// The local emulator of `golden-ami emulator` (moto_server and the EC2 proxy
// in front of it), for the demo. Like scripts/lib/moto.js: the TypeScript
// source under ts-node, else the compiled package (scripts/setup.js builds it).
"use strict";

/** @type {typeof import("../../emulator/emulator")} */
module.exports = require.extensions[".ts"] ? require("../../emulator/emulator") : require("../../dist/emulator/emulator");
