import * as pulumi from "@pulumi/pulumi";
import { createHash, scryptSync } from "node:crypto";
import { isDeepStrictEqual } from "node:util";
import { validNamePart } from "./auto-name";
import { BUILD_TIMEOUT_MINUTES, CREATE_IMAGE_TIMEOUT_MINUTES } from "./time-limits";
import { givenInputs, IMAGE_OUTPUTS, ownerMark } from "./image-args";
import type { ImageKind } from "./image-kind";
import { ImageResource } from "./image-resource";
import provider from "./providers/golden-image-bake";
import { GOLDEN_IMAGE_BAKE_RULES } from "./rules/golden-image-bake-rules";
import { secretCopyInput } from "./resource-options";
import { containsUnknown, UNKNOWN } from "./rules/primitives";
import type { BlockDeviceMapping, ImageInputs } from "./types";

/** Where the base image comes from (exactly one form), as the bake takes it. */
export interface BaseImage {
    ssmParameter?: string;
    imageId?: string;
    owners?: string[];
    namePattern?: string;
}

/** The test step's settings as the bake takes them (all but its time limit go into the build hash). */
export interface BakeTest {
    /** The test script, run as user data on an instance of the new image. */
    userData: string;
    /** @default the builder's */
    instanceType?: string;
    /** @default the builder's */
    subnetId?: string;
    /** @default the builder's */
    securityGroupIds?: string[];
    /** @default the builder's */
    iamInstanceProfile?: string;
}

/** The bake's inputs once `check` has filled in defaults, the base image and the build hash. */
export interface GoldenImageBakeInputs extends ImageInputs {
    /** The `golden-ami:pipeline` tag value: `<project>/<stack>/<name>`. */
    pipeline: string;
    /** The `golden-ami:builder` tag value of this pipeline's builders (the GoldenImage's URN, hashed past 256 characters). */
    builderOwner: string;
    baseImage: BaseImage;
    /** The AMI `baseImage` stood for when `check` ran. */
    baseImageId: string;
    instanceType: string;
    subnetId?: string;
    securityGroupIds?: string[];
    iamInstanceProfile?: string;
    userData: string;
    buildTimeoutMinutes: number;
    rootVolumeSize?: number;
    /** The builder's block devices beside the base image's (and so the image's). */
    blockDeviceMappings?: BlockDeviceMapping[];
    namePrefix: string;
    /** More instance types to try, in order, when EC2 has no capacity for `instanceType` (not part of the build hash). */
    instanceTypes?: string[];
    /** KMS key the builder's volumes, and so the image's snapshots, are encrypted with. */
    kmsKeyId?: string;
    /** The test step: an instance of the new image runs it before the image ships. */
    test?: BakeTest;
    /** How long the test may run, in minutes. */
    testTimeoutMinutes?: number;
    /** SSM parameter that consumers read the image id from. */
    publishParameter?: string;
    /** Take over a parameter that exists and holds none of this pipeline's images. */
    publishOverwrite?: boolean;
    /** Hash of everything that goes into the bake; part of the image name, and a tag. */
    buildHash: string;
    /** The script was a secret in the program: the build hash is stretched (see buildHash). */
    secretBuild?: boolean;
}

/** Tags golden-ami puts on every image, snapshot and builder of a pipeline. */
export const PIPELINE_TAG = "golden-ami:pipeline";
export const BUILD_HASH_TAG = "golden-ami:build-hash";
export const BASE_IMAGE_TAG = "golden-ami:base-image";

/** The properties that go into the bake: a change to any of them is a new image. */
export const BUILD_KEYS = [
    "baseImageId",
    "userData",
    "instanceType",
    "subnetId",
    "securityGroupIds",
    "iamInstanceProfile",
    "rootVolumeSize",
    "blockDeviceMappings",
    "region",
    "kmsKeyId",
    "test",
] as const;

type BuildKeyValues = Partial<Record<(typeof BUILD_KEYS)[number], unknown>>;

/** scrypt's cost for the hash of a secret build: about 50 ms and 16 MiB a guess. */
const SECRET_BUILD_SCRYPT = { N: 2 ** 14, r: 8, p: 1 } as const;

/**
 * The build hash: 16 hex digits of a SHA-256 over what goes into the bake.
 * Security groups compare as a set; unset and empty are the same. Undefined
 * when any part is not known yet (preview of a build whose subnet is being
 * made, say). With `secret` (the script was a secret in the program) it is
 * scrypt instead, so the 8 digits in the image name and the build-hash tag
 * cannot be turned back into a short secret by cheap guessing; still
 * deterministic (an interrupted bake is found again by its name) and free of
 * the stack's and resource's names (a rename replaces nothing).
 */
export function buildHash(inputs: BuildKeyValues, secret = false): string | undefined {
    const parts = {
        v: 1,
        baseImageId: inputs.baseImageId,
        userData: inputs.userData ?? "",
        instanceType: inputs.instanceType,
        subnetId: inputs.subnetId ?? "",
        securityGroupIds: [...new Set((inputs.securityGroupIds as string[] | undefined) ?? [])].sort(),
        iamInstanceProfile: inputs.iamInstanceProfile ?? "",
        rootVolumeSize: inputs.rootVolumeSize ?? 0,
        region: inputs.region,
        // Only when set: the hashes of builds without them stay what they were.
        ...(inputs.kmsKeyId ? { kmsKeyId: inputs.kmsKeyId } : {}),
        ...((inputs.blockDeviceMappings as unknown[] | undefined)?.length ? { blockDeviceMappings: inputs.blockDeviceMappings } : {}),
        ...(inputs.test ? { test: normalTest(inputs.test as BakeTest) } : {}),
    };
    if (parts.baseImageId === undefined || containsUnknown(parts)) return undefined;
    if (secret) {
        return scryptSync(JSON.stringify(parts), "golden-ami:build-hash", 8, SECRET_BUILD_SCRYPT).toString("hex");
    }
    return createHash("sha256").update(JSON.stringify(parts)).digest("hex").slice(0, 16);
}

/** The test settings as hashed: security groups as a set, unset fields left out. */
function normalTest(t: BakeTest): BakeTest {
    if (containsUnknown(t) || typeof t !== "object" || t === null) return t;
    const sgs = t.securityGroupIds;
    return {
        userData: t.userData,
        ...(t.instanceType ? { instanceType: t.instanceType } : {}),
        ...(t.subnetId ? { subnetId: t.subnetId } : {}),
        ...(sgs?.length ? { securityGroupIds: [...new Set(sgs)].sort() } : {}),
        ...(t.iamInstanceProfile ? { iamInstanceProfile: t.iamInstanceProfile } : {}),
    };
}

/** The image name: the prefix and the hash's first 8 digits, so the new image can live beside the old one. */
export function imageNameFor(namePrefix: string, hash: string): string {
    return `${validNamePart(namePrefix).slice(0, 128 - 9)}-${hash.slice(0, 8)}`;
}

/**
 * What `check` makes from the bake's inputs once the base image is resolved:
 * security groups as a set, the build hash, the name from it, and the
 * pipeline's tags on image and snapshots (so retention finds this
 * pipeline's images). Unknown while the base image or a build input is.
 */
export function deriveBakeInputs(
    inputs: Partial<GoldenImageBakeInputs>,
    given: Partial<GoldenImageBakeInputs>,
): Partial<GoldenImageBakeInputs> {
    const sgs = inputs.securityGroupIds;
    const out: Partial<GoldenImageBakeInputs> = {
        ...inputs,
        baseImageId: inputs.baseImageId ?? UNKNOWN,
        // A set: the order they are listed in changes nothing.
        securityGroupIds: Array.isArray(sgs) && !containsUnknown(sgs) ? [...new Set(sgs)].sort() : sgs,
    };
    if (inputs.test !== undefined) out.test = normalTest(inputs.test);
    const hash = buildHash(out, inputs.secretBuild === true);
    out.buildHash = hash ?? UNKNOWN;
    out.name = hash !== undefined && !containsUnknown(given.namePrefix) ? imageNameFor(given.namePrefix!, hash) : UNKNOWN;
    if (!containsUnknown(given.tags)) {
        out.tags = {
            ...(given.tags ?? {}),
            [PIPELINE_TAG]: given.pipeline!,
            [BUILD_HASH_TAG]: out.buildHash,
            [BASE_IMAGE_TAG]: out.baseImageId!,
        };
        // GoldenImage gives a copy of the tags when snapshotTags is unset (to keep their secret bit).
        if (given.snapshotTags === undefined || isDeepStrictEqual(given.snapshotTags, given.tags)) out.snapshotTags = out.tags;
        else if (!containsUnknown(given.snapshotTags)) out.snapshotTags = { ...given.snapshotTags, [PIPELINE_TAG]: given.pipeline! };
    }
    return out;
}

/**
 * What golden-ami knows about GoldenImage's bake (see ImageKind). Its
 * identity is what goes into the build (the build hash and the name made
 * from it follow); `check` resolves the base image with EC2 (`checkWithEc2`)
 * and derives the rest, so preview names what changed.
 */
export const descriptor: ImageKind<GoldenImageBakeInputs> = {
    type: "GoldenImageBake",
    module: "golden-image-bake",
    identity: [...BUILD_KEYS.map((key) => ({ key })), { key: "name" }, { key: "buildHash" }],
    // An input made by `check` (prefix and build hash), never given nor automatic.
    name: "input",
    defaults: { buildTimeoutMinutes: BUILD_TIMEOUT_MINUTES, userData: "" },
    rules: GOLDEN_IMAGE_BAKE_RULES,
    createTimeoutMinutes: CREATE_IMAGE_TIMEOUT_MINUTES,
    ownsSnapshots: true,
    example: {
        region: "us-east-1",
        baseImage: { imageId: "ami-0123456789abcdef0" },
        instanceType: "t3.small",
        namePrefix: "golden",
        pipeline: "project/stack/golden",
        builderOwner: "project/stack/golden",
    },
    outputInputs: [],
    needsEc2Check: ({ baseImage, region }) => baseImage !== undefined && !!region && !containsUnknown([baseImage, region]),
    // Stored or reconciled without a new image.
    inPlace: [
        "baseImage",
        "publishParameter",
        "publishOverwrite",
        "buildTimeoutMinutes",
        "testTimeoutMinutes",
        "instanceTypes",
        "pipeline",
        "builderOwner",
    ],
    derive: deriveBakeInputs,
    shownAs: {
        instanceType: "build.instanceType",
        subnetId: "build.subnetId",
        securityGroupIds: "build.securityGroupIds",
        iamInstanceProfile: "build.iamInstanceProfile",
        userData: "build.userData",
        buildTimeoutMinutes: "build.timeoutMinutes",
        instanceTypes: "build.instanceTypes",
        kmsKeyId: "image.kmsKeyId",
        testTimeoutMinutes: "test.timeoutMinutes",
        publishOverwrite: "publish.overwrite",
        rootVolumeSize: "build.rootVolumeSize",
        blockDeviceMappings: "build.blockDeviceMappings",
        namePrefix: "image.namePrefix",
        publishParameter: "publish.ssmParameter",
        description: "image.description",
        tags: "image.tags",
        snapshotTags: "image.snapshotTags",
        deprecationTime: "image.deprecationTime",
        deregistrationProtection: "image.deregistrationProtection",
        launchPermissions: "image.launchPermissions",
        deleteSnapshotsOnDestroy: "image.deleteSnapshotsOnDestroy",
    },
    // The parameter was repointed (by hand, or by another stack): the next up puts it back.
    changedOutside: (state) => !!state.publishParameter && state.publishedImageId !== undefined && state.publishedImageId !== state.imageId,
};

/** The bake: an image resource with what the build went into it. Made by {@link GoldenImage}. */
export class GoldenImageBake extends ImageResource {
    /** The AMI the base image stood for when the image was built. */
    declare readonly baseImageId: pulumi.Output<string>;
    /** Hash of the base image, script and build settings (also the `golden-ami:build-hash` tag). */
    declare readonly buildHash: pulumi.Output<string>;
    /** The builder instance the image was baked from (terminated). */
    declare readonly builderInstanceId: pulumi.Output<string | undefined>;

    /** `inputs`: the bake's inputs before `check` (GoldenImage passes its args through). */
    constructor(name: string, inputs: Record<string, unknown>, opts?: pulumi.CustomResourceOptions) {
        const props = {
            ...givenInputs(inputs, []),
            ...IMAGE_OUTPUTS,
            // Made by check from the prefix and the build hash; a secret prefix makes it secret (see secretCopyInput).
            name: secretCopyInput(
                [inputs.namePrefix],
                pulumi.output(inputs.namePrefix as pulumi.Input<string>).apply((p) => imageNameFor(p, "00000000")),
            ),
            // A copy of publish.ssmParameter.
            publishedParameter: secretCopyInput([inputs.publishParameter], inputs.publishParameter as pulumi.Input<string>),
            tags: inputs.tags,
            baseImageId: undefined,
            buildHash: undefined,
            builderInstanceId: undefined,
            owner: ownerMark(descriptor.type, name),
        };
        super(provider, name, props, opts, "golden-ami", descriptor.type);
    }
}
