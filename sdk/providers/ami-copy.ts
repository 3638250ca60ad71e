// The provider object of AmiCopy (see lazy-hooks.ts).
import { lazyHooks } from "./lazy-hooks";

export = lazyHooks("golden-ami/dynamic-providers/ami-copy-checks", "golden-ami/dynamic-providers/ami-copy");
