import { publisherMark, PublishInputs } from "../sdk/publish-args";
import { OperationError } from "./ec2/errors";
import { publishImageParameter, ssmClient, unpublishImageParameter } from "./ec2/ssm-parameter";
import { printProgress } from "./ec2/waiters";

/**
 * The `publish` step of every image resource: the image id written to an
 * SSM parameter (ec2/ssm-parameter.ts) after create, kept there by update,
 * removed by delete. A parameter is this resource's when its description is
 * the resource's mark (publisherMark); another is refused unless
 * `overwrite: true`. Delete removes it only while it holds this resource's
 * image, so in a create-before-delete replacement the old image's delete
 * leaves the parameter the new image wrote.
 */

interface Publishing {
    region: string;
    publish?: PublishInputs;
}

/** What publishing adds to a resource's outputs. */
export interface PublishOutputs {
    publishedParameter?: string;
}

/** Writes (or confirms) the parameter of `publish` with `imageId`. */
export async function publishImage(imageId: string, inputs: Publishing, previous?: PublishInputs): Promise<PublishOutputs> {
    const p = inputs.publish;
    if (!p) return {};
    const mark = publisherMark(p.owner);
    // A resource or stack renamed (aliases) still owns what it published under its old name.
    const earlier =
        previous && previous.ssmParameter === p.ssmParameter && previous.owner !== p.owner ? [publisherMark(previous.owner)] : [];
    const version = await publishImageParameter(ssmClient(inputs.region), p.ssmParameter, imageId, {
        ownedBy: mark,
        alsoOwnedBy: earlier,
        takeOver: p.overwrite === true,
        tier: p.tier,
    });
    printProgress(`published ${imageId} to SSM parameter ${p.ssmParameter} in ${inputs.region} (version ${version})`);
    return { publishedParameter: p.ssmParameter };
}

/** Deletes the parameter of `publish` if it still holds `imageId`, and says what happened. */
export async function unpublishImage(imageId: string, props: Publishing): Promise<void> {
    const p = props.publish;
    if (!p) return;
    const outcome = await unpublishImageParameter(ssmClient(props.region), p.ssmParameter, imageId);
    printProgress(`SSM parameter ${p.ssmParameter}: ${outcome === "holds another image" ? "left, it holds another image now" : outcome}`);
}

/** Update: publish as the new inputs say, then withdraw a parameter they no longer name. */
export async function reconcilePublish(imageId: string, olds: Publishing, news: Publishing): Promise<PublishOutputs> {
    const out = await publishImage(imageId, news, olds.publish);
    const moved = olds.publish && (olds.publish.ssmParameter !== news.publish?.ssmParameter || olds.region !== news.region);
    if (moved) await unpublishImage(imageId, olds);
    return out;
}

/** The step as image hooks name it in errors. */
export async function publishStep<T>(op: string, what: () => Promise<T>): Promise<T> {
    try {
        return await what();
    } catch (e) {
        throw new OperationError(op, "publishing the image id to SSM", e);
    }
}
