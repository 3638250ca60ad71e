/**
 * SSM parameter names as Parameter Store takes them (pure, so `check` can use
 * it without loading the AWS SDK): `/a/b/c` or `a.b-c`, at most 1011
 * characters; names under `aws` or `ssm` are reserved for reading only.
 */
export const PARAMETER_NAME = /^(\/[A-Za-z0-9_.-]+)+$|^[A-Za-z0-9_.-]+$/;
export const MAX_PARAMETER_NAME_LENGTH = 1011;
/** Name starts SSM keeps for itself (any case, with or without the leading "/"): readable, never writable. */
export const RESERVED_PREFIXES = ["aws", "ssm"] as const;

/**
 * Why `name` is not a parameter name SSM accepts, or undefined when it is
 * one. With `forWriting`, names SSM reserves (`/aws/…`, `ssm…`) are refused
 * too: they can be read (the public AMI parameters live there) but not written.
 */
export function parameterNameProblem(name: unknown, options: { forWriting?: boolean } = { forWriting: true }): string | undefined {
    if (typeof name !== "string") return `must be a string, got ${JSON.stringify(name)}`;
    if (name.length > MAX_PARAMETER_NAME_LENGTH)
        return `is ${name.length} characters long; SSM allows at most ${MAX_PARAMETER_NAME_LENGTH}`;
    if (!PARAMETER_NAME.test(name)) {
        return `${JSON.stringify(name)} is not an SSM parameter name; use letters, digits and _ . - separated by "/", e.g. "/golden/web/latest"`;
    }
    const reserved = RESERVED_PREFIXES.find((p) => name.replace(/^\//, "").toLowerCase().startsWith(p));
    if (options.forWriting && reserved) {
        return (
            `${JSON.stringify(name)} begins with "${reserved}", which SSM reserves for its own parameters; ` +
            `choose a name that begins with neither "aws" nor "ssm" (in any case), e.g. "/golden/web/latest"`
        );
    }
    return undefined;
}
