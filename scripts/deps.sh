#!/usr/bin/env bash
# deps.sh - install every Debian package twinbench needs (idempotent, root).
set -euo pipefail

packages=(
	# build the harness and its tests
	build-essential pkg-config libvirt-dev libtelnet-dev libyaml-dev libjansson-dev
	libxml2-dev libcmocka-dev valgrind libpcap-dev
	# make check: the guest scripts are linted by shellcheck
	shellcheck
	# make fuzz: clang and its libFuzzer, which is in compiler-rt (only recommended by clang)
	clang libclang-rt-dev
	# the capture beside the probe: dumpcap (its package, wireshark-common, comes with tshark)
	tshark
	# the lab: QEMU, a private libvirtd + virtlogd, network namespaces
	qemu-system-x86 qemu-utils libvirt-daemon libvirt-daemon-driver-qemu
	libvirt-daemon-system libvirt-clients iproute2
	# guest images
	debootstrap busybox-static kexec-tools e2fsprogs cpio xz-utils
	# kernel builds (the twin kernel)
	linux-source-6.1 bc bison flex libelf-dev libssl-dev dwarves ccache rsync
	# reports
	gnuplot-nox
)

# QEMU and libvirt come from bookworm-backports (Debian's archive): Debian
# 12's QEMU 7.2 runs TCG vCPUs in threads of their own with a race between
# a memory map change on one vCPU and MMIO on another (fixed in QEMU 8.1,
# "softmmu: Use async_run_on_cpu in tcg_commit"), which crashed QEMU here
# while a guest sized its PCI BARs (README.md, "The lab").  libvirt comes
# along, for a QEMU it knows.
virt_packages=(qemu-system-x86 qemu-utils libvirt-daemon libvirt-daemon-driver-qemu
	libvirt-daemon-system libvirt-clients libvirt-dev)
QEMU_MIN=1:8.1
BACKPORTS=/etc/apt/sources.list.d/twinbench-backports.sources

installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

missing=()
for p in "${packages[@]}"; do
	installed "$p" || missing+=("$p")
done
old_qemu=
if ! installed qemu-system-x86 ||
	! dpkg --compare-versions "$(dpkg-query -W -f='${Version}' qemu-system-x86)" ge "$QEMU_MIN"; then
	old_qemu=yes
fi
if [ ${#missing[@]} -eq 0 ] && [ -z "$old_qemu" ]; then
	echo "deps: all ${#packages[@]} packages installed"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing ${missing[*]}${old_qemu:+ (and QEMU >= $QEMU_MIN)}; run 'make deps' as root" >&2
	exit 3
fi
export DEBIAN_FRONTEND=noninteractive
if [ -n "$old_qemu" ]; then
	. /etc/os-release
	if [ "${VERSION_CODENAME:-}" = bookworm ] && [ ! -e "$BACKPORTS" ]; then
		cat >"$BACKPORTS" <<-EOF
			Types: deb
			URIs: http://deb.debian.org/debian
			Suites: bookworm-backports
			Components: main
			Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
		EOF
	fi
fi
apt-get update
if [ -n "$old_qemu" ]; then
	echo "deps: installing QEMU and libvirt from bookworm-backports"
	apt-get install -y --no-install-recommends -t bookworm-backports "${virt_packages[@]}"
fi
missing=()
for p in "${packages[@]}"; do
	installed "$p" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "deps: installing ${missing[*]}"
	apt-get install -y --no-install-recommends "${missing[@]}"
fi
if ! dpkg --compare-versions "$(dpkg-query -W -f='${Version}' qemu-system-x86)" ge "$QEMU_MIN"; then
	echo "deps: QEMU $(dpkg-query -W -f='${Version}' qemu-system-x86) is older than $QEMU_MIN" >&2
	exit 3
fi
