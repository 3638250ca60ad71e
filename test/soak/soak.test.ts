// A short soak, part of `npm test`; `npm run soak` runs a long one.
import assert from "node:assert/strict";
import { currentMoto } from "../support/moto-hooks";
import { runSoak, soakLine } from "./soak";

describe("soak (real pulumi CLI, fault proxy at 30% with every EC2 behaviour on, moto)", () => {
    it("cycles the whole pipeline with no leaked AMI or snapshot, no duplicate, no lost image and no drift", async () => {
        const r = await runSoak({
            motoEndpoint: currentMoto().endpoint,
            cycles: 2,
            faultRate: 0.3,
            seed: 7,
            log: (l) => console.log(`      ${l}`),
        });
        console.log(
            `      ${soakLine(r)} (requests=${r.requests} reruns=${r.reruns} staleRefreshes=${r.staleRefreshes} throttled=${r.throttled})`,
        );
        assert.equal(r.cycles, 2);
        assert.ok(r.faults >= 0.2 * r.requests, `faults ${r.faults} of ${r.requests} requests`);
        assert.deepEqual([r.leakedAmis, r.leakedSnapshots, r.duplicates, r.lostImages, r.drift], [0, 0, 0, 0, 0], soakLine(r));
    });
});
