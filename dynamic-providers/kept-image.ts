import { CREATE_FINISHED_TAG } from "./ec2/converters";
import type { Image } from "./ec2/sdk-types";

export { CREATE_FINISHED_TAG };

/**
 * Retained means released. A create that finished marks its image with
 * `golden-ami:create-finished=<its own id>` (the last step of finishCreate).
 * An image that carries the mark was handed to Pulumi's state once; if it is
 * found again by a create (same name, same copy token, same build), it was
 * kept by `retainOnDelete`, `pulumi state delete` or another stack, and is
 * never taken back silently. An image without the mark is one an interrupted
 * create made: the re-run adopts it. A copy that got its source's tags has
 * the source's id in the mark, not its own: not finished. tagsToRecord
 * leaves the mark out, so updates never remove it and refresh never shows it.
 */

/** Whether a create finished with this image (see CREATE_FINISHED_TAG). */
export function isFinishedCreate(image: Pick<Image, "ImageId" | "Tags">): boolean {
    return !!image.ImageId && (image.Tags ?? []).some((t) => t.Key === CREATE_FINISHED_TAG && t.Value === image.ImageId);
}

/** A create found an image a finished create made (thrown as it is, never wrapped). */
export class KeptImageError extends Error {}

/** The error of a create that found an image a finished create made: what it is, and the ways out. */
export function keptImageError(
    op: string,
    image: Pick<Image, "ImageId" | "Name">,
    renameWith = "set `name` to another name",
): KeptImageError {
    const id = image.ImageId;
    return new KeptImageError(
        `${op}: image ${id} (${image.Name ?? "?"}) already exists and this create did not make it: it was kept by retainOnDelete ` +
            `(or \`pulumi state delete\`, or another stack made it), and golden-ami never takes a kept image back silently. ` +
            `To manage it again, adopt it: new ManagedAmi("…", { imageId: "${id}" }); to make a new image, ${renameWith}; ` +
            `or deregister ${id} first.`,
    );
}
