#!/usr/bin/env bash
# deps.sh - install every Debian package twinbench needs (idempotent, root).
set -euo pipefail

packages=(
	# build the harness and its tests
	build-essential pkg-config libvirt-dev libtelnet-dev libyaml-dev libjansson-dev
	libxml2-dev libcmocka-dev valgrind
	# the lab: QEMU, a private libvirtd + virtlogd, network namespaces
	qemu-system-x86 qemu-utils libvirt-daemon libvirt-daemon-driver-qemu
	libvirt-daemon-system libvirt-clients iproute2
	# guest images
	debootstrap busybox-static kexec-tools e2fsprogs cpio xz-utils setserial
	# kernel builds (the twin kernel)
	linux-source-6.1 bc bison flex libelf-dev libssl-dev dwarves ccache rsync
	# reports
	gnuplot-nox
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "deps: all ${#packages[@]} packages installed"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing ${missing[*]}; run 'make deps' as root" >&2
	exit 3
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"
