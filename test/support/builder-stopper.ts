// Moto runs no user data, so nothing powers a builder off. Until the
// emulator does it (emulator/builders.ts), tests stand in for the script's
// final `poweroff`: running builders of `owner` are stopped after `afterMs`.
import { DescribeInstancesCommand, EC2Client, StopInstancesCommand } from "@aws-sdk/client-ec2";

export interface BuilderStopper {
    /** Instances stopped so far. */
    stopped: string[];
    stop(): Promise<void>;
}

export function stopBuildersWhenLaunched(
    region: string,
    options: { endpoint?: string; afterMs?: number; owner?: string } = {},
): BuilderStopper {
    const ec2 = new EC2Client({ region, ...(options.endpoint ? { endpoint: options.endpoint } : {}) });
    const seen = new Map<string, number>();
    const stopped: string[] = [];
    let running = true;
    const loop = (async () => {
        while (running) {
            const out = await ec2.send(
                new DescribeInstancesCommand({
                    Filters: [
                        { Name: "tag-key", Values: ["golden-ami:builder"] },
                        { Name: "instance-state-name", Values: ["pending", "running"] },
                        ...(options.owner ? [{ Name: "tag:golden-ami:builder", Values: [options.owner] }] : []),
                    ],
                }),
            );
            for (const i of (out.Reservations ?? []).flatMap((r) => r.Instances ?? [])) {
                const id = i.InstanceId!;
                if (!seen.has(id)) seen.set(id, Date.now());
                if (Date.now() - seen.get(id)! >= (options.afterMs ?? 500) && !stopped.includes(id)) {
                    await ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));
                    stopped.push(id);
                }
            }
            await new Promise((r) => setTimeout(r, 100));
        }
    })();
    return {
        stopped,
        async stop() {
            running = false;
            await loop;
            ec2.destroy();
        },
    };
}
