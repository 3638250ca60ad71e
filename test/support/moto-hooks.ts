// Mocha root hooks for the tiers that talk to EC2: one moto_server for the
// whole run on a free loopback port, the SDK pointed at it, stopped at the end.
import { startMoto, motoEnv } from "../../scripts/lib/moto";

type Moto = Awaited<ReturnType<typeof startMoto>>;
let moto: Moto | undefined;

/** The running emulator (started by the root hook). */
export function currentMoto(): Moto {
    if (!moto) throw new Error("moto is not running: load test/support/moto-hooks.ts with --require");
    return moto;
}

export const mochaHooks = {
    async beforeAll(this: Mocha.Context) {
        this.timeout(90_000);
        moto = await startMoto();
        Object.assign(process.env, motoEnv(moto.endpoint));
    },
    async afterAll(this: Mocha.Context) {
        this.timeout(30_000);
        await moto?.stop();
    },
};
