/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * Every image kind, one line each: what the tests iterate (every kind's
 * descriptor, provider object and hooks, its identity and defaults, its
 * snapshot ownership on every path) so that a new kind is tested by adding
 * its line here.
 */
import { descriptor as amiCopy } from "./ami-copy";
import { descriptor as amiFromInstance } from "./ami-from-instance";
import { descriptor as amiFromSnapshot } from "./ami-from-snapshot";
import { descriptor as goldenImageBake } from "./golden-image-bake";
import type { ImageKind } from "./image-kind";
import { descriptor as managedAmi } from "./managed-ami";

export const IMAGE_KINDS: readonly ImageKind<any>[] = [amiFromInstance, amiCopy, amiFromSnapshot, managedAmi, goldenImageBake];
