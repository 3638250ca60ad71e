// The provider object of ManagedAmi (see lazy-hooks.ts).
import { lazyHooks } from "./lazy-hooks";

export = lazyHooks("golden-ami/dynamic-providers/managed-ami-checks", "golden-ami/dynamic-providers/managed-ami");
