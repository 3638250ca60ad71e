/**
 * When `pulumi` dies (SIGKILL, a CI timeout), the provider process lives on
 * with nobody reading its output. Its next progress line then fails with
 * EPIPE, and the dynamic-provider host's own uncaught-error handler logs that
 * error to the same dead pipe, fails again, and loops at full CPU with memory
 * growing without bound. Ending the process on EPIPE stops that: with the
 * engine gone there is nobody to answer. Installed once per process.
 */
let installed = false;

export function exitWhenOutputIsGone(): void {
    if (installed) return;
    installed = true;
    for (const stream of [process.stdout, process.stderr]) {
        stream.on("error", (e: NodeJS.ErrnoException) => {
            if (e.code === "EPIPE" || e.code === "ERR_STREAM_DESTROYED") process.exit(1);
        });
    }
}
