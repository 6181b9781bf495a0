#!/bin/sh
# need.sh TOOL:PACKAGE ...: the Debian packages of the tools not on PATH are installed with
# apt-get when running as root; otherwise their names are printed. Exits 1 if a tool is
# still missing (callers that can do without it ignore that).
set -u
missing=""
for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing="$missing ${pair#*:}"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing$missing"
    { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing; } \
        >/dev/null 2>&1 || echo "could not install$missing"
fi
status=0
for pair in "$@"; do
    if ! command -v "${pair%%:*}" >/dev/null 2>&1; then
        echo "${pair%%:*} is missing (Debian package ${pair#*:})"
        status=1
    fi
done
exit $status
