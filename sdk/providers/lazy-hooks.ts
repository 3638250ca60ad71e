/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-require-imports */
import type * as dynamic from "@pulumi/pulumi/dynamic";
import { hooksModule } from "../image-kind";

/**
 * Provider objects whose hooks load the implementation from the installed
 * package only when the engine calls them, in the provider process.
 *
 * Each resource type has a module whose `module.exports` is such an object.
 * Pulumi serializes the provider into every resource's state; for a module of
 * an installed package it stores a short `require("golden-ami/providers/…")`
 * instead of source. Nothing here captures a client, credentials or config.
 */
/**
 * Runs a hook in the account of the resource's `assumeRole` (see withRole in
 * dynamic-providers/ec2/client.ts): every EC2, SSM and Auto Scaling client
 * the hook asks for uses the role's credentials. The client module (the AWS
 * SDK) is loaded only when there is a role, so a preview without one stays
 * light.
 */
function inRole<T>(inputs: any, hook: () => Promise<T>): Promise<T> {
    const role = inputs?.assumeRole;
    if (!role || typeof role.roleArn !== "string") return hook();
    return require("golden-ami/dynamic-providers/ec2/client").withRole(role, hook);
}

export function lazyHooks(checks: string, implementation: string = checks): dynamic.ResourceProvider {
    // check and diff, which preview runs for every resource, come from a
    // module that does not load the AWS SDK.
    const planning = () => require(checks);
    const impl = () => require(implementation);
    return {
        check: (olds: any, news: any) => inRole(news, () => planning().check(olds, news)),
        // What the new inputs would do (a policy's preview of what it retires): in their account.
        diff: (id: string, olds: any, news: any) => inRole(news, () => planning().diff(id, olds, news)),
        create: (inputs: any) => inRole(inputs, () => impl().create(inputs)),
        read: (id: string, props: any) => inRole(props, () => impl().read(id, props)),
        update: (id: string, olds: any, news: any) => inRole(news, () => impl().update(id, olds, news)),
        delete: (id: string, props: any) => inRole(props, () => impl().delete(id, props)),
    };
}

/**
 * The provider object of an image kind (see ImageKind): check and diff from
 * the shared planning module and the kind's descriptor, without the AWS SDK;
 * the rest from `dynamic-providers/<kind>-hooks`.
 */
export function imageProvider(kind: string): dynamic.ResourceProvider {
    const planning = () => require("golden-ami/dynamic-providers/image-planning");
    const impl = () => require(`golden-ami/dynamic-providers/${hooksModule(kind)}`);
    return {
        check: (olds: any, news: any) => inRole(news, () => planning().check(kind, olds, news)),
        // diff reads EC2 only about the image in state (whether it is in use): in its account.
        diff: (id: string, olds: any, news: any) => inRole(olds, () => planning().diff(kind, id, olds, news)),
        create: (inputs: any) => inRole(inputs, () => impl().create(inputs)),
        read: (id: string, props: any) => inRole(props, () => impl().read(id, props)),
        // Another account replaces (diff), so an update stays in the account of both.
        update: (id: string, olds: any, news: any) => inRole(news, () => impl().update(id, olds, news)),
        delete: (id: string, props: any) => inRole(props, () => impl().delete(id, props)),
    };
}
