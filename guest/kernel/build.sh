#!/usr/bin/env bash
# build.sh - build the twin kernels from Debian's linux-source-6.1.
#
#   images/vmlinuz-twin-a   kernel A (release 6.1.x-twinbench-a)
#   images/vmlinuz-twin-b   kernel B (release 6.1.x-twinbench-b)
#
# Both come from the same source, patch series (patches/*.patch, applied in
# order) and configuration (allnoconfig + twin.config); only the release
# string differs, so that the probe can tell which kernel answers.  The
# source tree, the outputs and ccache live under $CACHE, keyed by what they
# are built from: an unchanged tree rebuilds nothing, a changed patch
# rebuilds what it touches.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cache=${CACHE:-/var/cache/twinbench}/kernel
images=$top/images
tarball=/usr/src/linux-source-6.1.tar.xz
jobs=$(nproc)

log() { printf 'kernel: %s\n' "$*"; }
die() { printf 'kernel: %s\n' "$1" >&2; exit "${2:-3}"; }
key() { sha256sum | cut -c1-16; }

[ -r "$tarball" ] || die "$tarball missing: run 'make deps'"
for tool in gcc make bc bison flex ccache; do
	command -v "$tool" >/dev/null || die "$tool missing: run 'make deps'"
done
mkdir -p "$cache" "$images"

version=$(dpkg-query -W -f='${Version}' linux-source-6.1)
patches=("$here"/patches/*.patch)
[ -e "${patches[0]}" ] || patches=()
src_key=$( (echo "$version"; cat "${patches[@]}" /dev/null) | key)
out_key=$( (echo "$src_key"; cat "$here/twin.config" "$here/build.sh") | key)
src=$cache/src-$src_key
out=$cache/out-$out_key

install_outputs() {
	for k in a b; do
		cmp -s "$out/vmlinuz-$k" "$images/vmlinuz-twin-$k" ||
			cp "$out/vmlinuz-$k" "$images/vmlinuz-twin-$k"
	done
	cp "$out/manifest" "$images/kernel-manifest"
	log "ready: $(tr '\n' ' ' <"$out/manifest")"
}

if [ -e "$out/.complete" ]; then
	install_outputs
	exit 0
fi

# 1. The patched source tree (a new one whenever the source or a patch changes).
if [ ! -e "$src/.complete" ]; then
	log "extracting linux-source $version and applying ${#patches[@]} patches"
	rm -rf "$src.tmp"
	mkdir -p "$src.tmp"
	tar -xJf "$tarball" -C "$src.tmp" --strip-components=1
	for p in "${patches[@]}"; do
		# Upstream style is part of the series' contract: checked from the tree itself.
		(cd "$src.tmp" && perl scripts/checkpatch.pl --no-tree --quiet "$p") ||
			die "patch $(basename "$p") is not checkpatch clean" 1
		patch -d "$src.tmp" -p1 --batch --quiet --forward <"$p" ||
			die "patch $(basename "$p") does not apply to linux-source $version" 1
	done
	touch "$src.tmp/.complete"
	# Older trees are dead weight (1.3 GB each): ccache keeps what they compiled.
	find "$cache" -maxdepth 1 -name 'src-*' ! -name "src-$src_key*" -exec rm -rf {} +
	mv "$src.tmp" "$src"
fi

# 2. Configuration: allnoconfig plus the fragment, and the fragment must hold.
export CCACHE_DIR=${CCACHE_DIR:-$cache/ccache} CCACHE_BASEDIR=$cache CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-4G}
kmake() { make -C "$src" -j"$jobs" CC="ccache gcc" KBUILD_BUILD_USER=twinbench \
	KBUILD_BUILD_HOST=twinbench "$@" >>"$cache/build.log" 2>&1; }
: >"$cache/build.log"
kmake KCONFIG_ALLCONFIG="$here/twin.config" allnoconfig ||
	die "configuration failed: see $cache/build.log"
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=n) want="# ${line%=n} is not set"
		grep -qxF "$want" "$src/.config" || ! grep -q "^${line%=n}=" "$src/.config" ||
			die "twin.config: $line did not hold (dependencies?)" 1 ;;
	CONFIG_*) grep -qxF "$line" "$src/.config" ||
			die "twin.config: $line did not hold (dependencies?)" 1 ;;
	esac
done <"$here/twin.config"

# 3. Kernel A, then kernel B: only the release differs, so B is a relink.
mkdir -p "$out.tmp"
for k in a b; do
	start=$(date +%s)
	log "building kernel $k ($jobs jobs; log: $cache/build.log)"
	kmake LOCALVERSION="-twinbench-$k" bzImage ||
		{ tail -30 "$cache/build.log" >&2; die "kernel $k failed to build" 1; }
	cp "$src/arch/x86/boot/bzImage" "$out.tmp/vmlinuz-$k"
	release=$(make -s -C "$src" LOCALVERSION="-twinbench-$k" kernelrelease)
	echo "release_$k=$release" >>"$out.tmp/manifest"
	log "kernel $k: $release in $(($(date +%s) - start)) s"
done
echo "source=linux-source-6.1 $version" >>"$out.tmp/manifest"
echo "patches=${#patches[@]}" >>"$out.tmp/manifest"
touch "$out.tmp/.complete"
rm -rf "$out"
mv "$out.tmp" "$out"
install_outputs
