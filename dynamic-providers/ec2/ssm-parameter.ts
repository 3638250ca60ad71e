import {
    DeleteParameterCommand,
    DescribeParametersCommand,
    GetParameterCommand,
    ParameterTier,
    PutParameterCommand,
    SSMClient,
} from "@aws-sdk/client-ssm";
import { createWaiter, WaiterState } from "@smithy/core/client";
import { ssmClient } from "./client";
import { isNotFoundCode } from "./errors";
import { pollScale, SSM_PARAMETER_WAIT_SECONDS } from "./limits";

/**
 * SSM parameters that hand an AMI id to its consumers (launch templates with
 * `resolve:ssm:<name>`, Auto Scaling, CloudFormation, other stacks). Written
 * once for every resource that publishes an image (AmiFromInstance, AmiCopy,
 * ManagedAmi; GoldenImage).
 *
 * A parameter of data type `aws:ec2:image` makes Parameter Store check that
 * the value is an AMI id the account can use; that check runs after
 * PutParameter returns (SSM API reference, PutParameter `DataType`: "a
 * successful HTTP 200 response does not guarantee that your parameter was
 * successfully created or updated"), so a publish waits until GetParameter
 * answers the new value before it counts as done. A parameter cannot change
 * to or from `aws:ec2:image` (SSM user guide, "Parameter data types").
 *
 * Started from the GoldenImage branch's file of the same name, extended
 * compatibly: the same exports and signatures, plus `tier` and ownership
 * (`ownedBy`) for the image resources' `publish`.
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

/** The parameter's metadata (description, tier, data type), or undefined when it does not exist. GetParameter has no description. */
export async function describeParameter(
    client: SSMClient,
    name: string,
): Promise<{ description?: string; tier?: string; dataType?: string } | undefined> {
    const out = await client.send(new DescribeParametersCommand({ ParameterFilters: [{ Key: "Name", Option: "Equals", Values: [name] }] }));
    const p = out.Parameters?.find((x) => x.Name === name);
    return p && { description: p.Description, tier: p.Tier, dataType: p.DataType };
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

/** The parameter exists and was not written by the resource asking (its description differs). */
export class ParameterNotOursError extends Error {
    constructor(
        readonly parameterName: string,
        readonly description: string | undefined,
    ) {
        super(
            `SSM parameter ${parameterName} already exists and was not published by this resource ` +
                `(its description is ${JSON.stringify(description ?? "")}); set publish.overwrite: true to take it over, or choose another ssmParameter`,
        );
        this.name = "ParameterNotOursError";
    }
}

/** SSM cannot turn an existing parameter of another data type into `aws:ec2:image`. */
export class ParameterDataTypeError extends Error {
    constructor(
        readonly parameterName: string,
        readonly dataType: string,
    ) {
        super(
            `SSM parameter ${parameterName} has data type ${dataType}, and SSM cannot change a parameter to aws:ec2:image; ` +
                `delete it first or choose another ssmParameter`,
        );
        this.name = "ParameterDataTypeError";
    }
}

export interface PublishOptions {
    /** The parameter's description. */
    description?: string;
    /** How long SSM may take to answer the new value. @default SSM_PARAMETER_WAIT_SECONDS */
    waitSeconds?: number;
    /** `Standard`, `Advanced` or `Intelligent-Tiering`. @default SSM's (the account's default tier) */
    tier?: string;
    /**
     * The description that marks the parameter as the caller's: an existing
     * parameter with another description is refused (ParameterNotOursError),
     * and one of another data type too; the parameter is written with it.
     * Without it any parameter is overwritten (GoldenImage's behaviour).
     */
    ownedBy?: string;
    /** With `ownedBy`: earlier marks of the same publisher (a renamed resource or stack), also taken as the caller's. */
    alsoOwnedBy?: string[];
    /** With `ownedBy`: take over a parameter with another description (still refusing another data type). */
    takeOver?: boolean;
}

/**
 * Points the parameter at `imageId` (creating it, or overwriting what it
 * held), as data type `aws:ec2:image`, and waits until SSM answers the new
 * value. Makes no write when it already holds `imageId` (with `ownedBy`:
 * and carries that description and the tier asked for). Returns the version.
 */
export async function publishImageParameter(
    client: SSMClient,
    name: string,
    imageId: string,
    options: PublishOptions = {},
): Promise<number> {
    const current = await readParameter(client, name);
    const description = options.ownedBy ?? options.description;
    if (options.ownedBy !== undefined && current) {
        const meta = await describeParameter(client, name);
        const dataType = meta?.dataType ?? current.dataType ?? "text";
        if (dataType !== "aws:ec2:image") throw new ParameterDataTypeError(name, dataType);
        const ours = [options.ownedBy, ...(options.alsoOwnedBy ?? [])].includes(meta?.description ?? "");
        if (!options.takeOver && !ours) throw new ParameterNotOursError(name, meta?.description);
        const sameTier = options.tier === undefined || options.tier === meta?.tier;
        if (current.value === imageId && sameTier && meta?.description === options.ownedBy) return current.version;
    } else if (current?.value === imageId && (current.dataType ?? "aws:ec2:image") === "aws:ec2:image") {
        return current.version;
    }
    await client.send(
        new PutParameterCommand({
            Name: name,
            Value: imageId,
            Type: "String",
            DataType: "aws:ec2:image",
            Overwrite: true,
            Description: description,
            ...(options.tier ? { Tier: options.tier as ParameterTier } : {}),
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
 * image (the replacement of a create-before-delete, or a person) has taken
 * the parameter over, it is theirs and is left alone.
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
