/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-require-imports */
/**
 * The provider object of AmiFromInstance, as Pulumi serializes it into every
 * resource's state. This module's exports *are* the provider: installed from
 * npm, Pulumi stores it as `require("golden-ami/providers/ami-from-instance")`,
 * a short reference, not source. Each hook loads the implementation only when
 * the engine calls it, in the provider process; nothing here captures a
 * client, credentials or config.
 */
type Impl = typeof import("../../dynamic-providers/ami-from-instance");
const impl = (): Impl => require("golden-ami/dynamic-providers/ami-from-instance");

export const check = (olds: any, news: any) => impl().check(olds, news);
export const diff = (id: string, olds: any, news: any) => impl().diff(id, olds, news);
export const create = (inputs: any) => impl().create(inputs);
export const read = (id: string, props: any) => impl().read(id, props);
export const update = (id: string, olds: any, news: any) => impl().update(id, olds, news);
const remove = (id: string, props: any) => impl().delete(id, props);
export { remove as delete };
