// No resources: what every preview pays before any resource, the CLI, the language host and the program's compile.
import * as pulumi from "@pulumi/pulumi";

export const project = pulumi.getProject();
