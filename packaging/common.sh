# Shared by deb.sh and rpm.sh (sourced): lays out a package's tree from `make install`.

# stage ROOT LIBSUB: `make install` with PREFIX=/usr into ROOT, libraries in /usr/LIBSUB;
# man pages compressed, a copyright file added.
stage() {
    ${MAKE:-make} --no-print-directory install DESTDIR="$1" PREFIX=/usr LIBSUB="$2" >/dev/null
    gzip -9n "$1"/usr/share/man/man1/*.1
    install -d "$1/usr/share/doc/libdcf"
    cat >"$1/usr/share/doc/libdcf/copyright" <<'TEXT'
libdcf-rs: a Rust drop-in replacement for openGauss's libdcf (Distributed Consensus Framework).
License: MulanPSL-2.0 (Mulan Permissive Software License, Version 2).
TEXT
    chmod 0644 "$1/usr/share/doc/libdcf/copyright"
}

# split_debug ROOT DBGROOT LIBSUB: moves libdcf.so.debug out of ROOT into DBGROOT under
# /usr/lib/debug/usr/LIBSUB, where debuggers look for the library's debug link, and links
# it from /usr/lib/debug/.build-id. Prints the build id (empty if the library has none).
split_debug() {
    dbgdir=$2/usr/lib/debug/usr/$3
    install -d "$dbgdir"
    mv "$1/usr/$3/libdcf.so.debug" "$dbgdir/libdcf.so.debug"
    id=$(readelf -n "$1/usr/$3/libdcf.so" | sed -n 's/.*Build ID: *\([0-9a-f]*\).*/\1/p')
    if [ -n "$id" ]; then
        first=$(printf %s "$id" | cut -c1-2)
        rest=$(printf %s "$id" | cut -c3-)
        install -d "$2/usr/lib/debug/.build-id/$first"
        ln -s "../../usr/$3/libdcf.so.debug" "$2/usr/lib/debug/.build-id/$first/$rest.debug"
    fi
    printf %s "$id"
}

DESCRIPTION="Distributed Consensus Framework, a drop-in replacement for openGauss's libdcf"
LONG_DESCRIPTION="libdcf.so and libdcf.a with the C header dcf_interface.h and the pkg-config
file dcf.pc, and dcf-inspect, which inspects and repairs the data directory of a stopped node."
