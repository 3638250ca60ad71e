#!/bin/bash
# Runs once, as user data, on the builder instance GoldenImage launches from
# the base image. Whatever it installs is baked into the golden image.
set -euo pipefail

dnf -y update
dnf -y install nginx
systemctl enable nginx

# Leave nothing instance-specific in the image.
dnf clean all
rm -rf /var/lib/cloud/instances/* /var/log/cloud-init*.log
truncate -s 0 /etc/machine-id

# Say the script got here: GoldenImage bakes the builder only when its
# console output has this line (cloud-init copies the script's output there).
echo "golden-ami: success"

# The last step: power off. The builder runs with
# InstanceInitiatedShutdownBehavior=stop, so it stops, and GoldenImage bakes
# the stopped instance. A script that fails before this line (set -e) leaves
# the builder running; the build then fails at its timeout with this script's
# console output, and the builder is terminated.
poweroff
