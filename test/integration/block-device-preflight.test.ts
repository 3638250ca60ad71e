// The replacement preflight's block-device rule agrees with CreateImage: every
// mapping `check` refuses, the emulator (CreateImage's documented rules, see
// emulator/image-rules.ts) refuses too, and every one it accepts, CreateImage
// accepts.
import { DescribeInstancesCommand, DescribeVolumesCommand, EC2Client } from "@aws-sdk/client-ec2";
import assert from "node:assert/strict";
import * as sinon from "sinon";
import * as hooks from "../../dynamic-providers/ami-from-instance-hooks";
import { Ec2Proxy, startEc2Proxy } from "../../emulator/ec2-proxy";
import { createSourceInstance } from "../../scripts/lib/ec2-fixtures";
import type { BlockDeviceMapping } from "../../sdk/types";
import { currentMoto } from "../support/moto-hooks";

// A region no other integration file uses: the providers' client for it is made here, through the proxy.
// A region no other test file uses: clients are cached per region for the process.
const REGION = "me-central-1";

describe("block-device preflight agrees with CreateImage (emulator rules)", () => {
    let proxy: Ec2Proxy;
    let savedEndpoint: string | undefined;
    let instanceId: string;
    let root: { device: string; size: number; type: string };
    let log: sinon.SinonStub;

    before(async () => {
        ({ instanceId } = await createSourceInstance(REGION));
        const direct = new EC2Client({ region: REGION });
        const instance = (await direct.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }))).Reservations![0].Instances![0];
        const mapping = instance.BlockDeviceMappings![0];
        const volume = (await direct.send(new DescribeVolumesCommand({ VolumeIds: [mapping.Ebs!.VolumeId!] }))).Volumes![0];
        root = { device: mapping.DeviceName!, size: volume.Size!, type: volume.VolumeType! };
        direct.destroy();
        proxy = await startEc2Proxy({ target: currentMoto().endpoint, createImageBlockDeviceRules: true });
        savedEndpoint = process.env.AWS_ENDPOINT_URL_EC2;
        process.env.AWS_ENDPOINT_URL_EC2 = proxy.endpoint;
    });
    after(async () => {
        process.env.AWS_ENDPOINT_URL_EC2 = savedEndpoint;
        await proxy.stop();
    });
    beforeEach(() => (log = sinon.stub(console, "log")));
    afterEach(() => log.restore());

    const cases: [string, () => BlockDeviceMapping[], "refused" | "accepted"][] = [
        ["a larger existing volume", () => [{ deviceName: root.device, ebs: { volumeSize: root.size + 10 } }], "refused"],
        [
            "another volume type",
            () => [{ deviceName: root.device, ebs: { volumeType: root.type === "io2" ? "gp3" : "io2", iops: 3000 } }],
            "refused",
        ],
        ["encrypting an existing volume", () => [{ deviceName: root.device, ebs: { encrypted: true } }], "refused"],
        ["deleteOnTermination only", () => [{ deviceName: root.device, ebs: { deleteOnTermination: false } }], "accepted"],
        ["the volume's own size", () => [{ deviceName: root.device, ebs: { volumeSize: root.size } }], "accepted"],
        ["noDevice", () => [{ deviceName: root.device, noDevice: true }], "accepted"],
    ];
    for (const [i, [what, mappings, expected]] of cases.entries()) {
        it(`${what}: check and CreateImage agree`, async () => {
            const news = {
                sourceInstanceId: instanceId,
                name: `bdm-preflight-${i}-${Date.now()}`,
                region: REGION,
                blockDeviceMappings: mappings(),
            };
            const { inputs, failures } = await hooks.check({}, news);
            let refusedByEc2: unknown;
            try {
                const r = await hooks.create(inputs);
                await hooks.delete(r.id, r.outs);
            } catch (e) {
                refusedByEc2 = e;
            }
            assert.equal(failures?.length ? "refused" : "accepted", expected, "check");
            if (refusedByEc2) assert.match(String(refusedByEc2), /InvalidBlockDeviceMapping/);
            assert.equal(
                failures?.length ? "refused" : "accepted",
                refusedByEc2 ? "refused" : "accepted",
                JSON.stringify({ failures, refusedByEc2: String(refusedByEc2 ?? "") }),
            );
            if (failures?.length)
                assert.match(failures[0].reason, /^blockDeviceMappings\[0\]\.ebs\.\w+ .*CreateImage can change only deleteOnTermination/);
        });
    }
});
