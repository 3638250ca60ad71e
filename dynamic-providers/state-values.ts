/**
 * Drops undefined values: the dynamic provider sends properties as protobuf
 * Structs, which refuse `undefined` ("Unexpected struct type").
 */
export function compact<T extends object>(props: T): T {
    return JSON.parse(JSON.stringify(props)) as T;
}
