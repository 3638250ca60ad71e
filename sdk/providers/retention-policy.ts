// The provider object of AmiRetentionPolicy (see lazy-hooks.ts).
import { lazyHooks } from "./lazy-hooks";

export = lazyHooks("golden-ami/dynamic-providers/retention-policy-hooks");
