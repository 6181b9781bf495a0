#!/bin/sh
# check_packages.sh PKGDIR VERSION: the packages `make deb rpm` built.
#  - deb: unpacked into a scratch root (dpkg-deb -x); a C program built with
#    `pkg-config --cflags --libs dcf` against that root runs; dcf-inspect runs; the man
#    pages are there; the debug info is where debuggers look (build id, debug link; gdb
#    finds the library's lines when it is installed). Under CI as root, the debs are also
#    installed for real (dpkg -i), the program built with plain pkg-config and run, and the
#    packages removed again.
#  - rpm: rpm -qlp lists the same files under /usr/lib64, the debug file only in
#    libdcf-debuginfo; unpacked, its dcf.pc names /usr/lib64 and the same program builds.
set -eu
pkg=$1
version=$2
fail() { echo "FAIL: $*"; exit 1; }
arch=$(dpkg --print-architecture)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
deb=$pkg/libdcf_${version}-1_$arch.deb
dbgsym=$pkg/libdcf-dbgsym_${version}-1_$arch.deb
check=$pkg/check
rm -rf "$check"
mkdir -p "$check/deb" "$check/rpm"

cat >"$check/prog.c" <<'C'
#include <stdio.h>
#include <string.h>
#include "dcf_interface.h"

int main(void)
{
    char value[32];
    const char *version = dcf_get_version();
    if (version == NULL || dcf_set_param("ELECTION_TIMEOUT", "5") != 0) {
        return 1;
    }
    if (dcf_get_param("ELECTION_TIMEOUT", value, sizeof value) != 0 || strcmp(value, "5000") != 0) {
        return 2;
    }
    printf("%s\n", version);
    return 0;
}
C

# build_and_run ROOT LIBDIR: compiles prog.c with the flags pkg-config gives for the tree
# unpacked at ROOT, runs it against that tree's libdcf.so and checks it loaded that one.
build_and_run() {
    flags=$(PKG_CONFIG_SYSROOT_DIR=$1 PKG_CONFIG_LIBDIR=$1$2/pkgconfig pkg-config --cflags --libs dcf)
    case $flags in *"-I$1/usr/include"*"-L$1$2"*) ;; *) fail "pkg-config gave '$flags'" ;; esac
    cc -std=c11 -Wall -Wextra -Werror -o "$1.prog" "$check/prog.c" $flags
    LD_LIBRARY_PATH=$1$2 ldd "$1.prog" | grep -q "$1$2/libdcf.so" || fail "the program did not load $1$2/libdcf.so"
    LD_LIBRARY_PATH=$1$2 "$1.prog" >/dev/null || fail "the program built against $1 failed"
}

# --- deb ---
root=$check/deb
dpkg-deb -x "$deb" "$root"
dpkg-deb -x "$dbgsym" "$root"
lib=/usr/lib/$multiarch
for f in $lib/libdcf.so $lib/libdcf.a $lib/pkgconfig/dcf.pc /usr/include/dcf_interface.h \
    /usr/bin/dcf-inspect /usr/share/man/man1/dcf-inspect.1.gz \
    /usr/share/man/man1/dcf-inspect-verify.1.gz /usr/share/doc/libdcf/copyright \
    /usr/lib/debug$lib/libdcf.so.debug; do
    [ -e "$root$f" ] || fail "the debs lack $f"
done
if dpkg-deb -c "$deb" | grep -q '\.debug$'; then fail "libdcf carries debug info"; fi
if dpkg-deb -c "$dbgsym" | grep -v '/$' | grep -v '/usr/lib/debug/'; then fail "libdcf-dbgsym carries more than debug info"; fi
dpkg-deb -f "$deb" Depends | grep -q 'libc6 (>= 2\.' || fail "libdcf does not depend on libc6"
[ "$(dpkg-deb -f "$dbgsym" Depends)" = "libdcf (= $version-1)" ] || fail "libdcf-dbgsym does not depend on its libdcf"
build_and_run "$root" "$lib"
"$root/usr/bin/dcf-inspect" --version | grep -q "$version" || fail "dcf-inspect --version"
gzip -dc "$root/usr/share/man/man1/dcf-inspect.1.gz" | grep -q '^\.SH "EXIT STATUS"' ||
    fail "dcf-inspect.1 has no EXIT STATUS section"
id=$(readelf -n "$root$lib/libdcf.so" | sed -n 's/.*Build ID: *\([0-9a-f]*\).*/\1/p')
if [ -n "$id" ]; then
    link=$root/usr/lib/debug/.build-id/$(echo "$id" | cut -c1-2)/$(echo "$id" | cut -c3-).debug
    [ -e "$link" ] || fail "no debug file for build id $id"
    readelf -S "$link" | grep -q '\.debug_info' || fail "the build-id debug file holds no debug info"
fi
if command -v gdb >/dev/null; then
    gdb -nx -batch -iex "set debug-file-directory $root/usr/lib/debug" \
        -ex 'info line dcf_get_version' "$root$lib/libdcf.so" 2>&1 | grep -q 'Line [0-9]' ||
        fail "gdb finds no line information for libdcf.so in libdcf-dbgsym"
fi
if [ "${CI:-}" = true ] && [ "$(id -u)" = 0 ] && ! dpkg -s libdcf >/dev/null 2>&1; then
    dpkg -i "$deb" "$dbgsym" >/dev/null
    trap 'dpkg -r libdcf-dbgsym libdcf >/dev/null 2>&1 || true' EXIT
    cc -std=c11 -Wall -Wextra -Werror -o "$check/prog.installed" "$check/prog.c" \
        $(pkg-config --cflags --libs dcf) || fail "building against the installed deb"
    "$check/prog.installed" >/dev/null || fail "the program built against the installed deb failed"
    if command -v man >/dev/null; then
        man -w dcf-inspect >/dev/null || fail "man does not find dcf-inspect(1)"
    fi
    dpkg -r libdcf-dbgsym libdcf >/dev/null
    trap - EXIT
    echo "packages: dpkg -i, a program built with pkg-config against /usr, dpkg -r: ok"
fi

# --- rpm ---
rarch=$(uname -m)
rpm=$pkg/libdcf-$version-1.$rarch.rpm
debuginfo=$pkg/libdcf-debuginfo-$version-1.$rarch.rpm
rpm -qlp "$rpm" >"$check/rpm.list"
rpm -qlp "$debuginfo" >"$check/debuginfo.list"
rlib=$(grep '/libdcf\.so$' "$check/rpm.list" | xargs dirname)
for f in $rlib/libdcf.so $rlib/libdcf.a $rlib/pkgconfig/dcf.pc /usr/include/dcf_interface.h \
    /usr/bin/dcf-inspect /usr/share/man/man1/dcf-inspect.1.gz; do
    grep -qx "$f" "$check/rpm.list" || fail "the rpm lacks $f"
done
case $rarch in x86_64 | aarch64) [ "$rlib" = /usr/lib64 ] || fail "the rpm's libraries are in $rlib" ;; esac
if grep -q '^/usr/lib/debug' "$check/rpm.list"; then fail "libdcf.rpm carries debug info"; fi
grep -qx "/usr/lib/debug$rlib/libdcf.so.debug" "$check/debuginfo.list" || fail "libdcf-debuginfo lacks libdcf.so.debug"
rpm -qp --requires "$debuginfo" | grep -qx "libdcf = $version-1" || fail "libdcf-debuginfo does not require its libdcf"
cp "$rpm" "$check/libdcf.rpm"
rpm2archive "$check/libdcf.rpm"
tar -C "$check/rpm" -xzf "$check/libdcf.rpm.tgz"
grep -qx "libdir=\${prefix}$(echo "$rlib" | sed 's|^/usr||')" "$check/rpm$rlib/pkgconfig/dcf.pc" ||
    fail "the rpm's dcf.pc does not name $rlib"
build_and_run "$check/rpm" "$rlib"

echo "packages: ok ($(basename "$deb") $(wc -c <"$deb") bytes, $(basename "$dbgsym") $(wc -c <"$dbgsym") bytes," \
    "$(basename "$rpm") $(wc -c <"$rpm") bytes, $(basename "$debuginfo") $(wc -c <"$debuginfo") bytes)"
