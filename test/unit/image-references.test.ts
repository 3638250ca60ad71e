import { AutoScalingClient, DescribeAutoScalingGroupsCommand, DescribeLaunchConfigurationsCommand } from "@aws-sdk/client-auto-scaling";
import {
    DescribeFleetsCommand,
    DescribeImageReferencesCommand,
    DescribeInstancesCommand,
    DescribeLaunchTemplatesCommand,
    DescribeLaunchTemplateVersionsCommand,
    DescribeSpotFleetRequestsCommand,
    EC2Client,
} from "@aws-sdk/client-ec2";
import { DescribeParametersCommand, GetParametersCommand, SSMClient } from "@aws-sdk/client-ssm";
import { mockClient } from "aws-sdk-client-mock";
import assert from "node:assert/strict";
import * as sinon from "sinon";
import { findImageReferences, UnreadableReferenceSourceError } from "../../dynamic-providers/ec2/image-references";
import { ec2Error } from "../support/aws-errors";

const ec2 = mockClient(EC2Client);
const ssm = mockClient(SSMClient);
const asg = mockClient(AutoScalingClient);
const id = (n: number) => `ami-${String(n).padStart(17, "0")}`;
const clients = () => ({
    ec2: new EC2Client({ region: "us-east-1" }),
    ssm: new SSMClient({ region: "us-east-1" }),
    autoScaling: new AutoScalingClient({ region: "us-east-1" }),
});
const kinds = (refs: Map<string, { kind: string; id: string; detail?: string }[]>, imageId: string) =>
    (refs.get(imageId) ?? []).map((r) => `${r.kind} ${r.id}${r.detail ? ` (${r.detail})` : ""}`).sort();

describe("image references (retention inventory)", () => {
    let log: sinon.SinonStub;
    beforeEach(() => {
        ec2.reset();
        ssm.reset();
        asg.reset();
        log = sinon.stub(console, "log");
        ec2.on(DescribeImageReferencesCommand).resolves({ ImageReferences: [] });
        ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
        ec2.on(DescribeLaunchTemplateVersionsCommand).resolves({ LaunchTemplateVersions: [] });
        ec2.on(DescribeFleetsCommand).resolves({ Fleets: [] });
        ec2.on(DescribeSpotFleetRequestsCommand).resolves({ SpotFleetRequestConfigs: [] });
        asg.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [] });
        asg.on(DescribeLaunchConfigurationsCommand).resolves({ LaunchConfigurations: [] });
        ssm.on(DescribeParametersCommand).resolves({ Parameters: [] });
    });
    afterEach(() => log.restore());

    it("asks DescribeImageReferences ten ids at a time, every resource type (launch templates at every version, never as references), following pages", async () => {
        const ids = Array.from({ length: 23 }, (_, n) => id(n));
        ec2.on(DescribeImageReferencesCommand).callsFake((input: { ImageIds: string[]; NextToken?: string }) =>
            input.ImageIds.includes(id(0)) && !input.NextToken
                ? {
                      ImageReferences: [{ ImageId: id(0), ResourceType: "ec2:Instance", Arn: "arn:aws:ec2:us-east-1:1:instance/i-1" }],
                      NextToken: "t",
                  }
                : input.ImageIds.includes(id(0))
                  ? {
                        ImageReferences: [
                            { ImageId: id(0), ResourceType: "ssm:Parameter", Arn: "arn:aws:ssm:us-east-1:1:parameter/golden/web" },
                        ],
                    }
                  : { ImageReferences: [] },
        );
        const { refs, via } = await findImageReferences(clients(), "us-east-1", ids);
        assert.equal(via, "DescribeImageReferences");
        const calls = ec2.commandCalls(DescribeImageReferencesCommand).map((c) => c.args[0].input);
        assert.deepEqual(
            calls.map((c) => c.ImageIds!.length),
            [10, 10, 10, 3],
        );
        assert.equal(calls[1].NextToken, "t");
        assert.deepEqual(calls[0].ResourceTypes, [
            {
                ResourceType: "ec2:Instance",
                ResourceTypeOptions: [
                    { OptionName: "state-name", OptionValues: ["pending", "running", "shutting-down", "stopping", "stopped"] },
                ],
            },
            { ResourceType: "ec2:LaunchTemplate", ResourceTypeOptions: [{ OptionName: "version-depth", OptionValues: ["10000"] }] },
            { ResourceType: "ssm:Parameter" },
            { ResourceType: "imagebuilder:ImageRecipe" },
            { ResourceType: "imagebuilder:ContainerRecipe" },
        ]);
        assert.deepEqual(kinds(refs, id(0)), [
            "instance i-1 (DescribeImageReferences)",
            "ssm-parameter /golden/web (DescribeImageReferences)",
        ]);
        // Instances are asked only for the launch-template versions they name (the tag-key filter), never enumerated for their images.
        assert.deepEqual(
            ec2.commandCalls(DescribeInstancesCommand).map((c) => c.args[0].input.Filters?.[0]),
            [{ Name: "tag-key", Values: ["aws:ec2launchtemplate:id"] }],
            "no direct enumeration when the check exists",
        );
    });

    it("asks one by one when an image is gone since the listing, skipping only that one", async () => {
        ec2.on(DescribeImageReferencesCommand).rejects(ec2Error("InvalidAMIID.NotFound"));
        ec2.on(DescribeImageReferencesCommand, { ImageIds: [id(2)] }).resolves({
            ImageReferences: [{ ImageId: id(2), ResourceType: "ec2:Instance", Arn: "arn:aws:ec2:us-east-1:1:instance/i-2" }],
        });
        const { refs } = await findImageReferences(clients(), "us-east-1", [id(1), id(2)]);
        assert.deepEqual(kinds(refs, id(2)), ["instance i-2 (DescribeImageReferences)"]);
    });

    describe("launch-template versions: one rule whichever source answers", () => {
        // lt-1: version 1 (old build, id 1) pinned by nothing, version 2 $Default, version 3 $Latest; version 4 of lt-2 pinned by a group.
        const v = (template: string, n: number, image: string, isDefault = false) => ({
            LaunchTemplateId: template,
            VersionNumber: n,
            DefaultVersion: isDefault,
            LaunchTemplateData: { ImageId: image },
        });
        const account = () => {
            ec2.on(DescribeLaunchTemplateVersionsCommand, { Versions: ["$Default", "$Latest"] }).resolves({
                LaunchTemplateVersions: [v("lt-1", 2, id(2), true), v("lt-1", 3, id(3)), v("lt-2", 1, id(5), true)],
            });
            ec2.on(DescribeLaunchTemplateVersionsCommand, { LaunchTemplateId: "lt-2", Versions: ["4"] }).resolves({
                LaunchTemplateVersions: [v("lt-2", 4, id(4))],
            });
            asg.on(DescribeAutoScalingGroupsCommand).resolves({
                AutoScalingGroups: [{ AutoScalingGroupName: "web", LaunchTemplate: { LaunchTemplateId: "lt-2", Version: "4" } }],
            } as never);
            ec2.on(DescribeLaunchTemplatesCommand).resolves({
                LaunchTemplates: [{ LaunchTemplateId: "lt-1" }, { LaunchTemplateId: "lt-2" }],
            });
            ec2.on(DescribeLaunchTemplateVersionsCommand, { LaunchTemplateId: "lt-1" }).resolves({
                LaunchTemplateVersions: [v("lt-1", 1, id(1)), v("lt-1", 2, id(2), true), v("lt-1", 3, id(3))],
            });
            ec2.on(DescribeLaunchTemplateVersionsCommand, { LaunchTemplateId: "lt-2" }).resolves({
                LaunchTemplateVersions: [v("lt-2", 1, id(5), true), v("lt-2", 4, id(4))],
            });
        };
        const inUse = (refs: Map<string, unknown[]>) => [1, 2, 3, 4, 5].filter((n) => (refs.get(id(n)) ?? []).length > 0);

        it("$Default, $Latest and versions groups and fleets name count, the same with DescribeImageReferences and the enumeration", async () => {
            account();
            const viaReferences = await findImageReferences(clients(), "us-east-1", [1, 2, 3, 4, 5].map(id));
            ec2.on(DescribeImageReferencesCommand).rejects(ec2Error("InvalidAction"));
            const viaEnumeration = await findImageReferences(clients(), "us-east-1", [1, 2, 3, 4, 5].map(id));
            assert.equal(viaReferences.via, "DescribeImageReferences");
            assert.equal(viaEnumeration.via, "enumeration");
            assert.deepEqual(inUse(viaReferences.refs), [2, 3, 4, 5], "the old version 1 no one launches keeps nothing");
            assert.deepEqual(inUse(viaEnumeration.refs), inUse(viaReferences.refs));
        });

        it("a version a live instance names (its aws:ec2launchtemplate tags, as EC2 sets them) counts, with either source", async () => {
            account();
            // i-1 was launched from lt-1 version 1 with the image overridden: version 1's image is launched by no one
            // else, yet the instance names it, as a group pinning it would.
            ec2.on(DescribeInstancesCommand).resolves({
                Reservations: [
                    {
                        Instances: [
                            {
                                InstanceId: "i-1",
                                ImageId: id(9),
                                State: { Name: "running" },
                                Tags: [
                                    { Key: "aws:ec2launchtemplate:id", Value: "lt-1" },
                                    { Key: "aws:ec2launchtemplate:version", Value: "1" },
                                ],
                            },
                        ],
                    },
                ],
            });
            ec2.on(DescribeLaunchTemplateVersionsCommand, { LaunchTemplateId: "lt-1", Versions: ["1"] }).resolves({
                LaunchTemplateVersions: [v("lt-1", 1, id(1))],
            });
            const viaReferences = await findImageReferences(clients(), "us-east-1", [1, 2, 3, 4, 5].map(id));
            const asked = ec2.commandCalls(DescribeInstancesCommand).map((c) => c.args[0].input.Filters);
            assert.deepEqual(
                asked[0]?.[0],
                { Name: "tag-key", Values: ["aws:ec2launchtemplate:id"] },
                "only instances launched from templates",
            );
            ec2.on(DescribeImageReferencesCommand).rejects(ec2Error("InvalidAction"));
            const callsBefore = ec2.commandCalls(DescribeInstancesCommand).length;
            const viaEnumeration = await findImageReferences(clients(), "us-east-1", [1, 2, 3, 4, 5].map(id));
            assert.equal(ec2.commandCalls(DescribeInstancesCommand).length - callsBefore, 1, "the enumeration's one listing serves both");
            assert.deepEqual(inUse(viaReferences.refs), [1, 2, 3, 4, 5]);
            assert.deepEqual(inUse(viaEnumeration.refs), [1, 2, 3, 4, 5]);
            assert.deepEqual(kinds(viaReferences.refs, id(1)), [
                "launch-template lt-1 (version 1, pinned by instance i-1 (launched from it))",
            ]);
        });

        it("says which images the rule lets go although a version nothing launches from names them (preview prints it)", async () => {
            account();
            // DescribeImageReferences at every version: lt-1 names ids 1 (old version 1), 2 and 3; only id 1 is let go.
            ec2.on(DescribeImageReferencesCommand).resolves({
                ImageReferences: [1, 2, 3].map((n) => ({
                    ImageId: id(n),
                    ResourceType: "ec2:LaunchTemplate",
                    Arn: "arn:aws:ec2:us-east-1:1:launch-template/lt-1",
                })),
            });
            const { refs, letGo } = await findImageReferences(clients(), "us-east-1", [1, 2, 3, 4, 5].map(id));
            assert.deepEqual(inUse(refs), [2, 3, 4, 5], "template references from DescribeImageReferences are no references");
            assert.deepEqual([...letGo], [[id(1), ["lt-1"]]]);
            const said = log.getCalls().map((c) => String(c.args[0]));
            assert.ok(
                said.some((l) => l.includes(`${id(1)} (lt-1)`) && l.includes('launchTemplateVersions: "all" would keep them')),
                said.join("\n"),
            );
            // With "all" they are references, and nothing is let go.
            log.resetHistory();
            const all = await findImageReferences(clients(), "us-east-1", [1, 2, 3, 4, 5].map(id), { launchTemplateVersions: "all" });
            assert.equal(all.letGo.size, 0);
            assert.ok(!log.getCalls().some((c) => /count as unused/.test(String(c.args[0]))));
        });

        it('launchTemplateVersions: "all" counts every version of every template, with either source', async () => {
            account();
            const all = { launchTemplateVersions: "all" as const };
            const viaReferences = await findImageReferences(clients(), "us-east-1", [1, 2, 3, 4, 5].map(id), all);
            ec2.on(DescribeImageReferencesCommand).rejects(ec2Error("InvalidAction"));
            const viaEnumeration = await findImageReferences(clients(), "us-east-1", [1, 2, 3, 4, 5].map(id), all);
            assert.deepEqual(inUse(viaReferences.refs), [1, 2, 3, 4, 5]);
            assert.deepEqual(inUse(viaEnumeration.refs), [1, 2, 3, 4, 5]);
            assert.deepEqual(kinds(viaReferences.refs, id(1)), [
                'launch-template lt-1 (version 1, every version counts (launchTemplateVersions: "all"))',
            ]);
        });
    });

    it("without DescribeImageReferences (InvalidAction) enumerates live instances and aws:ec2:image parameters, with or without SSM's DataType filter", async () => {
        ec2.on(DescribeImageReferencesCommand).rejects(ec2Error("InvalidAction"));
        ec2.on(DescribeInstancesCommand).resolves({
            Reservations: [{ Instances: [{ InstanceId: "i-9", ImageId: id(1), State: { Name: "stopped" } }] }],
        });
        ssm.on(DescribeParametersCommand).rejects(ec2Error("ValidationException"));
        ssm.on(DescribeParametersCommand, {}).resolves({
            Parameters: [
                { Name: "/golden/web", DataType: "aws:ec2:image" },
                { Name: "/notes", DataType: "text" },
            ],
        });
        ssm.on(GetParametersCommand).resolves({ Parameters: [{ Name: "/golden/web", Value: id(2) }] });
        const { refs, via } = await findImageReferences(clients(), "us-east-1", [id(1), id(2)]);
        assert.equal(via, "enumeration");
        assert.deepEqual(kinds(refs, id(1)), ["instance i-9 (stopped)"]);
        assert.deepEqual(kinds(refs, id(2)), ["ssm-parameter /golden/web (data type aws:ec2:image)"]);
        assert.deepEqual(ssm.commandCalls(GetParametersCommand)[0].args[0].input.Names, ["/golden/web"], "only aws:ec2:image parameters");
        const filtered = ssm.commandCalls(DescribeParametersCommand)[0].args[0].input;
        assert.deepEqual(filtered.ParameterFilters, [{ Key: "DataType", Option: "Equals", Values: ["aws:ec2:image"] }]);
    });

    it("finds launch-template versions pinned by groups, mixed-instances overrides, EC2 Fleets and Spot Fleets, and resolves resolve:ssm", async () => {
        asg.on(DescribeAutoScalingGroupsCommand).resolves({
            AutoScalingGroups: [
                { AutoScalingGroupName: "web", LaunchTemplate: { LaunchTemplateId: "lt-a", Version: "1" } } as never,
                {
                    AutoScalingGroupName: "mixed",
                    MixedInstancesPolicy: {
                        LaunchTemplate: {
                            LaunchTemplateSpecification: { LaunchTemplateName: "b", Version: "$Latest" },
                            Overrides: [
                                { InstanceType: "m5.large", LaunchTemplateSpecification: { LaunchTemplateId: "lt-c", Version: "4" } },
                            ],
                        },
                    },
                } as never,
            ],
        });
        ec2.on(DescribeFleetsCommand).resolves({
            Fleets: [
                {
                    FleetId: "fleet-1",
                    FleetState: "active",
                    LaunchTemplateConfigs: [{ Overrides: [{ ImageId: "resolve:ssm:/golden/fleet" }] }],
                },
                { FleetId: "fleet-2", FleetState: "deleted", LaunchTemplateConfigs: [{ Overrides: [{ ImageId: id(9) }] }] },
            ],
        });
        ec2.on(DescribeSpotFleetRequestsCommand).resolves({
            SpotFleetRequestConfigs: [
                {
                    SpotFleetRequestId: "sfr-1",
                    SpotFleetRequestState: "active",
                    SpotFleetRequestConfig: { LaunchSpecifications: [{ ImageId: id(5) }] } as never,
                },
            ],
        });
        ec2.on(DescribeLaunchTemplateVersionsCommand, { Versions: ["$Default", "$Latest"] }).resolves({
            LaunchTemplateVersions: [
                {
                    LaunchTemplateId: "lt-a",
                    LaunchTemplateName: "a",
                    VersionNumber: 3,
                    DefaultVersion: true,
                    LaunchTemplateData: { ImageId: id(0) },
                },
                {
                    LaunchTemplateId: "lt-b",
                    LaunchTemplateName: "b",
                    VersionNumber: 2,
                    DefaultVersion: false,
                    LaunchTemplateData: { ImageId: id(3) },
                },
                {
                    LaunchTemplateId: "lt-b",
                    LaunchTemplateName: "b",
                    VersionNumber: 1,
                    DefaultVersion: true,
                    LaunchTemplateData: { ImageId: id(0) },
                },
            ],
        });
        ec2.on(DescribeLaunchTemplateVersionsCommand, { LaunchTemplateId: "lt-a", Versions: ["1"] }).resolves({
            LaunchTemplateVersions: [{ LaunchTemplateId: "lt-a", VersionNumber: 1, LaunchTemplateData: { ImageId: id(1) } }],
        });
        ec2.on(DescribeLaunchTemplateVersionsCommand, { LaunchTemplateId: "lt-c", Versions: ["4"] }).resolves({
            LaunchTemplateVersions: [
                { LaunchTemplateId: "lt-c", VersionNumber: 4, LaunchTemplateData: { ImageId: "resolve:ssm:/golden/web:7" } },
            ],
        });
        ssm.on(GetParametersCommand).resolves({
            Parameters: [
                { Name: "/golden/fleet", Value: id(4) },
                { Name: "/golden/web", Selector: ":7", Value: id(2) },
            ],
        });
        const { refs } = await findImageReferences(clients(), "us-east-1", [id(0)]);
        assert.deepEqual(kinds(refs, id(1)), ["launch-template lt-a (version 1, pinned by Auto Scaling group web)"]);
        assert.deepEqual(kinds(refs, id(2)), [
            "launch-template lt-c (version 4, pinned by an override (m5.large) of Auto Scaling group mixed, via SSM parameter /golden/web:7)",
        ]);
        assert.deepEqual(kinds(refs, id(3)), [
            "launch-template lt-b (version 2, $Latest, $Latest used by the mixed instances policy of Auto Scaling group mixed)",
        ]);
        assert.deepEqual(kinds(refs, id(4)), ["ec2-fleet fleet-1 (an override's ImageId, via SSM parameter /golden/fleet)"]);
        assert.deepEqual(kinds(refs, id(5)), ["spot-fleet sfr-1 (a launch specification)"]);
        assert.equal(refs.has(id(9)), false, "a deleted fleet launches nothing");
    });

    it("a pinned version or template that no longer exists refers to nothing; other failures stop", async () => {
        asg.on(DescribeAutoScalingGroupsCommand).resolves({
            AutoScalingGroups: [
                { AutoScalingGroupName: "a", LaunchTemplate: { LaunchTemplateId: "lt-gone", Version: "1" } } as never,
                { AutoScalingGroupName: "b", LaunchTemplate: { LaunchTemplateId: "lt-b", Version: "1" } } as never,
                { AutoScalingGroupName: "c", LaunchTemplate: { LaunchTemplateId: "lt-b", Version: "2" } } as never,
            ],
        });
        ec2.on(DescribeLaunchTemplateVersionsCommand, { LaunchTemplateId: "lt-gone" }).rejects(
            ec2Error("InvalidLaunchTemplateId.NotFound"),
        );
        ec2.on(DescribeLaunchTemplateVersionsCommand, { LaunchTemplateId: "lt-b", Versions: ["1", "2"] }).rejects(
            ec2Error("InvalidLaunchTemplateId.VersionNotFound"),
        );
        ec2.on(DescribeLaunchTemplateVersionsCommand, { LaunchTemplateId: "lt-b", Versions: ["1"] }).rejects(
            ec2Error("InvalidLaunchTemplateId.VersionNotFound"),
        );
        ec2.on(DescribeLaunchTemplateVersionsCommand, { LaunchTemplateId: "lt-b", Versions: ["2"] }).resolves({
            LaunchTemplateVersions: [{ LaunchTemplateId: "lt-b", VersionNumber: 2, LaunchTemplateData: { ImageId: id(1) } }],
        });
        const { refs } = await findImageReferences(clients(), "us-east-1", [id(1)]);
        assert.deepEqual(kinds(refs, id(1)), ["launch-template lt-b (version 2, pinned by Auto Scaling group c)"]);

        ec2.on(DescribeLaunchTemplateVersionsCommand, { LaunchTemplateId: "lt-gone" }).rejects(ec2Error("InternalError"));
        await assert.rejects(
            findImageReferences(clients(), "us-east-1", [id(1)]),
            /DescribeLaunchTemplateVersions failed \(InternalError\)/,
        );
    });

    it("always counts launch configurations, with the groups that use them", async () => {
        asg.on(DescribeAutoScalingGroupsCommand).resolves({
            AutoScalingGroups: [{ AutoScalingGroupName: "legacy", LaunchConfigurationName: "lc-1" } as never],
        });
        asg.on(DescribeLaunchConfigurationsCommand).resolves({
            LaunchConfigurations: [
                { LaunchConfigurationName: "lc-1", ImageId: id(1) } as never,
                { LaunchConfigurationName: "lc-2", ImageId: id(2) } as never,
            ],
        });
        const { refs } = await findImageReferences(clients(), "us-east-1", [id(1)]);
        assert.deepEqual(kinds(refs, id(1)), ["launch-configuration lc-1 (of Auto Scaling group legacy)"]);
        assert.deepEqual(kinds(refs, id(2)), ["launch-configuration lc-2 (used by no Auto Scaling group now)"]);
    });

    for (const [what, arrange, pattern] of [
        [
            "launch configurations denied",
            () => asg.on(DescribeLaunchConfigurationsCommand).rejects(ec2Error("AccessDenied")),
            /DescribeLaunchConfigurations failed \(AccessDenied\): access denied: grant autoscaling:DescribeLaunchConfigurations/,
        ],
        [
            "Auto Scaling groups throttled past the retries",
            () => asg.on(DescribeAutoScalingGroupsCommand).rejects(ec2Error("Throttling")),
            /DescribeAutoScalingGroups failed \(Throttling\): throttled past the retry budget/,
        ],
        [
            "DescribeImageReferences denied (never the fallback)",
            () => ec2.on(DescribeImageReferencesCommand).rejects(ec2Error("UnauthorizedOperation")),
            /DescribeImageReferences failed \(UnauthorizedOperation\): access denied: grant ec2:DescribeImageReferences/,
        ],
        [
            "SSM parameters denied in the fallback",
            () => {
                ec2.on(DescribeImageReferencesCommand).rejects(ec2Error("InvalidAction"));
                ssm.on(DescribeParametersCommand).rejects(ec2Error("AccessDeniedException"));
            },
            /DescribeParameters failed \(AccessDeniedException\): access denied: grant ssm:DescribeParameters/,
        ],
        [
            "DescribeFleets failing for another reason than being absent",
            () => ec2.on(DescribeFleetsCommand).rejects(ec2Error("InternalError")),
            /DescribeFleets failed \(InternalError\)/,
        ],
    ] as const) {
        it(`stops with the action and permission named: ${what}`, async () => {
            arrange();
            await assert.rejects(findImageReferences(clients(), "us-east-1", [id(1)]), (e: unknown) => {
                assert.ok(e instanceof UnreadableReferenceSourceError);
                assert.match(e.message, pattern);
                return true;
            });
        });
    }

    it("an endpoint without fleets (InvalidAction) has none to refer to an image; the plan goes on and says so", async () => {
        ec2.on(DescribeFleetsCommand).rejects(ec2Error("InvalidAction"));
        ec2.on(DescribeSpotFleetRequestsCommand).rejects(ec2Error("UnsupportedOperation"));
        asg.on(DescribeLaunchConfigurationsCommand).resolves({
            LaunchConfigurations: [{ LaunchConfigurationName: "lc", ImageId: id(1) } as never],
        });
        const { refs } = await findImageReferences(clients(), "us-east-1", [id(1)]);
        assert.equal(refs.get(id(1))?.length, 1);
        assert.ok(log.getCalls().some((c) => /does not offer DescribeFleets/.test(String(c.args[0]))));
    });
});
