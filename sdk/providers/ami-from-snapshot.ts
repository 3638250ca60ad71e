// The provider object of an image kind (see lazy-hooks.ts).
import { imageProvider } from "./lazy-hooks";

export = imageProvider("ami-from-snapshot");
