// Teardown for the tiers that talk to EC2: after the suite, the sweeper
// removes whatever the suite made in its regions (images with their
// snapshots, snapshots left without an image), so the next suite starts
// clean even when an assertion failed halfway.
import { sweep } from "../../dynamic-providers/ec2/sweeper";

/**
 * Call last inside a `describe`, so it runs after the suite's own teardown:
 * sweeps the suite's regions of everything made since the suite was loaded.
 */
export function sweepAfterSuite(regions: string[]): void {
    // moto stamps creation times to the second
    const started = new Date(Math.floor(Date.now() / 1000) * 1000 - 1000);
    after(async function () {
        this.timeout(300_000);
        // The suite made images directly too (not marked): its own account, so everything it made goes.
        // Housekeeping, not a test: what it cannot delete in time (an image something still launches
        // from, kept by the guard) is reported, never a failure of the suite whose assertions passed.
        const work = sweep({ regions, createdAfter: started, delete: true, timeoutMinutes: 0.5, includeUnmarked: true }).then(
            (results) => results.flatMap((r) => r.failed.map((f) => `${r.region} ${f.id}: ${f.error}`)),
            (e: unknown) => [`the sweep failed: ${(e as Error).message}`],
        );
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<string[]>((resolve) => {
            timer = setTimeout(() => resolve(["the sweep did not finish within a minute"]), 60_000);
            timer.unref();
        });
        const failed = await Promise.race([work, late]);
        clearTimeout(timer);
        if (failed.length) console.error(`teardown sweep could not delete: ${failed.join("; ")}`);
    });
}
