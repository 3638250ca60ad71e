// Starts moto_server, the local EC2 emulator, on a free loopback port and
// stops it again. Used by the demo and by every test tier that talks to EC2.
//
// The code lives in emulator/moto-server.ts, compiled into the package for the
// `golden-ami emulator` command. Under ts-node (the test tiers, the bench)
// this takes the TypeScript source; in plain node (the demo, after
// scripts/setup.js compiled the package) the compiled dist/.
"use strict";

/** @type {typeof import("../../emulator/moto-server")} */
module.exports = require.extensions[".ts"] ? require("../../emulator/moto-server") : require("../../dist/emulator/moto-server");
