#!/bin/sh
# libdcf.so must export the dcf_* interface and nothing else (SPEC B7.15), exactly the 50
# functions of the interface table.
set -eu
lib=$1
syms=$(nm -D --defined-only "$lib" | awk '{print $3}' | sort)
other=$(printf '%s\n' "$syms" | grep -v '^dcf_' || true)
if [ -n "$other" ]; then
    echo "FAIL: $lib exports symbols outside the dcf_* API:"; printf '%s\n' "$other" | head -20
    exit 1
fi
n=$(printf '%s\n' "$syms" | grep -c '^dcf_')
if [ "$n" -ne 50 ]; then
    echo "FAIL: $lib exports $n dcf_* functions, expected 50"; printf '%s\n' "$syms"
    exit 1
fi
echo "exports: ok ($n dcf_* functions, nothing else)"
