// One golden-ami resource whose check needs no EC2 call: adds loading golden-ami and starting the dynamic-provider process.
import { ManagedAmi } from "golden-ami";

new ManagedAmi("adopted", { imageId: "ami-0123456789abcdef0" });
