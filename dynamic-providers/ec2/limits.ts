/**
 * Every time limit, poll delay and concurrency bound of golden-ami, in one
 * place. Resources take the create/delete limits from their Args; the rest are
 * fixed here.
 */

// The limits users see as Args defaults (create, copy, delete, build) live in
// sdk/time-limits.ts, which the resource classes read; one place, re-exported here.
export {
    BUILD_TIMEOUT_MINUTES,
    COPY_IMAGE_TIMEOUT_MINUTES,
    CREATE_IMAGE_TIMEOUT_MINUTES,
    DELETE_IMAGE_TIMEOUT_MINUTES,
} from "../../sdk/time-limits";

/**
 * How long an image id EC2 has just handed out (CreateImage, CopyImage) may
 * answer `InvalidAMIID.NotFound` before golden-ami stops calling it "not
 * visible yet". EC2 is eventually consistent: "if you run a command to modify
 * or describe the resource that you just created, its ID might not have
 * propagated throughout the system, and you will get an error responding that
 * the resource does not exist"; the advice is to describe with backoff
 * "starting with a couple of seconds of wait time, and increasing gradually up
 * to a few minutes" ("Eventual consistency in the Amazon EC2 API",
 * https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html).
 * Five minutes covers "a few"; the SDK's own ImageExists waiter retries
 * not-found the same way. Past it, a create keeps the id in state (the next
 * `pulumi up` finishes it), and AmiCopy takes a copy its token handed back as
 * destroyed. Scaled by GOLDEN_AMI_POLL_SCALE in tests.
 */
export const VISIBILITY_WINDOW_SECONDS = 300;

/**
 * How long `check` asks again for a source (AmiCopy's source image,
 * AmiFromInstance's instance) that EC2 answers not-found, before refusing it
 * at preview: a source the same program made moments ago may not be visible
 * yet (eventual consistency, see above). Scaled by GOLDEN_AMI_POLL_SCALE in tests.
 */
export const SOURCE_VISIBILITY_SECONDS = 20;

/**
 * CopyImage answers IdempotentParameterMismatch at most this many times in one
 * create before it fails. A mismatch means the token (the copy's identity) was
 * used with another description or other tags, by a copy since destroyed
 * (a live one under the copy's name is adopted instead); each one moves to the
 * next token of the chain.
 */
export const COPY_TOKEN_MISMATCH_LIMIT = 3;

/** Delay bounds, in seconds, between two polls of an image's state. */
export const IMAGE_POLL_MIN_DELAY_SECONDS = 5;
export const IMAGE_POLL_MAX_DELAY_SECONDS = 30;
/** Delay bounds, in seconds, between two tries to delete a snapshot that is still in use. */
export const SNAPSHOT_DELETE_MIN_DELAY_SECONDS = 2;
export const SNAPSHOT_DELETE_MAX_DELAY_SECONDS = 30;
/** The first progress line comes after this many seconds of waiting... */
export const PROGRESS_FIRST_SECONDS = 10;
/** ...then one every this many seconds, so a long copy is never silent. */
export const PROGRESS_INTERVAL_SECONDS = 30;

/**
 * Images retired at once per region: a cap on outstanding work, not the pace.
 * The pace is EC2's token buckets (request-pacing.ts): DeregisterImage refills
 * 5 tokens a second (less after a throttle), so 10 concurrent 50 ms calls
 * would outrun it 40-fold, and every call waits for its token instead. The
 * cap only has to keep the bucket busy: a retirement holds its slot for its
 * calls plus, where snapshots go one by one, InvalidSnapshot.InUse retries
 * (2 s and up), so 32 slots sustain 5 retirements a second even when each
 * holds one for 6 s. A retirement never queues long behind the others: 32
 * waiting calls drain in 13 s at 2.5 a second (half the bucket), far inside the delete limit
 * each one's clock counts against.
 */
export const RETENTION_CONCURRENCY = 32;

/**
 * The oldest facts retention acts on, in seconds. `pulumi up` checks a policy
 * (a full inventory) right before it applies it, in the same process, so an
 * image retired within this time of that check is retired on facts the check
 * read moments before, with no second read (EC2's describe bucket is the one
 * retirements of a large account wait on). Past it (a long run, or a plan
 * that came from elsewhere), each batch of 100 images is described again,
 * with its references and launch permissions, right before it is retired.
 */
export const RECHECK_AFTER_SECONDS = 300;

/**
 * How long a retention policy's record of a candidate's launch permissions
 * is planned with, in hours. Sharing rarely changes, and a check that read
 * every candidate's again would cost one DescribeImageAttribute each (its
 * bucket refills 20 a second: 8 minutes for 10,000 candidates) on every
 * preview. A record older than this is read again; `pulumi up` reads each
 * image's sharing again right before retiring it whatever the record says,
 * so an image shared since is kept.
 */
export const SHARING_RECORD_MAX_AGE_HOURS = 24;

/** SDK retry budget per call (standard mode backs off on throttling; request-pacing.ts adapts the rate). */
export const EC2_MAX_ATTEMPTS = 10;

/**
 * Poll delays can be shortened for tests that emulate pending images
 * (`GOLDEN_AMI_POLL_SCALE=0.01` makes a 5 s delay 50 ms). Never needed in use.
 */
export function pollScale(): number {
    const raw = process.env.GOLDEN_AMI_POLL_SCALE;
    const n = raw === undefined ? 1 : Number(raw);
    return Number.isFinite(n) && n > 0 ? n : 1;
}

/** Delay bounds, in seconds, between two polls of a builder instance's state. */
export const BUILDER_POLL_MIN_DELAY_SECONDS = 5;
export const BUILDER_POLL_MAX_DELAY_SECONDS = 15;
/** Lines of the builder's console output a failed build reports. */
export const CONSOLE_TAIL_LINES = 25;
/** How long a published SSM parameter may take to answer its new value. */
export const SSM_PARAMETER_WAIT_SECONDS = 60;
/** How long a GoldenImage's test instance may run its script. */
export const TEST_TIMEOUT_MINUTES = 30;
/** How long a builder without a script may take to pass its status checks (then golden-ami stops it). */
export const STATUS_CHECK_TIMEOUT_MINUTES = 15;
/**
 * How long the console output of a stopped builder or test instance may take
 * to show the success marker: EC2 posts the console output shortly after a
 * state change, not at once.
 */
export const CONSOLE_MARKER_WAIT_SECONDS = 180;
/** How long RunInstances is retried while a new instance profile propagates through IAM. */
export const IAM_PROPAGATION_SECONDS = 120;

/**
 * How long retention (`retireShared: "when-unused"`) waits for the image
 * usage reports of one region. EC2 documents no duration for a report to go
 * from `pending` to `available`; past this, every report still pending keeps
 * its image (fail closed) and the next run asks again. Scaled by
 * GOLDEN_AMI_POLL_SCALE in tests.
 */
export const USAGE_REPORT_TIMEOUT_MINUTES = 30;
/** Delay bounds, in seconds, between two polls of a usage report (the SDK's ImageUsageReportAvailable waiter's 15 s and up). */
export const USAGE_REPORT_POLL_MIN_DELAY_SECONDS = 15;
export const USAGE_REPORT_POLL_MAX_DELAY_SECONDS = 60;
/**
 * Usage reports created and waited for at once per region: each costs one
 * CreateImageUsageReport (the mutating bucket, request-pacing.ts) and a poll
 * now and then; EC2 documents no quota of reports in progress, so few.
 */
export const USAGE_REPORT_CONCURRENCY = 4;
/**
 * Launch-template versions a usage report looks at (EC2's `version-depth`,
 * 1 to 10,000, default 20): all of them, since another account's Auto
 * Scaling groups may pin any version.
 */
export const USAGE_REPORT_VERSION_DEPTH = 10_000;
