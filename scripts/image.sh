#!/usr/bin/env bash
# image.sh - build the guest images into images/.
#
#   images/rootfs.img   kernel A's root: Debian (debootstrap, minbase) with
#                       busybox init, kexec-tools, criu and the agent
#   images/vmlinuz      Debian's packaged kernel (old and new kernel until the
#   images/initrd.img   twin kernel lands) and its initrd
#   images/initramfs-b.cpio
#                       kernel B's root: busybox, the agent, guest/initramfs/init;
#                       not compressed: B would spend about 0.2 s of its boot
#                       (TCG) inflating it, more than kexec -p takes to copy
#                       the difference
#   images/initramfs-b.cpio.gz
#                       the same, compressed, for scenarios that name it
#   images/manifest     what was built, from what
#
# The twin kernels themselves come from guest/kernel/build.sh (make kernel).
#
# Everything slow is cached under $CACHE (default /var/cache/twinbench),
# keyed by what it was built from, so a fresh clone or an unchanged tree
# rebuilds nothing.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${CACHE:-/var/cache/twinbench}
images=$top/images
suite=bookworm
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# criu: the kexec-criu method checkpoints the service with it.
include=linux-image-amd64,kexec-tools,busybox-static,kmod,criu
# Debian's kernel needs these in its initrd to mount a virtio root.
initrd_modules="virtio_pci virtio_blk ext4"

log() { printf 'image: %s\n' "$*"; }
key() { sha256sum | cut -c1-16; }

[ "$(id -u)" -eq 0 ] || { echo "image: debootstrap and mkfs need root" >&2; exit 3; }
for tool in debootstrap mkfs.ext4 kexec chrt; do
	command -v "$tool" >/dev/null || { echo "image: $tool missing: run 'make deps'" >&2; exit 3; }
done
mkdir -p "$cache" "$images"

# 1. Debian base, keyed by suite, mirror, package list and initrd recipe.
base_key=$(printf '%s\n' "$suite" "$mirror" "$include" "$initrd_modules" | key)
base=$cache/base-$base_key
if [ ! -e "$base/.complete" ]; then
	log "debootstrap $suite into $base (a few minutes, once)"
	rm -rf "$base.tmp"
	debootstrap --variant=minbase --include="$include" "$suite" "$base.tmp" "$mirror" \
		>"$cache/debootstrap.log" 2>&1 ||
		{ tail -20 "$cache/debootstrap.log" >&2; echo "image: debootstrap failed" >&2; exit 3; }
	# A small initrd: only what mounting a virtio root needs.
	sed -i 's/^MODULES=.*/MODULES=list/' "$base.tmp/etc/initramfs-tools/initramfs.conf"
	printf '%s\n' $initrd_modules >>"$base.tmp/etc/initramfs-tools/modules"
	chroot "$base.tmp" update-initramfs -u -k all >>"$cache/debootstrap.log" 2>&1
	rm -rf "$base.tmp"/var/cache/apt/archives/*.deb "$base.tmp"/usr/share/doc \
		"$base.tmp"/usr/share/man "$base.tmp"/usr/share/locale
	touch "$base.tmp/.complete"
	mv "$base.tmp" "$base"
fi

# 2. The root image: base + overlay + agent, keyed by all three.
agent=$top/build/twinbench-agent
[ -x "$agent" ] || { echo "image: $agent missing: run 'make'" >&2; exit 2; }
image_key=$( (echo "$base_key"; cd "$top/guest/rootfs/overlay" && find . -type f | sort |
	xargs sha256sum; sha256sum <"$agent") | key)
rootfs_cached=$cache/rootfs-$image_key.img
if [ ! -e "$rootfs_cached" ]; then
	log "assembling the root image"
	work=$(mktemp -d "$cache/rootfs-work.XXXXXX")
	trap 'rm -rf "$work"' EXIT
	cp -a "$base/." "$work/"
	rm -f "$work/.complete"
	cp -a "$top/guest/rootfs/overlay/." "$work/"
	install -m 0755 "$agent" "$work/usr/local/sbin/twinbench-agent"
	ln -sf /bin/busybox "$work/sbin/init"
	mkfs.ext4 -q -F -L tbroot -d "$work" "$rootfs_cached.tmp" 2G
	mv "$rootfs_cached.tmp" "$rootfs_cached"
	rm -rf "$work"
	trap - EXIT
fi

# 3. Kernel B's initramfs: small enough to build every time its inputs change.
busybox=/bin/busybox
# Debian's tools, with the libraries they link: kexec lets B start the next
# kernel beside itself (a chain of twin upgrades, twinbench-upgrade), chrt
# puts the script at SCHED_IDLE there before B hands its CPU over.
tools="$(command -v kexec) $(command -v chrt)"
tool_libs=$(ldd $tools | awk '/:$/ { next } $(NF-1) ~ /^\// { print $(NF-1) } $1 ~ /^\// { print $1 }' | sort -u)
upgrade_script=$top/guest/rootfs/overlay/usr/local/sbin/twinbench-upgrade
initramfs_key=$( (cat "$top"/guest/initramfs/* "$upgrade_script" | sha256sum; sha256sum <"$agent";
	sha256sum <"$busybox"; cat $tools $tool_libs | sha256sum) | key)
initramfs=$cache/initramfs-b-$initramfs_key.cpio
if [ ! -e "$initramfs" ] || [ ! -e "$initramfs.gz" ]; then
	log "assembling kernel B's initramfs"
	stage=$(mktemp -d "$cache/initramfs-work.XXXXXX")
	trap 'rm -rf "$stage" "$initramfs.tmp" "$initramfs.gz.tmp"' EXIT
	mkdir -p "$stage"/{bin,dev,proc,sys,run,tmp}
	install -m 0755 "$busybox" "$stage/bin/busybox"
	install -m 0755 "$agent" "$stage/bin/twinbench-agent"
	for tool in $tools; do
		install -m 0755 "$tool" "$stage/bin/${tool##*/}"
	done
	for lib in $tool_libs; do
		install -D -m 0755 "$lib" "$stage$lib"
	done
	install -m 0755 "$top/guest/initramfs/init" "$stage/init"
	install -m 0755 "$upgrade_script" "$stage/bin/twinbench-upgrade"
	# The kernel opens /dev/console for init before devtmpfs is mounted.
	mknod -m 0600 "$stage/dev/console" c 5 1
	(cd "$stage" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) \
		>"$initramfs.tmp"
	gzip -9 <"$initramfs.tmp" >"$initramfs.gz.tmp"
	mv "$initramfs.gz.tmp" "$initramfs.gz"
	mv "$initramfs.tmp" "$initramfs"
	rm -rf "$stage"
	trap - EXIT
fi

release=$(ls "$base/lib/modules" | sort -V | tail -1)
install_if_changed() { cmp -s "$1" "$2" || cp --sparse=always "$1" "$2"; }
install_if_changed "$rootfs_cached" "$images/rootfs.img"
install_if_changed "$base/boot/vmlinuz-$release" "$images/vmlinuz"
install_if_changed "$base/boot/initrd.img-$release" "$images/initrd.img"
install_if_changed "$initramfs" "$images/initramfs-b.cpio"
install_if_changed "$initramfs.gz" "$images/initramfs-b.cpio.gz"
cat >"$images/manifest.tmp" <<MANIFEST
# twinbench guest images
kernel_release=$release
rootfs_key=$image_key
base=$suite minbase ($include)
MANIFEST
mv "$images/manifest.tmp" "$images/manifest"
log "images ready: rootfs.img, vmlinuz, initrd.img ($release), initramfs-b.cpio(.gz)"
