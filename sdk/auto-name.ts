import * as pulumi from "@pulumi/pulumi";
import { createHash } from "node:crypto";

/**
 * An image name for a resource that was given none: the resource name and a
 * short hash of the stack and of the inputs that replace the image.
 *
 * Deterministic on purpose: a re-run after an interrupted create computes the
 * same name and adopts the image that run left behind instead of making a
 * second one; a replacement (new source, new settings) gets a new name, so the
 * new image can exist beside the old one until the old one is deleted.
 * Once the image exists, `check` keeps the name in state (keepDecided), so
 * renaming the resource or the stack, which changes this name, changes
 * nothing in EC2.
 */
export function autoImageName(resourceName: string, identity: pulumi.Input<unknown>[]): pulumi.Output<string> {
    return pulumi.all(identity).apply((values) => {
        const hash = createHash("sha256")
            .update(JSON.stringify([pulumi.getProject(), pulumi.getStack(), resourceName, values]))
            .digest("hex")
            .slice(0, 8);
        return `${validNamePart(resourceName).slice(0, 128 - 9)}-${hash}`;
    });
}

/**
 * A resource name as the start of an AMI name: EC2 allows only letters,
 * digits, spaces and ( ) [ ] . / - ' @ _ (CreateImage, Name), and a Pulumi
 * resource name may hold anything; every other character becomes `-`.
 */
export function validNamePart(name: string): string {
    return name.replace(/[^A-Za-z0-9()[\] ./\-'@_]/g, "-");
}
