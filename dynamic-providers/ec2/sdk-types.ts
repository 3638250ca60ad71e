/**
 * The AWS SDK types the hooks above this layer may name (types only: they
 * load nothing). Everything that calls AWS lives in this folder.
 */
export type { EC2Client, Image } from "@aws-sdk/client-ec2";
