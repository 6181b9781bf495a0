#!/bin/sh
# deb.sh VERSION OUTDIR: libdcf_VERSION-1_ARCH.deb (the library, the static library, the
# header, dcf.pc, dcf-inspect and its man pages) and libdcf-dbgsym_VERSION-1_ARCH.deb (the
# library's debug info), from `make install` with PREFIX=/usr into a scratch tree.
set -eu
cd "$(dirname "$0")/.."
. packaging/common.sh
version=$1
out=$2
arch=$(dpkg --print-architecture)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
libsub=lib/$multiarch
work=$out/deb
main=$work/libdcf
dbg=$work/libdcf-dbgsym
rm -rf "$work"
mkdir -p "$main/DEBIAN" "$dbg/DEBIAN"
stage "$main" "$libsub"
build_id=$(split_debug "$main" "$dbg" "$libsub")

# Depends: the package of each library the binaries need, libc6 at the newest symbol
# version they use (what dpkg-shlibdeps would work out from a full source package).
needed=$(for f in "$main/usr/$libsub/libdcf.so" "$main/usr/bin/dcf-inspect"; do
    objdump -p "$f" | awk '$1 == "NEEDED" { print $2 }'
done | sort -u)
glibc=$(for f in "$main/usr/$libsub/libdcf.so" "$main/usr/bin/dcf-inspect"; do
    objdump -T "$f" | grep -o 'GLIBC_[0-9.]*'
done | sed 's/GLIBC_//' | sort -uV | tail -1)
depends=$(for n in $needed; do
    dpkg -S "*/$multiarch/$n" 2>/dev/null | head -1 | cut -d: -f1
done | sort -u | sed "s/^libc6\$/libc6 (>= $glibc)/" | paste -sd, - | sed 's/,/, /g')

control() { # DIR PACKAGE SECTION DEPENDS DESCRIPTION [EXTRA]
    size=$(du -sk --exclude=DEBIAN "$1" | cut -f1)
    {
        echo "Package: $2"
        echo "Source: libdcf-rs"
        echo "Version: $version-1"
        echo "Architecture: $arch"
        echo "Maintainer: libdcf-rs developers <libdcf-rs@invalid>"
        echo "Installed-Size: $size"
        [ -n "$4" ] && echo "Depends: $4"
        echo "Section: $3"
        echo "Priority: optional"
        [ -n "${6:-}" ] && printf '%s\n' "$6"
        echo "Description: $5"
    } >"$1/DEBIAN/control"
    (cd "$1" && find . -path ./DEBIAN -prune -o -type f -print | sed 's|^\./||' | sort |
        xargs md5sum >DEBIAN/md5sums)
}
control "$main" libdcf libs "$depends" "$DESCRIPTION
$(printf '%s\n' "$LONG_DESCRIPTION" | sed 's/^/ /')"
control "$dbg" libdcf-dbgsym debug "libdcf (= $version-1)" "debug symbols for libdcf" \
    "Auto-Built-Package: debug-symbols${build_id:+
Build-Ids: $build_id}"

for d in "$main" "$dbg"; do
    chmod -R go-w "$d"
    dpkg-deb --root-owner-group -Zxz --build "$d" "$out/$(basename "$d")_$version-1_$arch.deb" >/dev/null
done
ls -l "$out"/libdcf_"$version"-1_"$arch".deb "$out"/libdcf-dbgsym_"$version"-1_"$arch".deb
