// The provider object of AmiFromInstance (see lazy-hooks.ts).
import { lazyHooks } from "./lazy-hooks";

export = lazyHooks("golden-ami/dynamic-providers/ami-from-instance-checks", "golden-ami/dynamic-providers/ami-from-instance");
