#!/bin/sh
# What `make install` puts under a prefix: a stripped libdcf.so with the soname libdcf.so
# and a debug link to libdcf.so.debug (which holds the debug info), and dcf-inspect with its
# man pages.
set -eu
prefix=$1
lib=$prefix/lib/libdcf.so
fail() { echo "FAIL: $*"; exit 1; }
readelf -d "$lib" | grep -q 'Library soname: \[libdcf.so\]' || fail "$lib has no soname libdcf.so"
if readelf -S "$lib" | grep -q '\.debug_info'; then fail "$lib is not stripped"; fi
link=$(objcopy --dump-section .gnu_debuglink=/dev/stdout "$lib" 2>/dev/null | tr -d '\000' | head -c 64 || true)
case "$link" in libdcf.so.debug*) ;; *) fail "$lib has no debug link to libdcf.so.debug (got '$link')" ;; esac
readelf -S "$prefix/lib/libdcf.so.debug" | grep -q '\.debug_info' || fail "libdcf.so.debug holds no debug info"
"$prefix/bin/dcf-inspect" --help >/dev/null || fail "dcf-inspect is not installed"
grep -q '^\.TH dcf-inspect 1' "$prefix/share/man/man1/dcf-inspect.1" || fail "dcf-inspect(1) is not installed"
echo "install: ok (stripped $(wc -c <"$lib") bytes, soname libdcf.so, debug link, dcf-inspect and its man pages)"
