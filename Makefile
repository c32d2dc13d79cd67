# ipsec-xdp - top-level build.
#
#   make            build BPF objects, skeletons, libixdp.a and ipsec-xdp
#   make check      install what the tests need, then run every test
#   make demo       install what the demo needs, then run it
#   make demo-vm    the same in a VM whose kernel has ESP: IPsec on the wire
#   make install    PREFIX=/usr/local, DESTDIR= a staging root
#   make package-test  completion, staged install, Debian package
#   make bench      benchmarks (JSON lines on stdout)
#
# Files are found by wildcard, in every folder below lib/, ike/ and ctl/:
# a new lib/**/*.c, ike/**/*.c, ctl/*.c, bpf/*.bpf.c or tests/unit/test_*.c
# is built without editing this file.  Header dependencies are tracked by
# the compiler (-MMD -MP: a .d file beside each object).

# B: the build directory; exported, so the test scripts run what was built
B        ?= build
export B
CC       ?= gcc
CLANG    ?= clang
BPFTOOL  ?= bpftool
PKGS     := libbpf yaml-0.1 json-c libnl-3.0 libnl-route-3.0 libnl-xfrm-3.0
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS   ?= -O2 -g
WARN     := -Wall -Wextra -Wno-unused-parameter -Wshadow -Wformat=2 -Wvla
DEPFLAGS := -MMD -MP
CPPFLAGS += -D_GNU_SOURCE -Iinclude -Ilib -I$(B) $(PKG_CFLAGS) $(DEPFLAGS)
LDLIBS   += $(PKG_LIBS) -lelf -lz

SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
	     -fno-sanitize-recover=undefined

# $(call rwildcard,DIR,PATTERN): files matching PATTERN in DIR and below.
rwildcard = $(foreach d,$(wildcard $(1:=/*)),$(call rwildcard,$d,$2) \
	    $(filter $(subst *,%,$2),$d))

BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(patsubst bpf/%.bpf.c,$(B)/%.bpf.o,$(BPF_SRCS))
BPF_SKELS := $(patsubst bpf/%.bpf.c,$(B)/%.skel.h,$(BPF_SRCS))
LIB_SRCS  := $(call rwildcard,lib,*.c)
LIB_OBJS  := $(patsubst lib/%.c,$(B)/lib/%.o,$(LIB_SRCS))
SAN_OBJS  := $(patsubst lib/%.c,$(B)/san/lib/%.o,$(LIB_SRCS))
IKE_ALL   := $(call rwildcard,ike,*.c)
IKE_MAIN  := $(filter %main.c,$(IKE_ALL))
WIRE_SRCS := $(call rwildcard,ike/wire,*.c)
WIRE_OBJS := $(patsubst ike/%.c,$(B)/ike/%.o,$(WIRE_SRCS))
WIRE_SAN  := $(patsubst ike/%.c,$(B)/san/ike/%.o,$(WIRE_SRCS))
IKE_SRCS  := $(filter-out $(IKE_MAIN) $(WIRE_SRCS),$(IKE_ALL))
IKE_OBJS  := $(patsubst ike/%.c,$(B)/ike/%.o,$(IKE_SRCS))
IKE_SAN   := $(patsubst ike/%.c,$(B)/san/ike/%.o,$(IKE_SRCS))
CTL_SRCS  := $(call rwildcard,ctl,*.c)
CTL_OBJS  := $(patsubst ctl/%.c,$(B)/ctl/%.o,$(CTL_SRCS))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRCS))
SAN_BINS  := $(patsubst tests/unit/%.c,$(B)/san/tests/%,$(UNIT_SRCS))
BPFT_SRCS := $(wildcard tests/bpf/test_*.c)
BPFT_BINS := $(patsubst tests/bpf/%.c,$(B)/tests/bpf_%,$(BPFT_SRCS))
VMT_SRCS  := $(wildcard tests/vm/*.c)
VMT_BINS  := $(patsubst tests/vm/%.c,$(B)/tests/vm_%,$(VMT_SRCS))
BENCH_SRCS:= $(wildcard tests/bench/*.c)
BENCH_BINS:= $(patsubst tests/bench/%.c,$(B)/bench/%,$(BENCH_SRCS))

# Every header compiles alone (make headers; part of unit and check-only).
HDRS      := $(call rwildcard,include,*.h) $(call rwildcard,lib,*.h) \
	     $(call rwildcard,ike,*.h) $(call rwildcard,ctl,*.h)
HDR_OKS   := $(patsubst %.h,$(B)/headers/%.ok,$(HDRS))

PROGS := $(B)/ipsec-xdp $(if $(IKE_MAIN),$(B)/ipsec-xdpd)
COMPLETION := $(B)/completion/ipsec-xdp.bash $(B)/completion/_ipsec-xdp
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(B)/fuzz/%,$(FUZZ_SRCS))

.PHONY: all deps deps-vm check check-only unit unit-san bpf-tests ns-tests \
	vmtest bench demo demo-vm clean install headers layers package-test

all: $(PROGS) $(COMPLETION)

deps:
	@scripts/install-deps.sh
deps-vm:
	@scripts/install-deps.sh --vm

# ---- BPF -------------------------------------------------------------------
$(B)/vmlinux.h:
	@mkdir -p $(B)
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

$(B)/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h) include/ipsec_xdp.h $(B)/vmlinux.h
	$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Wno-unused-function \
		-Iinclude -I$(B) -c $< -o $@

$(B)/%.skel.h: $(B)/%.bpf.o
	$(BPFTOOL) gen skeleton $< > $@.tmp && mv $@.tmp $@

# ---- userspace -------------------------------------------------------------
$(B)/lib/%.o: lib/%.c $(BPF_SKELS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -c $< -o $@

$(B)/libixdp.a: $(LIB_OBJS)
	rm -f $@ && $(AR) rcs $@ $^

$(B)/ike/%.o: ike/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Iike $(CFLAGS) $(WARN) -c $< -o $@

# libike.a always exists (maybe empty) so that tests can link it.
$(B)/libike.a: $(IKE_OBJS)
	@mkdir -p $(B)
	rm -f $@ && $(AR) rcs $@ $^

# ike/wire/ (codec, crypto, signatures, certificates, secrets) is a library
# of its own: the fuzzers and the IKE load generator link it alone.
$(B)/libikewire.a: $(WIRE_OBJS)
	@mkdir -p $(B)
	rm -f $@ && $(AR) rcs $@ $^

# Only main.c talks to systemd (readiness, reloads: sd_notify; the
# journal: it hands sd_journal_sendv to sa_log.c) and calls
# daemon_sandbox.c (libseccomp; the unit tests link it for
# test_ike_sandbox).
# Linked from main's object, so that -MMD's file never names its source as
# a prerequisite of the program (a moved source would break the next build).
$(B)/ipsec-xdpd: $(patsubst ike/%.c,$(B)/ike/%.o,$(IKE_MAIN)) $(B)/libike.a \
		 $(B)/libikewire.a $(B)/libixdp.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) -lcurl -lcrypto -levent -lsystemd -lseccomp

# libFuzzer targets (clang): one per tests/fuzz/fuzz_*.c, over ike/wire/
# only (the codec, the crypto, certificates and signatures), which has no
# daemon dependencies.
FUZZ_UNITS := $(WIRE_SRCS)
# (Dependencies listed here, not by -MMD: one command compiles many sources.)
$(B)/fuzz/%: tests/fuzz/%.c $(FUZZ_UNITS) $(call rwildcard,ike/wire,*.h)
	@mkdir -p $(dir $@)
	$(CLANG) $(filter-out $(DEPFLAGS),$(CPPFLAGS)) -Iike -g -O1 -fsanitize=fuzzer,address,undefined -o $@ $< $(FUZZ_UNITS) -lcrypto

$(B)/ctl/%.o: ctl/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -c $< -o $@

$(B)/ipsec-xdp: $(CTL_OBJS) $(B)/libixdp.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) -lcrypto

# Shell completion, from the command table --help prints.
$(B)/completion/ipsec-xdp.bash: $(B)/ipsec-xdp scripts/gen-completion.py
	@mkdir -p $(dir $@)
	scripts/gen-completion.py $(B)/ipsec-xdp bash > $@.tmp && mv $@.tmp $@
$(B)/completion/_ipsec-xdp: $(B)/ipsec-xdp scripts/gen-completion.py
	@mkdir -p $(dir $@)
	scripts/gen-completion.py $(B)/ipsec-xdp zsh > $@.tmp && mv $@.tmp $@

# ---- tests -----------------------------------------------------------------
# A header compiles alone: it includes what it uses.
$(B)/headers/%.ok: %.h $(BPF_SKELS)
	@mkdir -p $(dir $@)
	$(CC) $(filter-out $(DEPFLAGS),$(CPPFLAGS)) -Iike $(CFLAGS) $(WARN) \
		-MMD -MP -MT $@ -MF $(@:.ok=.d) -fsyntax-only -x c $<
	@touch $@

headers: $(HDR_OKS)

# #include arrows between source folders point down only (docs/layout.md).
layers:
	@scripts/check-layers.sh >/dev/null || scripts/check-layers.sh

$(B)/tests/test_%: tests/unit/test_%.c $(B)/libixdp.a $(B)/libike.a $(B)/libikewire.a $(wildcard tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Iike $(CFLAGS) $(WARN) -o $@ $< $(B)/libike.a $(B)/libikewire.a $(B)/libixdp.a $(LDLIBS) -lcrypto -levent -lseccomp -lcmocka

$(B)/san/lib/%.o: lib/%.c $(BPF_SKELS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(SAN_FLAGS) $(WARN) -c $< -o $@

$(B)/san/libixdp.a: $(SAN_OBJS)
	rm -f $@ && $(AR) rcs $@ $^

$(B)/san/ike/%.o: ike/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Iike $(SAN_FLAGS) $(WARN) -c $< -o $@

$(B)/san/libike.a: $(IKE_SAN)
	@mkdir -p $(B)/san
	rm -f $@ && $(AR) rcs $@ $^

$(B)/san/libikewire.a: $(WIRE_SAN)
	@mkdir -p $(B)/san
	rm -f $@ && $(AR) rcs $@ $^

$(B)/san/tests/test_%: tests/unit/test_%.c $(B)/san/libixdp.a $(B)/san/libike.a $(B)/san/libikewire.a $(wildcard tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Iike $(SAN_FLAGS) $(WARN) -o $@ $< $(B)/san/libike.a $(B)/san/libikewire.a $(B)/san/libixdp.a $(LDLIBS) -lcrypto -levent -lseccomp -lcmocka

$(B)/tests/bpf_test_%: tests/bpf/test_%.c $(B)/libixdp.a $(BPF_SKELS) $(wildcard tests/bpf/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -Itests/bpf -o $@ $< $(B)/libixdp.a $(LDLIBS) -lcmocka

# Helpers of the VM tests (vmtest/guest_*.sh): the guest runs what the
# host built.
$(B)/tests/vm_%: tests/vm/%.c $(B)/libike.a $(B)/libikewire.a $(B)/libixdp.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Iike $(CFLAGS) $(WARN) -o $@ $< $(B)/libike.a $(B)/libikewire.a $(B)/libixdp.a $(LDLIBS)

$(B)/bench/%: tests/bench/%.c $(B)/libixdp.a $(BPF_SKELS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -o $@ $< $(B)/libixdp.a $(LDLIBS)

# The IKE load generator speaks IKEv2 with the daemon's codec and crypto
# (ike/wire/ alone); tests/ns/test_ike_load.sh checks it, so check-only
# builds it too.
$(B)/bench/ike_load: tests/bench/ike_load.c $(B)/libikewire.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Iike $(CFLAGS) $(WARN) -o $@ $< $(B)/libikewire.a -lcrypto

# The test command of README: installs its own dependencies first.
check: deps-vm
	@$(MAKE) --no-print-directory check-only

check-only: all headers layers $(UNIT_BINS) $(SAN_BINS) $(BPFT_BINS) $(FUZZ_BINS) $(VMT_BINS) $(B)/bench/ike_load
	@tests/run.sh $(UNIT_BINS) $(SAN_BINS) $(BPFT_BINS) $(wildcard tests/fuzz/run_*.sh) \
		$(sort $(wildcard tests/pkg/test_*.sh)) $(sort $(wildcard tests/ns/test_*.sh)) vmtest/run.sh

unit: headers layers $(UNIT_BINS)
	@tests/run.sh $(UNIT_BINS)
unit-san: $(SAN_BINS)
	@tests/run.sh $(SAN_BINS)
bpf-tests: all $(BPFT_BINS)
	@tests/run.sh $(BPFT_BINS)
ns-tests: all $(B)/bench/ike_load
	@tests/run.sh $(sort $(wildcard tests/ns/test_*.sh))
vmtest: all $(VMT_BINS)
	@tests/run.sh vmtest/run.sh
# Completion, `make install DESTDIR=`, the Debian package (built once into
# $(B)/deb/, then installed into a clean root).
package-test: all
	@tests/run.sh $(sort $(wildcard tests/pkg/test_*.sh))

# stdout carries only the JSON lines; everything else goes to stderr.
bench:
	@scripts/install-deps.sh >&2
	@$(MAKE) --no-print-directory all $(BENCH_BINS) >&2
	@tests/bench/run.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh

# The demo with IPsec on the wire: a VM whose kernel has ESP (a few minutes).
demo-vm: deps-vm
	@$(MAKE) --no-print-directory all
	@vmtest/vm.sh "bash scripts/demo-vm.sh"

# Installed layout: PREFIX (default /usr/local) and DESTDIR (a staging
# root, as packages use: `make install DESTDIR=/tmp/x PREFIX=/usr`).  The
# units name the programs where SBINDIR puts them.
PREFIX      ?= /usr/local
SBINDIR     ?= $(PREFIX)/sbin
MANDIR      ?= $(PREFIX)/share/man
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  ?= $(PREFIX)/share/zsh/site-functions
EXAMPLEDIR  ?= $(PREFIX)/share/doc/ipsec-xdp/examples
SCHEMADIR   ?= $(PREFIX)/share/ipsec-xdp/schemas

install: all
	install -D -m 0755 $(B)/ipsec-xdp $(DESTDIR)$(SBINDIR)/ipsec-xdp
	install -D -m 0755 $(B)/ipsec-xdpd $(DESTDIR)$(SBINDIR)/ipsec-xdpd
	install -D -m 0644 man/ipsec-xdp.8 $(DESTDIR)$(MANDIR)/man8/ipsec-xdp.8
	install -D -m 0644 man/ipsec-xdpd.8 $(DESTDIR)$(MANDIR)/man8/ipsec-xdpd.8
	install -D -m 0644 man/ipsec-xdp.policy.5 $(DESTDIR)$(MANDIR)/man5/ipsec-xdp.policy.5
	install -d $(DESTDIR)$(UNITDIR)
	for u in ipsec-xdp@.service ipsec-xdpd.service; do \
		sed 's#/usr/sbin/#$(SBINDIR)/#' systemd/$$u > $(DESTDIR)$(UNITDIR)/$$u && \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$$u || exit 1; done
	install -D -m 0644 systemd/ipsec-xdp.sysusers $(DESTDIR)$(SYSUSERSDIR)/ipsec-xdp.conf
	install -D -m 0644 $(B)/completion/ipsec-xdp.bash $(DESTDIR)$(BASHCOMPDIR)/ipsec-xdp
	install -D -m 0644 $(B)/completion/_ipsec-xdp $(DESTDIR)$(ZSHCOMPDIR)/_ipsec-xdp
	install -D -m 0644 examples/policy.yaml $(DESTDIR)$(EXAMPLEDIR)/policy.yaml
	for f in examples/predefined/*.yaml; do \
		install -D -m 0644 $$f $(DESTDIR)$(EXAMPLEDIR)/predefined/$${f##*/} || exit 1; \
	done
	for f in schemas/*.schema.json; do \
		install -D -m 0644 $$f $(DESTDIR)$(SCHEMADIR)/$${f##*/} || exit 1; \
	done

clean:
	rm -rf $(B)

# The header dependencies the compiler wrote (-MMD -MP).
-include $(shell find $(B) -name '*.d' 2>/dev/null)

.SECONDARY:
