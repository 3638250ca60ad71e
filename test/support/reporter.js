// Mocha's spec reporter, plus the tier's totals written to the file named in
// GOLDEN_AMI_TEST_STATS, so scripts/test.js can print one closing line for all
// tiers.
"use strict";

const fs = require("node:fs");
const Mocha = require("mocha");

class StatsReporter extends Mocha.reporters.Spec {
    constructor(runner, options) {
        super(runner, options);
        runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => {
            const file = process.env.GOLDEN_AMI_TEST_STATS;
            if (!file) return;
            const s = runner.stats ?? {};
            fs.writeFileSync(file, JSON.stringify({ passes: s.passes ?? 0, failures: s.failures ?? 0, pending: s.pending ?? 0 }));
        });
    }
}

module.exports = StatsReporter;
