// 100 minimal dynamic resources that do nothing: the baseline for preview time.
import * as pulumi from "@pulumi/pulumi";

const noop: pulumi.dynamic.ResourceProvider = {
    async create(inputs) {
        return { id: `noop-${inputs.n}`, outs: inputs };
    },
};

class Noop extends pulumi.dynamic.Resource {
    constructor(name: string, n: number) {
        super(noop, name, { n }, {});
    }
}

const count = new pulumi.Config().getNumber("count") ?? 100;
for (let i = 0; i < count; i++) new Noop(`noop-${i}`, i);
