/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-require-imports */
import type * as dynamic from "@pulumi/pulumi/dynamic";

/**
 * Provider objects whose hooks load the implementation from the installed
 * package only when the engine calls them, in the provider process.
 *
 * Each resource type has a module whose `module.exports` is such an object.
 * Pulumi serializes the provider into every resource's state; for a module of
 * an installed package it stores a short `require("golden-ami/providers/…")`
 * instead of source. Nothing here captures a client, credentials or config.
 */
export function lazyHooks(checks: string, implementation: string = checks): dynamic.ResourceProvider {
    // check and diff, which preview runs for every resource, come from a
    // module that does not load the AWS SDK.
    const planning = () => require(checks);
    const impl = () => require(implementation);
    return {
        check: (olds: any, news: any) => planning().check(olds, news),
        diff: (id: string, olds: any, news: any) => planning().diff(id, olds, news),
        create: (inputs: any) => impl().create(inputs),
        read: (id: string, props: any) => impl().read(id, props),
        update: (id: string, olds: any, news: any) => impl().update(id, olds, news),
        delete: (id: string, props: any) => impl().delete(id, props),
    };
}

/**
 * The provider object of an image kind (see ImageKind): check and diff from
 * the shared planning module and the kind's descriptor, without the AWS SDK;
 * the rest from `dynamic-providers/<kind>`.
 */
export function imageProvider(kind: string): dynamic.ResourceProvider {
    const planning = () => require("golden-ami/dynamic-providers/image-planning");
    const impl = () => require(`golden-ami/dynamic-providers/${kind}`);
    return {
        check: (olds: any, news: any) => planning().check(kind, olds, news),
        diff: (id: string, olds: any, news: any) => planning().diff(kind, id, olds, news),
        create: (inputs: any) => impl().create(inputs),
        read: (id: string, props: any) => impl().read(id, props),
        update: (id: string, olds: any, news: any) => impl().update(id, olds, news),
        delete: (id: string, props: any) => impl().delete(id, props),
    };
}
