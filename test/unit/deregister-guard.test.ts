// The one guarded deregistration: every path goes through deregisterImage,
// which asks the reference finder (and the image's sharing) first and fails
// closed. The call sites of DeregisterImage are enumerated from the source.
import { AutoScalingClient, DescribeAutoScalingGroupsCommand, DescribeLaunchConfigurationsCommand } from "@aws-sdk/client-auto-scaling";
import {
    DeleteSnapshotCommand,
    DeregisterImageCommand,
    DescribeFleetsCommand,
    DescribeImageAttributeCommand,
    DescribeImageReferencesCommand,
    DescribeImagesCommand,
    DescribeInstancesCommand,
    DescribeLaunchTemplateVersionsCommand,
    DescribeSpotFleetRequestsCommand,
    EC2Client,
} from "@aws-sdk/client-ec2";
import { DescribeParametersCommand, SSMClient } from "@aws-sdk/client-ssm";
import { mockClient } from "aws-sdk-client-mock";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as sinon from "sinon";
import * as ts from "typescript";
import { deregisterImage, ImageInUseError } from "../../dynamic-providers/ec2/delete-image";
import { UnreadableReferenceSourceError } from "../../dynamic-providers/ec2/image-references";
import { ec2Error } from "../support/aws-errors";

const ROOT = path.join(__dirname, "..", "..");
const GUARD_FILE = "dynamic-providers/ec2/delete-image.ts";

/**
 * Where the source reaches DeregisterImage without the guard: any file but
 * the guard's naming DeregisterImageCommand or deleteImageWithSnapshots, and
 * inside the guard's file a DeregisterImageCommand outside `deregister`, a
 * `deregister` call outside deleteImageWithSnapshots, or a
 * deleteImageWithSnapshots call outside deregisterImage.
 */
function bypasses(file: string, source: string): string[] {
    const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true);
    const out: string[] = [];
    const enclosing = (node: ts.Node): string | undefined => {
        for (let n = node.parent; n; n = n.parent) if (ts.isFunctionDeclaration(n) && n.name) return n.name.text;
        return undefined;
    };
    const where = (node: ts.Node) => `${file}:${sf.getLineAndCharacterOfPosition(node.getStart()).line + 1}`;
    const allowedIn: Record<string, string[]> = {
        DeregisterImageCommand: ["deregister"],
        deregister: ["deleteImageWithSnapshots", "deregister"],
        deleteImageWithSnapshots: ["deregisterImage"],
    };
    const visit = (node: ts.Node) => {
        if (ts.isIdentifier(node) && (node.text === "DeregisterImageCommand" || node.text === "deleteImageWithSnapshots")) {
            if (file !== GUARD_FILE) out.push(`${where(node)} names ${node.text}`);
        }
        if (file === GUARD_FILE) {
            const callee = ts.isNewExpression(node) || ts.isCallExpression(node) ? node.expression : undefined;
            if (callee && ts.isIdentifier(callee) && allowedIn[callee.text]) {
                const fn = enclosing(node);
                if (!fn || !allowedIn[callee.text].includes(fn)) out.push(`${where(node)} calls ${callee.text} in ${fn ?? "module scope"}`);
            }
        }
        ts.forEachChild(node, visit);
    };
    visit(sf);
    return out;
}

function sourceFiles(dir: string): string[] {
    return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
        const rel = `${dir}/${e.name}`;
        if (e.isDirectory()) return sourceFiles(rel);
        return e.name.endsWith(".ts") ? [rel] : [];
    });
}

describe("the guarded deregistration", () => {
    describe("call sites", () => {
        it("every DeregisterImage in sdk/ and dynamic-providers/ goes through deregisterImage", () => {
            const files = [...sourceFiles("sdk"), ...sourceFiles("dynamic-providers")];
            assert.ok(files.includes(GUARD_FILE), "the guard's file is among those read");
            const found = files.flatMap((f) => bypasses(f, fs.readFileSync(path.join(ROOT, f), "utf8")));
            assert.deepEqual(found, []);
            const senders = files.filter((f) => fs.readFileSync(path.join(ROOT, f), "utf8").includes("DeregisterImageCommand"));
            assert.deepEqual(senders, [GUARD_FILE], "only one file sends DeregisterImage");
        });

        it("finds a bypass: another file sending DeregisterImage, or the guard's file skipping the guard", () => {
            assert.deepEqual(bypasses("dynamic-providers/x.ts", `client.send(new DeregisterImageCommand({ ImageId: id }));`), [
                "dynamic-providers/x.ts:1 names DeregisterImageCommand",
            ]);
            assert.deepEqual(bypasses("dynamic-providers/y.ts", `import { deleteImageWithSnapshots } from "./ec2/delete-image";`), [
                "dynamic-providers/y.ts:1 names deleteImageWithSnapshots",
            ]);
            assert.deepEqual(bypasses(GUARD_FILE, `export async function sweepFast() {\n  await deleteImageWithSnapshots(c, i, o);\n}`), [
                `${GUARD_FILE}:2 calls deleteImageWithSnapshots in sweepFast`,
            ]);
        });
    });

    describe("asking before deregistering", () => {
        const ec2 = mockClient(EC2Client);
        const ssm = mockClient(SSMClient);
        const asg = mockClient(AutoScalingClient);
        const client = new EC2Client({ region: "us-west-2" });
        const IMAGE = { imageId: "ami-0123456789abcdef0", snapshotIds: ["snap-00000000000000001"] };
        const options = { deleteSnapshots: true, timeoutMinutes: 1 };
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
            ec2.on(DescribeImageAttributeCommand).resolves({ LaunchPermissions: [] });
            ec2.on(DescribeImagesCommand).resolves({ Images: [] });
            ec2.on(DeregisterImageCommand).resolves({});
            ec2.on(DeleteSnapshotCommand).resolves({});
            asg.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [] });
            asg.on(DescribeLaunchConfigurationsCommand).resolves({ LaunchConfigurations: [] });
            ssm.on(DescribeParametersCommand).resolves({ Parameters: [] });
        });
        afterEach(() => log.restore());

        it("deregisters an image nothing uses, with its snapshots, after asking the reference finder and its sharing", async () => {
            const r = await deregisterImage(client, "us-west-2", IMAGE, options);
            assert.equal(r.deregistered, true);
            assert.deepEqual(r.snapshotsDeleted, IMAGE.snapshotIds);
            assert.deepEqual(ec2.commandCalls(DescribeImageReferencesCommand)[0].args[0].input.ImageIds, [IMAGE.imageId]);
            assert.equal(ec2.commandCalls(DescribeImageAttributeCommand).length, 1);
        });

        it("refuses an image a running instance uses, naming it; nothing is deregistered or deleted", async () => {
            ec2.on(DescribeImageReferencesCommand).resolves({
                ImageReferences: [{ ImageId: IMAGE.imageId, ResourceType: "ec2:Instance", Arn: "arn:aws:ec2:us-west-2:1:instance/i-0aaa" }],
            });
            const e = await deregisterImage(client, "us-west-2", IMAGE, options).then(
                () => assert.fail("deregistered an image in use"),
                (err: unknown) => err,
            );
            assert.ok(e instanceof ImageInUseError);
            assert.match(e.message, /ami-0123456789abcdef0 \(us-west-2\) is in use: instance i-0aaa/);
            assert.equal(ec2.commandCalls(DeregisterImageCommand).length, 0);
            assert.equal(ec2.commandCalls(DeleteSnapshotCommand).length, 0);
        });

        it("refuses an image shared with another account", async () => {
            ec2.on(DescribeImageAttributeCommand).resolves({ LaunchPermissions: [{ UserId: "444455556666" }] });
            await assert.rejects(deregisterImage(client, "us-west-2", IMAGE, options), /in use: shared with account 444455556666/);
            assert.equal(ec2.commandCalls(DeregisterImageCommand).length, 0);
        });

        it("fails closed: a source it cannot read counts as in use, and the error names the IAM permission", async () => {
            ec2.on(DescribeImageReferencesCommand).rejects(ec2Error("InvalidAction"));
            ec2.on(DescribeInstancesCommand).rejects(ec2Error("UnauthorizedOperation"));
            const e = await deregisterImage(client, "us-west-2", IMAGE, options).then(
                () => assert.fail("deregistered without knowing who uses the image"),
                (err: unknown) => err,
            );
            assert.ok(e instanceof UnreadableReferenceSourceError);
            assert.match(e.message, /ec2:DescribeInstances/);
            assert.equal(ec2.commandCalls(DeregisterImageCommand).length, 0);
        });

        it("acts on fresh references a caller read with the same finder (no second read), and reads stale ones again", async () => {
            const fresh = { refs: new Map(), readAt: Date.now(), sharingRead: true };
            await deregisterImage(client, "us-west-2", IMAGE, { ...options, references: fresh });
            assert.equal(ec2.commandCalls(DescribeImageReferencesCommand).length, 0);
            assert.equal(ec2.commandCalls(DescribeImageAttributeCommand).length, 0);
            const stale = { refs: new Map(), readAt: Date.now() - 3600_000, sharingRead: true };
            await deregisterImage(client, "us-west-2", IMAGE, { ...options, references: stale });
            assert.equal(ec2.commandCalls(DescribeImageReferencesCommand).length, 1);
        });

        it("does not count the caller's own references (a resource's publish parameter)", async () => {
            ec2.on(DescribeImageReferencesCommand).resolves({
                ImageReferences: [
                    { ImageId: IMAGE.imageId, ResourceType: "ssm:Parameter", Arn: "arn:aws:ssm:us-west-2:1:parameter/golden/web" },
                ],
            });
            const r = await deregisterImage(client, "us-west-2", IMAGE, {
                ...options,
                own: (ref) => ref.kind === "ssm-parameter" && ref.id === "/golden/web",
            });
            assert.equal(r.deregistered, true);
        });

        it("leaves a snapshot EC2 says another AMI uses, reported, instead of retrying it until the limit", async () => {
            ec2.on(DeleteSnapshotCommand).rejects(
                ec2Error("InvalidSnapshot.InUse", "The snapshot snap-00000000000000001 is currently in use by ami-0fedcba9876543210"),
            );
            const r = await deregisterImage(client, "us-west-2", IMAGE, options);
            assert.deepEqual(
                r.snapshotsKept.map((k) => k.usedBy),
                ["ami-0fedcba9876543210"],
            );
            assert.equal(ec2.commandCalls(DeleteSnapshotCommand).length, 1);
        });
    });
});
