#!/bin/sh
# rpm.sh VERSION OUTDIR: libdcf-VERSION-1.ARCH.rpm (the library, the static library, the
# header, dcf.pc, dcf-inspect and its man pages) and libdcf-debuginfo-VERSION-1.ARCH.rpm
# (the library's debug info), from `make install` with PREFIX=/usr into a scratch tree.
# Libraries go to /usr/lib64 on 64-bit machines, as on openEuler and CentOS.
set -eu
cd "$(dirname "$0")/.."
. packaging/common.sh
version=$1
out=$2
arch=$(uname -m)
case $arch in
x86_64 | aarch64 | ppc64le | s390x | riscv64 | loongarch64) libsub=lib64 ;;
*) libsub=lib ;;
esac
work=$out/rpm
tree=$work/tree
rm -rf "$work"
mkdir -p "$tree" "$work/top"
stage "$tree" "$libsub"
split_debug "$tree" "$tree" "$libsub" >/dev/null

# Every file and link of the tree, the debug ones in the debuginfo package.
(cd "$tree" && find . ! -type d | sed 's|^\.||' | sort) >"$work/all.list"
grep '^/usr/lib/debug/' "$work/all.list" >"$work/debuginfo.list"
grep -v '^/usr/lib/debug/' "$work/all.list" >"$work/main.list"

cat >"$work/libdcf.spec" <<SPEC
# The files are built and stripped by make install; rpm only packs them.
%global debug_package %{nil}
%global __os_install_post %{nil}
%global _build_id_links none

Name: libdcf
Version: $version
Release: 1
Summary: $DESCRIPTION
License: MulanPSL-2.0

%description
$LONG_DESCRIPTION

%package debuginfo
Summary: Debug information for libdcf
Requires: libdcf = %{version}-%{release}
AutoReqProv: no

%description debuginfo
The debug information of libdcf.so, found by debuggers through the library's build id or
its debug link.

%install
cp -a "$tree/." "%{buildroot}/"

%files -f $work/main.list
%defattr(-,root,root,-)

%files debuginfo -f $work/debuginfo.list
%defattr(-,root,root,-)
SPEC

rpmbuild -bb --nodeps --quiet --target "$arch" \
    --define "_topdir $work/top" \
    --define "_rpmdir $out" \
    --define "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm" \
    "$work/libdcf.spec"
ls -l "$out/libdcf-$version-1.$arch.rpm" "$out/libdcf-debuginfo-$version-1.$arch.rpm"
