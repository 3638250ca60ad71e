#!/usr/bin/env node
// `npm run sweep`: lists what golden-ami made in an account (only images and
// snapshots carrying its golden-ami:owner or golden-ami:pipeline mark; the
// options below narrow that set, never widen it), and deletes it only with
// --delete, first printing what it will delete; an image anything still
// launches from is kept and reported. Uses the default AWS credential chain
// (AWS_PROFILE, ...) and AWS_ENDPOINT_URL_EC2 when set.
//
//   npm run sweep -- --region us-east-1 [--region us-west-2] [--tag App=web] [--name-pattern 'web-*']
//                    [--created-after 2026-12-01T00:00:00Z] [--delete]
//
// At least one of --tag, --name-pattern or --created-after is required.
"use strict";

const path = require("node:path");
const fs = require("node:fs");

function load() {
    const dist = path.join(__dirname, "..", "dist", "dynamic-providers", "ec2", "sweeper.js");
    if (fs.existsSync(dist)) return require(dist);
    require("ts-node").register({ transpileOnly: true });
    return require("../dynamic-providers/ec2/sweeper");
}

function parse(argv) {
    const options = { regions: [], tags: {}, delete: false };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const value = () => {
            const v = argv[++i];
            if (v === undefined) throw new Error(`sweep: ${a} needs a value`);
            return v;
        };
        if (a === "--region") options.regions.push(value());
        else if (a === "--tag") {
            const [k, ...v] = value().split("=");
            if (!k || v.length === 0) throw new Error(`sweep: --tag takes Key=Value (Value * = any), got ${argv[i]}`);
            options.tags[k] = v.join("=");
        } else if (a === "--name-pattern") options.namePattern = value();
        else if (a === "--created-after") {
            const d = new Date(value());
            if (Number.isNaN(d.getTime())) throw new Error(`sweep: --created-after takes an ISO 8601 time, got ${argv[i]}`);
            options.createdAfter = d;
        } else if (a === "--delete") options.delete = true;
        else throw new Error(`sweep: unknown option ${a}; see the top of scripts/sweep.js`);
    }
    if (options.regions.length === 0) {
        const r = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
        if (!r) throw new Error("sweep: give --region (or set AWS_REGION)");
        options.regions.push(r);
    }
    return options;
}

function printListing(r, verb) {
    for (const i of r.images)
        console.log(`${r.region} ${verb}image ${i.imageId} ${i.name} (${i.creationDate}) snapshots ${i.snapshotIds.join(",") || "-"}`);
    for (const s of r.orphanSnapshots) console.log(`${r.region} ${verb}snapshot ${s.snapshotId} (no image) ${s.description}`);
}

async function main() {
    const options = parse(process.argv.slice(2));
    // With --delete, each region's listing is printed before anything of it is deleted.
    if (options.delete) options.onListed = (r) => printListing(r, "will delete ");
    const results = await load().sweep(options);
    let failed = 0;
    for (const r of results) {
        if (!options.delete) printListing(r, "");
        for (const id of r.deleted) console.log(`${r.region} deleted ${id}`);
        for (const k of r.kept) console.log(`${r.region} kept ${k.id}: ${k.reason}`);
        for (const f of r.failed) console.error(`${r.region} failed ${f.id}: ${f.error}`);
        failed += r.failed.length;
    }
    const images = results.reduce((n, r) => n + r.images.length, 0);
    const snapshots = results.reduce((n, r) => n + r.orphanSnapshots.length, 0);
    console.log(`sweep: ${images} images, ${snapshots} orphan snapshots${options.delete ? "" : " (listed only; --delete to delete)"}`);
    process.exit(failed > 0 ? 1 : 0);
}

main().catch((e) => {
    console.error(e.message);
    process.exit(1);
});
