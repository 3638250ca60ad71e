// `npm run soak -- [--cycles N] [--fault-rate R] [--seed S]`: a long soak.
// Prints progress, then its figures on the last line.
import { motoEnv, startMoto } from "../../scripts/lib/moto";
import { runSoak, soakLine } from "./soak";

function arg(name: string, fallback: number): number {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

async function main() {
    const moto = await startMoto();
    // Seeding and sweeps go to moto directly; the stacks go through the fault proxy.
    Object.assign(process.env, motoEnv(moto.endpoint));
    try {
        const r = await runSoak({
            motoEndpoint: moto.endpoint,
            cycles: arg("cycles", 10),
            faultRate: arg("fault-rate", 0.25),
            seed: arg("seed", Date.now() % 100000),
            log: (l) => console.log(l),
        });
        console.log(`requests=${r.requests} reruns=${r.reruns} staleRefreshes=${r.staleRefreshes} throttled=${r.throttled}`);
        console.log(soakLine(r));
        if (r.leakedAmis || r.leakedSnapshots || r.duplicates || r.lostImages || r.drift) process.exitCode = 1;
    } finally {
        await moto.stop();
    }
}

main().catch((e) => {
    console.error(`soak failed: ${e.message}`);
    process.exit(1);
});
