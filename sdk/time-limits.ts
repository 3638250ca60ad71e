/**
 * The time limits users see as defaults in the resources' Args. They live in
 * sdk/ (the resource classes and descriptors read them, and sdk/ imports
 * nothing from dynamic-providers/); dynamic-providers/ec2/limits.ts
 * re-exports them next to the limits only the providers use.
 */

/** How long creating an AMI from an instance may take before it fails. */
export const CREATE_IMAGE_TIMEOUT_MINUTES = 40;
/** How long copying an AMI to another region may take: large images take hours. */
export const COPY_IMAGE_TIMEOUT_MINUTES = 240;
/** How long deregistering an image and deleting its snapshots may take. */
export const DELETE_IMAGE_TIMEOUT_MINUTES = 20;
/** How long a GoldenImage's provisioning script may run before the build fails (its builder is terminated). */
export const BUILD_TIMEOUT_MINUTES = 30;
