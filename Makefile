# libdcf: build, test, install. `make demo` and `make test` are the two commands a new user needs.

PREFIX     ?= /usr/local
CARGO      ?= cargo
CC         ?= gcc
CXX        ?= g++
BUILD      := build
STAGE      := $(BUILD)/stage
LIBDIR     := target/release
CWARN      := -Wall -Wextra -Werror
CFLAGS_T   := -std=c11 -D_GNU_SOURCE -O2 -g $(CWARN) -I$(STAGE)/include
CXXFLAGS_T := -std=c++11 -O2 -g $(CWARN) -I$(STAGE)/include
LDFLAGS_T  := -L$(STAGE)/lib -Wl,-rpath,$(abspath $(STAGE)/lib) -ldcf -lpthread
VERSION    := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)

C_TESTS := $(BUILD)/c_tests/test_interface $(BUILD)/c_tests/test_prototypes_c $(BUILD)/c_tests/test_prototypes_cpp \
           $(BUILD)/c_tests/test_header_names_c $(BUILD)/c_tests/test_header_names_cpp $(BUILD)/c_tests/test_dcf_values \
           $(BUILD)/c_tests/test_cluster $(BUILD)/c_tests/test_opengauss $(BUILD)/c_tests/test_adopt
NODE_BIN := $(BUILD)/c_tests/dcf_node
OG_NODE  := $(BUILD)/c_tests/og_node
C_HDRS   := c_tests/harness.h c_tests/node_common.h c_tests/cluster.h c_tests/bench_floor.h
CLUSTER_CYCLES ?= 5

.PHONY: all lib header test rust-test c-test install stage man deb rpm package-test clean demo bench bench-wan bench-memory fault-test fault-tools

all: lib header

lib:
	$(CARGO) build --release -p dcf --lib
	$(CARGO) build --release -p dcf-inspect

# Regenerates include/dcf_interface.h from the sources (commit the result).
header:
	DCF_BLESS_HEADER=1 $(CARGO) test --test header

# Also checks the source rules (tests/source_rules.rs): unsafe only in src/ffi, no I/O,
# threads or clocks in src/consensus.
rust-test:
	$(CARGO) test --workspace

test: rust-test c-test

# Installs the library, header and pkg-config file as a user would, into $(STAGE).
stage: lib
	$(MAKE) --no-print-directory install PREFIX=$(abspath $(STAGE))

# The installed libdcf.so is stripped; its debug info goes to libdcf.so.debug beside it,
# found by debuggers through the .gnu_debuglink section. DESTDIR stages the tree elsewhere
# (the packages do); LIBSUB is the library directory under PREFIX (lib64, lib/<multiarch>).
DESTDIR ?=
LIBSUB  ?= lib
INST    = $(DESTDIR)$(PREFIX)
INSTLIB = $(INST)/$(LIBSUB)
install: lib man
	install -d $(INSTLIB)/pkgconfig $(INST)/include $(INST)/bin $(INST)/share/man/man1
	objcopy --only-keep-debug $(LIBDIR)/libdcf.so $(INSTLIB)/libdcf.so.debug
	chmod 0644 $(INSTLIB)/libdcf.so.debug
	strip --strip-debug --strip-unneeded -o $(INSTLIB)/libdcf.so.tmp $(LIBDIR)/libdcf.so
	cd $(INSTLIB) && objcopy --add-gnu-debuglink=libdcf.so.debug libdcf.so.tmp && chmod 0755 libdcf.so.tmp && mv -f libdcf.so.tmp libdcf.so
	install -m 0755 -s $(LIBDIR)/dcf-inspect $(INST)/bin/dcf-inspect
	strip --strip-debug -o $(INSTLIB)/libdcf.a $(LIBDIR)/libdcf.a
	chmod 0644 $(INSTLIB)/libdcf.a
	install -m 0644 include/dcf_interface.h $(INST)/include/dcf_interface.h
	install -m 0644 $(BUILD)/man/*.1 $(INST)/share/man/man1/
	printf 'prefix=%s\nlibdir=$${prefix}/%s\nincludedir=$${prefix}/include\n\nName: dcf\nDescription: Distributed Consensus Framework (libdcf-rs)\nVersion: %s\nLibs: -L$${libdir} -ldcf\nLibs.private: -lpthread -ldl -lm\nCflags: -I$${includedir}\n' \
		'$(PREFIX)' '$(LIBSUB)' '$(VERSION)' > $(INSTLIB)/pkgconfig/dcf.pc

# dcf-inspect's man pages, made from its command-line definition (not kept in the tree).
man:
	rm -rf $(BUILD)/man
	$(CARGO) run --release -q -p dcf-inspect --example man -- $(BUILD)/man

# Packages in $(BUILD)/pkg: libdcf (libdcf.so, libdcf.a, the header, dcf.pc, dcf-inspect and
# its man pages) and its debug info in libdcf-dbgsym (deb) / libdcf-debuginfo (rpm).
# dpkg-dev and rpm are installed with apt-get when missing and running as root.
PKG := $(BUILD)/pkg
deb: lib man
	@sh packaging/need.sh dpkg-deb:dpkg-dev
	MAKE="$(MAKE)" sh packaging/deb.sh $(VERSION) $(abspath $(PKG))

rpm: lib man
	@sh packaging/need.sh rpmbuild:rpm
	MAKE="$(MAKE)" sh packaging/rpm.sh $(VERSION) $(abspath $(PKG))

# Builds both packages, installs the deb into a scratch root and builds and runs a C
# program against it through pkg-config, and checks the rpms' contents. Says "skipped"
# where the tools are missing and cannot be installed (not root).
package-test:
	@if sh packaging/need.sh dpkg-deb:dpkg-dev rpmbuild:rpm pkg-config:pkg-config; then \
		$(MAKE) --no-print-directory deb && $(MAKE) --no-print-directory rpm && \
		sh c_tests/check_packages.sh $(abspath $(PKG)) $(VERSION); \
	else echo "package-test skipped: the tools above are missing (root installs them)"; fi

$(BUILD)/c_tests/test_interface: c_tests/test_interface.c c_tests/harness.h stage
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_T) -o $@ $< $(LDFLAGS_T)

$(BUILD)/c_tests/test_prototypes_c: c_tests/test_prototypes.c stage
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_T) -o $@ $< $(LDFLAGS_T)

$(BUILD)/c_tests/test_prototypes_cpp: c_tests/test_prototypes.c stage
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS_T) -x c++ -o $@ $< $(LDFLAGS_T)

$(BUILD)/c_tests/test_header_names_c: c_tests/test_header_names.c stage
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_T) -o $@ $< $(LDFLAGS_T)

$(BUILD)/c_tests/test_header_names_cpp: c_tests/test_header_names.c stage
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS_T) -x c++ -o $@ $< $(LDFLAGS_T)

$(BUILD)/c_tests/%: c_tests/%.c $(C_HDRS) stage
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_T) -o $@ $< $(LDFLAGS_T)

c-test: $(C_TESTS) $(NODE_BIN) $(OG_NODE)
	sh c_tests/check_exports.sh $(STAGE)/lib/libdcf.so
	sh c_tests/check_install.sh $(STAGE)
	$(MAKE) --no-print-directory package-test
	python3 c_tests/test_bench_report.py
	$(BUILD)/c_tests/test_prototypes_c
	$(BUILD)/c_tests/test_prototypes_cpp
	$(BUILD)/c_tests/test_header_names_c
	$(BUILD)/c_tests/test_header_names_cpp
	$(BUILD)/c_tests/test_interface
	$(BUILD)/c_tests/test_adopt crates/runtime/tests/fixtures/dcf/node1 $(abspath $(BUILD)/run/adopt)
	rm -rf $(BUILD)/run/values $(BUILD)/run/cluster && mkdir -p $(BUILD)/run
	$(BUILD)/c_tests/test_dcf_values $(abspath $(BUILD)/run/values)
	$(BUILD)/c_tests/test_cluster $(NODE_BIN) $(abspath $(BUILD)/run/cluster) $(CLUSTER_CYCLES)
	rm -rf $(BUILD)/run/opengauss
	$(BUILD)/c_tests/test_opengauss $(OG_NODE) $(abspath $(BUILD)/run/opengauss)

# A three-node cluster on loopback: writes, SIGKILL of the leader, failover, clean stop.
demo: $(BUILD)/c_tests/demo $(NODE_BIN)
	rm -rf $(BUILD)/run/demo && mkdir -p $(BUILD)/run
	$(BUILD)/c_tests/demo $(NODE_BIN) $(abspath $(BUILD)/run/demo)

# Throughput, latency and failover of three node processes (BENCH_SECS per case), and the
# aggregate of four streams written at once; the table and the charts of
# build/bench/report.html (self-contained HTML with inline SVG). BENCH_ONLY=<size>x<writers>
# (s<size>x<writers> for the four streams, or latency) runs one case, e.g. under a profiler.
# The nodes' data (gigabytes) is deleted after a run and kept only when it fails.
# Then, unless BENCH_ONLY is set, the wide-area cases (bench-wan).
BENCH_SECS ?= 3
bench: $(BUILD)/c_tests/bench $(BUILD)/c_tests/bench_wan $(NODE_BIN)
	rm -rf $(BUILD)/run/bench $(BUILD)/bench && mkdir -p $(BUILD)/run $(BUILD)/bench
	{ $(BUILD)/c_tests/bench $(NODE_BIN) $(abspath $(BUILD)/run/bench) $(BENCH_SECS) $(abspath $(BUILD)/bench); \
	  echo $$? > $(BUILD)/bench/rc; } | tee $(BUILD)/bench/table.txt; exit $$(cat $(BUILD)/bench/rc)
	python3 c_tests/bench_report.py $(BUILD)/bench
	rm -rf $(BUILD)/run/bench
	if [ -z "$$BENCH_ONLY" ]; then $(MAKE) --no-print-directory bench-wan; fi

# Wide-area links: every link's round trip 1, 10 and 50 ms longer (the transport's
# DCF_TEST_LINK_DELAY_US), against loopback in the same run: single-writer latency and
# 8 KiB x 16 writers; wan.txt, wan.tsv and their charts in build/bench/report.html.
# BENCH_WAN_RTTS=0,10 chooses the round trips (ms).
bench-wan: $(BUILD)/c_tests/bench $(BUILD)/c_tests/bench_wan $(NODE_BIN)
	rm -rf $(BUILD)/run/bench-wan $(BUILD)/bench/wan.tsv && mkdir -p $(BUILD)/run/bench-wan $(BUILD)/bench
	{ $(BUILD)/c_tests/bench_wan $(BUILD)/c_tests/bench $(NODE_BIN) $(abspath $(BUILD)/run/bench-wan) $(BENCH_SECS) \
	  $(abspath $(BUILD)/bench); echo $$? > $(BUILD)/bench/wan-rc; } | tee $(BUILD)/bench/wan.txt
	python3 c_tests/bench_report.py $(BUILD)/bench
	exit $$(cat $(BUILD)/bench/wan-rc)

# Network faults (cuts, a leader that cannot hear, loss, flapping, SIGKILL) between three node
# processes in network namespaces. Needs root; installs iproute2 and nftables if missing.
FAULT_SCENARIOS ?=
$(BUILD)/c_tests/fault_check: c_tests/fault/fault_check.c $(C_HDRS) stage
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_T) -o $@ $< $(LDFLAGS_T)

fault-tools:
	@if [ "$$(id -u)" = 0 ] && ! { command -v ip && command -v nft; } >/dev/null 2>&1; then \
		{ apt-get update && apt-get install -y iproute2 nftables; } >/dev/null 2>&1 || \
			echo "could not install iproute2 and nftables"; \
	fi

fault-test: fault-tools $(BUILD)/c_tests/fault_check $(NODE_BIN)
	rm -rf $(BUILD)/run/fault && mkdir -p $(BUILD)/run/fault
	bash c_tests/fault/run.sh $(abspath $(NODE_BIN)) $(abspath $(BUILD)/c_tests/fault_check) \
		$(abspath $(BUILD)/run/fault) $(FAULT_SCENARIOS)

# Memory while the log grows on disk with a member down (BENCH_MEM_GIB of 8 KiB entries),
# the stopped member's catch-up from disk, a restart on the long log; then a writer with
# no window of its own against backpressure.
BENCH_MEM_GIB ?= 4
bench-memory: $(BUILD)/c_tests/bench_memory $(NODE_BIN)
	rm -rf $(BUILD)/run/bench-memory && mkdir -p $(BUILD)/run
	$(BUILD)/c_tests/bench_memory $(NODE_BIN) $(abspath $(BUILD)/run/bench-memory) $(BENCH_MEM_GIB)
	rm -rf $(BUILD)/run/bench-memory
	$(BUILD)/c_tests/bench_memory $(NODE_BIN) $(abspath $(BUILD)/run/bench-memory) flood 20
	rm -rf $(BUILD)/run/bench-memory

clean:
	$(CARGO) clean
	rm -rf $(BUILD)
