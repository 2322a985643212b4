#!/usr/bin/env bash
# build-kernel.sh [--force] [OUTDIR]
#
# Build mvm's guest kernel (vmlinux with a PVH note, and an LZ4 bzImage) from
# Debian's /usr/src/linux-source-6.1.tar.xz: tinyconfig + kernel/microvm.config
# + kernel/patches/*.patch. Results are cached in
#   ${XDG_CACHE_HOME:-$HOME/.cache}/mvm/kernel-<key>/{vmlinux,bzImage,config,System.map}
# where <key> = first 16 hex digits of a sha256 over the config fragment, the
# patches, this script and the linux-source-6.1 package version. OUTDIR
# (default: <repo>/build/guest) gets symlinks vmlinux and bzImage into it.
# --force (or MVM_KERNEL_FORCE=1) rebuilds even if the cache entry exists.
set -euo pipefail

prog=build-kernel
die() { printf '%s: error: %s\n' "$prog" "$*" >&2; exit 1; }
log() { printf '%s: %s\n' "$prog" "$*" >&2; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
fragment=$here/kernel/microvm.config
src_tar=/usr/src/linux-source-6.1.tar.xz
src_pkg=linux-source-6.1

force=${MVM_KERNEL_FORCE:-0}
outdir=
for arg in "$@"; do
	case $arg in
	--force) force=1 ;;
	-h | --help) sed -n '2,12s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
	-*) die "unknown option '$arg' (usage: build-kernel.sh [--force] [OUTDIR])" ;;
	*) [[ -z $outdir ]] || die "more than one OUTDIR given"; outdir=$arg ;;
	esac
done
outdir=${outdir:-$repo/build/guest}

# --- inputs -----------------------------------------------------------------
[[ -r $src_tar ]] || die "$src_tar missing: apt-get install $src_pkg"
[[ -r $fragment ]] || die "config fragment $fragment missing"
pkg_version=$(dpkg-query -W -f='${Version}' "$src_pkg" 2>/dev/null) ||
	die "dpkg-query cannot find package $src_pkg: apt-get install $src_pkg"
for tool in make gcc flex bison bc lz4 flock patch sha256sum; do
	command -v "$tool" >/dev/null ||
		die "'$tool' not found (apt-get install build-essential bc flex bison libelf-dev libssl-dev lz4 util-linux patch)"
done
shopt -s nullglob
patches=("$here"/kernel/patches/*.patch)
shopt -u nullglob

# Cache key: content hashes of every input, named relative to rootfs-tools/,
# plus the source package version.
key=$(
	{
		printf 'package %s %s\n' "$src_pkg" "$pkg_version"
		cd "$here"
		sha256sum build-kernel.sh kernel/microvm.config
		for p in "${patches[@]}"; do sha256sum "kernel/patches/${p##*/}"; done
	} | sha256sum | cut -c1-16
)
cache_root=${XDG_CACHE_HOME:-$HOME/.cache}/mvm
cache=$cache_root/kernel-$key
mkdir -p "$cache_root" || die "cannot create cache directory $cache_root"

# --- build under an exclusive lock (one builder per key) --------------------
exec 9>"$cache.lock"
if ! flock -n 9; then
	log "waiting for another build of kernel-$key (lock $cache.lock)"
	flock 9
fi

verify_config() { # verify_config FRAGMENT DOTCONFIG: every fragment line stuck
	local line opt bad=0 got
	while IFS= read -r line; do
		if [[ $line =~ ^(CONFIG_[A-Za-z0-9_]+)=(.*)$ ]]; then
			opt=${BASH_REMATCH[1]}
			grep -qxF -- "$line" "$2" && continue
			got=$(grep -E "^(# )?${opt}[= ]" "$2" || true)
			log "option did not stick: wanted '$line', got '${got:-absent (dependencies not met)}'"
			bad=1
		elif [[ $line =~ ^#\ (CONFIG_[A-Za-z0-9_]+)\ is\ not\ set$ ]]; then
			opt=${BASH_REMATCH[1]}
			got=$(grep -E "^$opt=" "$2" || true)
			[[ -z $got ]] && continue
			log "option did not stick: wanted '$line', got '$got'"
			bad=1
		fi
	done <"$1"
	return "$bad"
}

if [[ $force != 1 && -f $cache/vmlinux && -f $cache/bzImage ]]; then
	log "cached: $cache"
else
	rm -rf "$cache".tmp.* "$cache".old.* # leftovers of an interrupted run
	tmp=$(mktemp -d "$cache.tmp.XXXXXX")
	# Long steps run in their own process group so that a signal to this
	# script (Ctrl-C, kill, a timeout) stops the whole build at once.
	child=
	run() {
		setsid "$@" &
		child=$!
		local rc=0
		wait "$child" || rc=$?
		child=
		return "$rc"
	}
	on_signal() {
		if [[ -n $child ]]; then
			kill -TERM -- "-$child" 2>/dev/null || true
			wait "$child" 2>/dev/null || true
		fi
		exit 130
	}
	trap 'rm -rf "$tmp"' EXIT
	trap on_signal INT TERM HUP
	src=$tmp/src
	blog=$tmp/build.log
	mkdir "$src" "$tmp/out"
	start=$SECONDS

	log "building kernel-$key ($src_pkg $pkg_version, ${#patches[@]} patch(es)) in $tmp"
	run tar -xf "$src_tar" -C "$src" --strip-components=1 ||
		die "cannot extract $src_tar"
	for p in "${patches[@]}"; do
		patch -d "$src" -p1 --forward --batch --quiet <"$p" >>"$blog" 2>&1 ||
			die "patch ${p##*/} does not apply to $src_pkg $pkg_version (see $blog)"
	done

	export KBUILD_BUILD_USER=mvm KBUILD_BUILD_HOST=mvm
	mk() { run make -C "$src" -s "$@" >>"$blog" 2>&1; }
	mk tinyconfig || die "make tinyconfig failed: $(tail -n 20 "$blog")"
	(cd "$src" && scripts/kconfig/merge_config.sh -m .config "$fragment") >>"$blog" 2>&1 ||
		die "merge_config.sh failed: $(tail -n 20 "$blog")"
	# Twice: some options only become visible after the first pass.
	for _ in 1 2; do
		mk olddefconfig || die "make olddefconfig failed: $(tail -n 20 "$blog")"
	done
	verify_config "$fragment" "$src/.config" ||
		die "kernel config does not match $fragment (options listed above)"

	log "compiling (make -j$(nproc) vmlinux bzImage, a few minutes; log: $blog)"
	if ! mk -j"$(nproc)" vmlinux bzImage; then
		tail -n 40 "$blog" >&2
		die "kernel build failed (last lines above)"
	fi
	cp "$src/vmlinux" "$src/arch/x86/boot/bzImage" "$src/System.map" "$tmp/out/"
	cp "$src/.config" "$tmp/out/config"
	cp "$blog" "$tmp/out/build.log"
	# Atomic publish: the cache directory appears complete or not at all
	# (with --force the old entry is moved aside first).
	if [[ -e $cache ]]; then
		mv -T "$cache" "$cache.old.$$"
	fi
	mv -T "$tmp/out" "$cache"
	rm -rf "$cache.old.$$"
	rm -rf "$tmp"
	trap - EXIT
	log "built kernel-$key in $((SECONDS - start)) s"
fi

# --- publish symlinks ---------------------------------------------------------
mkdir -p "$outdir" || die "cannot create $outdir"
for f in vmlinux bzImage; do
	ln -sfn "$cache/$f" "$outdir/.$f.new.$$"
	mv -Tf "$outdir/.$f.new.$$" "$outdir/$f"
done
size() { du -k --apparent-size "$1" | cut -f1; }
log "kernel-$key: vmlinux $(size "$cache/vmlinux") KiB, bzImage $(size "$cache/bzImage") KiB -> $outdir/{vmlinux,bzImage} (cache $cache)"
