// Mocha root hooks for the tiers that talk to EC2: one EC2 endpoint for the
// whole run on a free loopback port, the SDK pointed at it, stopped at the end.
//
// With GOLDEN_AMI_TEST_EC2=emulator (scripts/test.js sets it for the e2e,
// compat and soak tiers) the endpoint is the strict emulator users get from
// `npx golden-ami emulator` (emulator/emulator.ts: its own image service in
// front of moto, every EC2 behaviour on); otherwise bare moto_server, which
// the integration tier's proxy tests put their own proxy in front of.
import { startEmulator } from "../../emulator/emulator";
import { startMoto, motoEnv } from "../../scripts/lib/moto";

/** The EC2 endpoint of the run, and how to stop it. */
export interface TestEc2 {
    endpoint: string;
    stop(): Promise<void>;
}

let ec2: TestEc2 | undefined;

/** The running EC2 endpoint (started by the root hook): moto, or the strict emulator in front of it. */
export function currentMoto(): TestEc2 {
    if (!ec2) throw new Error("moto is not running: load test/support/moto-hooks.ts with --require");
    return ec2;
}

export const mochaHooks = {
    async beforeAll(this: Mocha.Context) {
        this.timeout(90_000);
        ec2 = process.env.GOLDEN_AMI_TEST_EC2 === "emulator" ? await startEmulator() : await startMoto();
        Object.assign(process.env, motoEnv(ec2.endpoint));
    },
    async afterAll(this: Mocha.Context) {
        this.timeout(30_000);
        await ec2?.stop();
    },
};
