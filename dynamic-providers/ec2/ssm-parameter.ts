import { DeleteParameterCommand, GetParameterCommand, PutParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { createWaiter, WaiterState } from "@smithy/core/client";
import { ssmClient } from "./client";
import { isNotFoundCode } from "./errors";
import { pollScale, SSM_PARAMETER_WAIT_SECONDS } from "./limits";

/**
 * SSM parameters that hand an AMI id to its consumers (launch templates with
 * `resolve:ssm:<name>`, Auto Scaling, CloudFormation, other stacks). Written
 * once for every resource that publishes an image: GoldenImage today,
 * AmiFromInstance and AmiCopy later.
 *
 * A parameter of data type `aws:ec2:image` makes Parameter Store check that
 * the value is an AMI id the account can use; that check runs after
 * PutParameter returns (SSM user guide, "Native parameter support for Amazon
 * Machine Image IDs"), so a publish waits until GetParameter answers the new
 * value before it counts as done.
 */

export { ssmClient };

/** A parameter as golden-ami reads it. */
export interface ImageParameter {
    name: string;
    value: string;
    version: number;
    dataType?: string;
}

export { MAX_PARAMETER_NAME_LENGTH, PARAMETER_NAME, parameterNameProblem } from "../../sdk/ssm-parameter-name";

/** The parameter, or undefined when it does not exist. */
export async function readParameter(client: SSMClient, name: string): Promise<ImageParameter | undefined> {
    try {
        const out = await client.send(new GetParameterCommand({ Name: name }));
        const p = out.Parameter;
        if (!p?.Value) return undefined;
        return { name: p.Name ?? name, value: p.Value, version: p.Version ?? 0, dataType: p.DataType };
    } catch (e) {
        if (isNotFoundCode(e, "parameter")) return undefined;
        throw e;
    }
}

/** The parameter does not answer the published value within the limit (SSM refused it, or someone wrote over it). */
export class ParameterNotPublishedError extends Error {
    constructor(
        readonly parameterName: string,
        readonly wanted: string,
        readonly seen: string | undefined,
        seconds: number,
    ) {
        super(
            `SSM parameter ${parameterName} still answers ${seen ?? "nothing"} instead of ${wanted} after ${seconds} s ` +
                `(Parameter Store refuses an aws:ec2:image value the account cannot launch)`,
        );
        this.name = "ParameterNotPublishedError";
    }
}

/**
 * Points the parameter at `imageId` (creating it, or overwriting whatever it
 * held), as data type `aws:ec2:image`, and waits until SSM answers the new
 * value. Makes no write when it already holds `imageId`. Returns the version.
 */
export async function publishImageParameter(
    client: SSMClient,
    name: string,
    imageId: string,
    options: { description?: string; waitSeconds?: number } = {},
): Promise<number> {
    const current = await readParameter(client, name);
    if (current?.value === imageId && (current.dataType ?? "aws:ec2:image") === "aws:ec2:image") return current.version;
    await client.send(
        new PutParameterCommand({
            Name: name,
            Value: imageId,
            Type: "String",
            DataType: "aws:ec2:image",
            Overwrite: true,
            Description: options.description,
        }),
    );
    const waitSeconds = options.waitSeconds ?? SSM_PARAMETER_WAIT_SECONDS;
    let seen: ImageParameter | undefined;
    const minDelay = 1 * pollScale();
    const result = await createWaiter(
        { client, maxWaitTime: Math.max(waitSeconds, minDelay * 2), minDelay, maxDelay: 5 * pollScale() },
        name,
        async (c: SSMClient, n: string) => {
            seen = await readParameter(c, n);
            return seen?.value === imageId ? { state: WaiterState.SUCCESS } : { state: WaiterState.RETRY };
        },
    );
    if (result.state !== WaiterState.SUCCESS) throw new ParameterNotPublishedError(name, imageId, seen?.value, waitSeconds);
    return seen!.version;
}

/** What `unpublishImageParameter` did. */
export type UnpublishOutcome = "deleted" | "already gone" | "holds another image";

/**
 * Deletes the parameter only while it still holds `imageId`: once a newer
 * image (or a person) has taken the parameter over, it is theirs and is left
 * alone.
 */
export async function unpublishImageParameter(client: SSMClient, name: string, imageId: string): Promise<UnpublishOutcome> {
    const current = await readParameter(client, name);
    if (!current) return "already gone";
    if (current.value !== imageId) return "holds another image";
    try {
        await client.send(new DeleteParameterCommand({ Name: name }));
    } catch (e) {
        if (isNotFoundCode(e, "parameter")) return "already gone";
        throw e;
    }
    return "deleted";
}
