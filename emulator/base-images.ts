// Public base images for users of the emulator: Amazon Linux images owned by
// `amazon` in every region moto knows, and the public SSM parameters that
// name them (`/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64`,
// `.../al2023-ami-kernel-default-arm64`, `.../amzn2-ami-hvm-x86_64-gp2`, ...),
// so that a GoldenImage whose `baseImage.ssmParameter` is such a parameter
// works locally as it does on AWS ("Query for the latest Amazon Linux AMI IDs
// using AWS Systems Manager Parameter Store", AWS Compute Blog, and "Reference
// AMIs using Systems Manager parameters", Amazon EC2 User Guide,
// https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/using-systems-manager-parameter-to-find-AMI.html).
//
// moto 5 ships both halves: its SSM serves the `ami-amazon-linux-latest`
// parameters of each region (moto/ssm/resources/ami-amazon-linux-latest), and
// its EC2 can load the images they name (moto/ec2/resources/latest_amis, each
// public, `available`, owner 137112412989 with alias `amazon`, `ebs`, `hvm`,
// x86_64 or arm64 as named). moto loads those only together with ~1,150 other
// images a region (2017 Windows images, ECS-optimised ones), each with a
// snapshot, so the emulator (emulator/moto-server.ts) starts moto through a small
// Python launcher that keeps the Amazon Linux ones only.
//
// What EC2 hides and moto shows: the snapshots behind Amazon's images are
// Amazon's, private; DescribeSnapshots leaves them out
// (`privateSnapshotOwners` in emulator/paging.ts).

/** The account that owns Amazon's public images (alias `amazon`) in the regions enabled by default. */
export const AMAZON_OWNER_ID = "137112412989";

/**
 * Every account that owns Amazon's Amazon Linux images: each opt-in region
 * ("Enable or disable AWS Regions in your account", AWS Account Management
 * guide) has an `amazon` account of its own, as on AWS; these are the owner
 * ids of moto's `latest_amis` data for those regions. Their snapshots are as
 * private as the default regions' ones.
 */
export const AMAZON_OWNER_IDS: readonly string[] = [
    AMAZON_OWNER_ID,
    "210953353124", // af-south-1
    "910595266909", // ap-east-1
    "140264529686", // ap-south-2
    "785737495101", // ap-southeast-3
    "212415852945", // ap-southeast-4
    "860882034098", // ap-southeast-5
    "499701242899", // ca-west-1
    "084269151793", // eu-central-2
    "071630900071", // eu-south-1
    "061882349855", // eu-south-2
    "659248058490", // il-central-1
    "541802698383", // me-central-1
    "656109587541", // me-south-1
];

/** Public parameters a user's first pipeline usually starts from; each names a base image in every region moto knows. */
export const BASE_IMAGE_PARAMETERS = [
    "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
    "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64",
    "/aws/service/ami-amazon-linux-latest/amzn2-ami-hvm-x86_64-gp2",
] as const;

/**
 * Python that starts moto_server (its arguments follow) with only the Amazon
 * Linux base images of moto's `latest_amis` data loaded in each region. If
 * moto's internals have moved, it says so on stderr and starts moto without
 * default images (as the plain `moto_server` of the test tiers does).
 */
export const MOTO_WITH_BASE_IMAGES = `
import os, sys
os.environ.pop("MOTO_AMIS_PATH", None)
os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = "true"
try:
    import moto.ec2.models.amis as amis
    amis.AMIS[:] = []  # moto/ec2/resources/amis.json: 2017-era images of several owners
    _load = amis.load_resource
    def _latest_amis_only(package, resource, *args, **kwargs):
        if "latest_amis/" not in resource:
            raise FileNotFoundError(resource)  # ecs/optimized_amis: skipped as a region without data is
        return _load(package, resource, *args, **kwargs)
    amis.load_resource = _latest_amis_only
except Exception as e:
    sys.stderr.write("golden-ami emulator: no base images (moto's AMI loader has changed: %r)\\n" % (e,))
    os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = "false"
from moto.server import main
main(sys.argv[1:])
`;
