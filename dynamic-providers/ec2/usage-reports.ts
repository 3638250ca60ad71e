import {
    CreateImageUsageReportCommand,
    DeleteImageUsageReportCommand,
    DescribeImageUsageReportsCommand,
    ImageUsageReport,
    paginateDescribeImageUsageReportEntries,
} from "@aws-sdk/client-ec2";
import { createWaiter, WaiterState } from "@smithy/core/client";
import { describeError, errorCode } from "./errors";
import {
    pollScale,
    PROGRESS_FIRST_SECONDS,
    PROGRESS_INTERVAL_SECONDS,
    USAGE_REPORT_POLL_MAX_DELAY_SECONDS,
    USAGE_REPORT_POLL_MIN_DELAY_SECONDS,
    USAGE_REPORT_TIMEOUT_MINUTES,
    USAGE_REPORT_VERSION_DEPTH,
} from "./limits";
import type { EC2Client } from "./sdk-types";

/**
 * EC2's image usage reports (CreateImageUsageReport,
 * DescribeImageUsageReports, DescribeImageUsageReportEntries,
 * DeleteImageUsageReport): which other accounts run instances or keep launch
 * templates from an image its owner shared. A report is `pending`, then
 * `available` or `error`, and EC2 deletes it 30 days after it was made
 * (API_ImageUsageReport.html). Anything but an available, unexpired report
 * that could be read in full is "unknown", never "unused".
 */

/** What a usage report says about an image. */
export type UsageFinding =
    | { kind: "unused"; reportId: string }
    | { kind: "used"; reportId: string; users: string[] }
    | { kind: "unknown"; reportId?: string; why: string };

export interface UsageReportWait {
    /** Called at each poll of the report (progress lines: usageReportProgress). */
    onPoll?: () => void;
    /** @default USAGE_REPORT_TIMEOUT_MINUTES, scaled by GOLDEN_AMI_POLL_SCALE */
    timeoutMs?: number;
    /** For the waiter's delays; scaled by GOLDEN_AMI_POLL_SCALE. */
    minDelaySeconds?: number;
    maxDelaySeconds?: number;
}

const REPORT_NOT_FOUND = "InvalidImageUsageReportId.NotFound";

/**
 * One image's use by accounts other than `ownerId`: a report created, waited
 * for (bounded), read in full, then deleted (best effort: a report left
 * behind expires after 30 days). Never throws: every failure is `unknown`.
 */
export async function usageByOtherAccounts(
    client: EC2Client,
    imageId: string,
    ownerId: string,
    options: UsageReportWait = {},
): Promise<UsageFinding> {
    let reportId: string | undefined;
    try {
        reportId = (
            await client.send(
                new CreateImageUsageReportCommand({
                    ImageId: imageId,
                    ResourceTypes: [
                        { ResourceType: "ec2:Instance" },
                        {
                            ResourceType: "ec2:LaunchTemplate",
                            ResourceTypeOptions: [{ OptionName: "version-depth", OptionValues: [String(USAGE_REPORT_VERSION_DEPTH)] }],
                        },
                    ],
                }),
            )
        ).ReportId;
        if (!reportId) return { kind: "unknown", why: "CreateImageUsageReport answered no report id" };
    } catch (e) {
        return { kind: "unknown", why: `creating its usage report: ${describeError(e)}` };
    }
    try {
        return await readWhenReady(client, imageId, ownerId, reportId, options);
    } finally {
        await client.send(new DeleteImageUsageReportCommand({ ReportId: reportId })).catch((e: unknown) => {
            // Gone already: nothing to clean. Anything else (AccessDenied, throttling) is said, not hidden: the
            // finding stands either way, and a report left behind expires 30 days after it was made.
            if (errorCode(e) !== REPORT_NOT_FOUND)
                console.log(
                    `usage report ${reportId} of ${imageId} not deleted (${describeError(e)}); EC2 deletes it 30 days after it was made`,
                );
        });
    }
}

async function readWhenReady(
    client: EC2Client,
    imageId: string,
    ownerId: string,
    reportId: string,
    options: UsageReportWait,
): Promise<UsageFinding> {
    const unknown = (why: string): UsageFinding => ({ kind: "unknown", reportId, why: `usage report ${reportId} ${why}` });
    const scale = pollScale();
    const timeoutMs = options.timeoutMs ?? USAGE_REPORT_TIMEOUT_MINUTES * 60_000 * scale;
    const minDelay = (options.minDelaySeconds ?? USAGE_REPORT_POLL_MIN_DELAY_SECONDS) * scale;
    const maxDelay = Math.max(minDelay, (options.maxDelaySeconds ?? USAGE_REPORT_POLL_MAX_DELAY_SECONDS) * scale);
    let last: ImageUsageReport | undefined;
    let result;
    try {
        result = await createWaiter(
            { client, maxWaitTime: Math.max(timeoutMs / 1000, minDelay * 2), minDelay, maxDelay },
            reportId,
            async (c: EC2Client, id: string) => {
                options.onPoll?.();
                last = (await c.send(new DescribeImageUsageReportsCommand({ ReportIds: [id] }))).ImageUsageReports?.find(
                    (r) => r.ReportId === id,
                );
                if (last?.State === "available") return { state: WaiterState.SUCCESS, reason: last };
                // `error` per the API reference; `failed` is what the SDK's own waiter looks for.
                if (last?.State === "error" || last?.State === "failed") return { state: WaiterState.FAILURE, reason: last };
                return { state: WaiterState.RETRY, reason: last };
            },
        );
    } catch (e) {
        if (errorCode(e) === REPORT_NOT_FOUND) return unknown("is gone (expired or deleted) before it was read");
        return unknown(`could not be read: ${describeError(e)}`);
    }
    if (result.state === WaiterState.FAILURE)
        return unknown(`is in state ${last?.State}${last?.StateReason ? `: ${last.StateReason}` : ""}`);
    if (result.state !== WaiterState.SUCCESS)
        return unknown(`was still ${last?.State ?? "not listed"} after ${Math.round(timeoutMs / 1000)} s`);
    if (last?.ExpirationTime && last.ExpirationTime.getTime() <= Date.now())
        return unknown(`expired at ${last.ExpirationTime.toISOString()}`);

    const users = new Map<string, string[]>();
    try {
        for await (const page of paginateDescribeImageUsageReportEntries({ client }, { ReportIds: [reportId] })) {
            for (const e of page.ImageUsageReportEntries ?? []) {
                if (e.ImageId !== undefined && e.ImageId !== imageId) continue;
                if (!e.AccountId || e.AccountId === ownerId || !e.UsageCount) continue;
                const kind =
                    e.ResourceType === "ec2:Instance"
                        ? "instance"
                        : e.ResourceType === "ec2:LaunchTemplate"
                          ? "launch template"
                          : e.ResourceType;
                const list = users.get(e.AccountId) ?? [];
                list.push(`${e.UsageCount} ${kind}${e.UsageCount === 1 ? "" : "s"}`);
                users.set(e.AccountId, list);
            }
        }
    } catch (e) {
        if (errorCode(e) === REPORT_NOT_FOUND) return unknown("is gone (expired or deleted) before its entries were read");
        return unknown(`entries could not be read: ${describeError(e)}`);
    }
    if (users.size === 0) return { kind: "unused", reportId };
    return {
        kind: "used",
        reportId,
        users: [...users.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([a, what]) => `account ${a}: ${what.join(", ")}`),
    };
}

/** Progress lines while a region's reports are pending: the first after PROGRESS_FIRST_SECONDS, then every PROGRESS_INTERVAL_SECONDS. */
export function usageReportProgress(label: string, total: number, print: (line: string) => void): { done(): void; tick(): void } {
    const started = Date.now();
    let ready = 0;
    let lastPrinted = started;
    return {
        done: () => {
            ready++;
        },
        tick: () => {
            const now = Date.now();
            const every = lastPrinted === started ? PROGRESS_FIRST_SECONDS : PROGRESS_INTERVAL_SECONDS;
            if (now - lastPrinted < every * 1000 * pollScale()) return;
            lastPrinted = now;
            print(`${label}: ${ready} of ${total} image usage reports read after ${Math.round((now - started) / 1000)} s`);
        },
    };
}
