import { DescribeImagesCommand } from "@aws-sdk/client-ec2";
import type * as dynamic from "@pulumi/pulumi/dynamic";
import { ec2Client } from "./ec2/client";
import { hasCode, OperationError } from "./ec2/errors";
import { CREATE_IMAGE_TIMEOUT_MINUTES } from "./ec2/limits";
import { deleteImage, ImageState, readImage, updateImage } from "./image-resource";
import { ManagedAmiInputs } from "./managed-ami-checks";

export { check, diff, ManagedAmiInputs, REPLACE_KEYS } from "./managed-ami-checks";

/**
 * Adopts the image: makes sure this account owns it, then brings its tags,
 * description, deprecation, protection and launch permissions to the inputs
 * (the same code as an update). No image is created.
 */
export async function create(inputs: ManagedAmiInputs): Promise<dynamic.CreateResult> {
    const client = ec2Client(inputs.region);
    const op = `adopting AMI ${inputs.imageId} in ${inputs.region}`;
    let owned: boolean;
    try {
        const out = await client.send(
            new DescribeImagesCommand({ ImageIds: [inputs.imageId], Owners: ["self"], IncludeDeprecated: true, IncludeDisabled: true }),
        );
        owned = !!out.Images?.some((i) => i.ImageId === inputs.imageId && i.State !== "deregistered");
    } catch (e) {
        if (!hasCode(e, "InvalidAMIID.NotFound")) throw new OperationError(op, "describing the image", e);
        owned = false;
    }
    if (!owned) {
        throw new Error(
            `${op}: it is not an image this account owns in ${inputs.region} (check imageId and region; only your own images can be managed)`,
        );
    }
    const r = await updateImage(inputs.imageId, {} as ImageState, { ...inputs, name: "" }, CREATE_IMAGE_TIMEOUT_MINUTES, { full: true });
    return { id: inputs.imageId, outs: r.outs };
}

export async function read(id: string, props: ImageState): Promise<dynamic.ReadResult> {
    return readImage(id, props);
}

export async function update(id: string, olds: ImageState, news: ManagedAmiInputs): Promise<dynamic.UpdateResult> {
    return updateImage(id, olds, { ...news, name: olds.name }, CREATE_IMAGE_TIMEOUT_MINUTES);
}

export { deleteImage as delete };
