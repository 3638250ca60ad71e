// The provider object of ManagedAmi (see lazy-hooks.ts): its own check and diff
// (adoption leaves unset properties alone), still without the AWS SDK at preview.
import { lazyHooks } from "./lazy-hooks";

export = lazyHooks("golden-ami/dynamic-providers/managed-ami-planning", "golden-ami/dynamic-providers/managed-ami-hooks");
