# An ordinary amazon-ebs template: nothing in it knows about the emulator. The
# endpoint and the dummy credentials come from the environment that
# `npx golden-ami emulator` prints; `communicator = "none"` because the
# emulator's instances run no operating system to connect to.
packer {
  required_plugins {
    amazon = {
      source  = "github.com/hashicorp/amazon"
      version = ">= 1.8.0"
    }
  }
}

variable "ami_name" {
  type    = string
  default = "golden-ami-packer-example"
}

source "amazon-ebs" "al2023" {
  region        = "us-east-1"
  instance_type = "t3.micro"
  source_ami_filter {
    filters = {
      name                = "al2023-ami-*-x86_64"
      root-device-type    = "ebs"
      virtualization-type = "hvm"
    }
    owners      = ["amazon"]
    most_recent = true
  }
  # A data volume beside the base image's root volume: the image maps both.
  launch_block_device_mappings {
    device_name           = "/dev/sdf"
    volume_size           = 4
    volume_type           = "gp3"
    delete_on_termination = true
  }
  ami_name     = var.ami_name
  ami_regions  = ["us-west-2"]
  communicator = "none"
  tags = {
    Name = var.ami_name
  }
}

build {
  sources = ["source.amazon-ebs.al2023"]
}
