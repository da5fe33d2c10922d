# vmkit - one GNU Makefile for the whole tree.
#   make [V=1] [WERROR=0] [CC=clang]    build bin/vmctl and bin/vm-provision
#   make check                          unit, differential, fuzz, man and integration tests
#   make install [PREFIX=/usr/local] [DESTDIR=]

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
DATADIR ?= $(PREFIX)/share/vmkit
MANDIR  ?= $(PREFIX)/share/man

CC      ?= cc
CLANG   ?= clang
WERROR  ?= 1
FUZZ_SECONDS ?= 30

WARN     = -Wall -Wextra -Wformat=2 -Wshadow -Wwrite-strings -Wmissing-prototypes
ifeq ($(WERROR),1)
WARN    += -Werror
endif
CFLAGS  ?= -O2 -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) \
             -Itoolstack/lib -Ihypervisor -Iprovision -DVMKIT_DATADIR='"$(DATADIR)"'

PKGS      = json-c libcurl libarchive libcrypt libcrypto
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -ljson-c)
ALL_CFLAGS += $(PKG_CFLAGS)
# RPM repositories (vm-provision only): libsolv reads the metadata and
# resolves, librpm compares versions
RPM_PKGS   = libsolv libsolvext rpm
RPM_CFLAGS := $(shell pkg-config --cflags $(RPM_PKGS) 2>/dev/null)
RPM_LIBS   := $(shell pkg-config --libs $(RPM_PKGS) 2>/dev/null || echo -lsolvext -lsolv -lrpm -lrpmio)
ALL_CFLAGS += $(RPM_CFLAGS)
# vmkit's bootloader (hypervisor/bootldr.c): partition tables with libblkid,
# ext2/3/4 read with libext2fs, never mounted
BOOT_PKGS   = ext2fs com_err blkid
BOOT_CFLAGS := $(shell pkg-config --cflags $(BOOT_PKGS) 2>/dev/null)
BOOT_LIBS   := $(shell pkg-config --libs $(BOOT_PKGS) 2>/dev/null || echo -lext2fs -lcom_err -lblkid)
ALL_CFLAGS += $(BOOT_CFLAGS)
# partitioned guest disks (vm-provision only): libparted writes the table
PARTED_LIBS := $(shell pkg-config --libs libparted 2>/dev/null || echo -lparted)
# the identity step through a libguestfs appliance (vm-provision only:
# provision/gfsroot.c)
GFS_CFLAGS := $(shell pkg-config --cflags libguestfs 2>/dev/null)
GFS_LIBS   := $(shell pkg-config --libs libguestfs 2>/dev/null || echo -lguestfs)
ALL_CFLAGS += $(GFS_CFLAGS)
# what vm-provision's modules link (libext2fs and com_err, in BOOT_LIBS,
# for provision/ext2root.c); not the fuzz targets: libparted's own
# initialiser reads past a buffer under ASan before main runs
PROV_LIBS  = $(RPM_LIBS) $(PARTED_LIBS) $(GFS_LIBS) $(BOOT_LIBS)

ifeq ($(V),1)
Q =
say =
else
Q = @
say = @printf '  %-8s %s\n' $(1) $(2);
endif

LIB_SRC     := $(sort $(wildcard toolstack/lib/*.c))
HV_SRC      := $(sort $(wildcard hypervisor/*.c))
VMCTL_SRC   := $(sort $(wildcard toolstack/*.c))
PROV_SRC    := $(sort $(wildcard provision/*.c))
# provision/'s modules without main.c, for vm-provision and its unit tests
PROV_LIB_SRC := $(filter-out provision/main.c,$(PROV_SRC))
UNIT_SRC    := $(sort $(wildcard tests/unit/test-*.c))

LIB         := build/libvmkit.a
PROV_LIB    := build/libprovision.a
LIB_OBJ     := $(LIB_SRC:%.c=build/%.o) $(HV_SRC:%.c=build/%.o)
VMCTL_OBJ   := $(VMCTL_SRC:%.c=build/%.o)
PROV_OBJ    := $(PROV_SRC:%.c=build/%.o)
PROV_LIB_OBJ := $(PROV_LIB_SRC:%.c=build/%.o)
UNIT_BIN    := $(UNIT_SRC:tests/unit/%.c=build/tests/%)

PROGRAMS    := bin/vmctl $(if $(PROV_SRC),bin/vm-provision)

all: $(PROGRAMS)

build/%.o: %.c
	@mkdir -p $(dir $@)
	$(call say,CC,$<)$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(LIB): $(LIB_OBJ)
	$(call say,AR,$@)rm -f $@ && ar rcs $@ $^

$(PROV_LIB): $(PROV_LIB_OBJ)
	$(call say,AR,$@)rm -f $@ && ar rcs $@ $^

bin/vmctl: $(VMCTL_OBJ) $(LIB)
	@mkdir -p bin
	$(call say,LD,$@)$(CC) $(CFLAGS) -o $@ $^ $(BOOT_LIBS) $(PKG_LIBS)

bin/vm-provision: build/provision/main.o $(PROV_LIB) $(LIB)
	@mkdir -p bin
	$(call say,LD,$@)$(CC) $(CFLAGS) -o $@ $^ $(PROV_LIBS) $(PKG_LIBS)

# Unit tests link provision/'s modules too (test-settings, test-aptsrc, ...).
build/tests/%: tests/unit/%.c $(PROV_LIB) $(LIB)
	@mkdir -p $(dir $@)
	$(call say,CC,$<)$(CC) $(ALL_CFLAGS) -Itests/lib -o $@ $< \
	    $(PROV_LIB) $(LIB) $(PROV_LIBS) $(BOOT_LIBS) $(PKG_LIBS)

# Test helpers built from tests/lib/ (the fixture's mirror, ...).
build/tests/host-mirror: tests/lib/host-mirror.c $(PROV_LIB) $(LIB)
	@mkdir -p $(dir $@)
	$(call say,CC,$<)$(CC) $(ALL_CFLAGS) -o $@ $< $(PROV_LIB) $(LIB) $(PROV_LIBS) $(PKG_LIBS)

# install_root from the command line, for tests/provision/bootstrap.t
build/tests/install-driver: tests/lib/install-driver.c $(PROV_LIB) $(LIB)
	@mkdir -p $(dir $@)
	$(call say,CC,$<)$(CC) $(ALL_CFLAGS) -o $@ $< $(PROV_LIB) $(LIB) $(PROV_LIBS) $(PKG_LIBS)

# Xen's own parser, for the differential test (Debian: libxen-dev).
build/tests/xlu-dump: tests/xlu/xlu-dump.c
	@mkdir -p $(dir $@)
	$(call say,CC,$<)$(CC) -std=gnu11 -O1 -g -o $@ $< \
	    $$(pkg-config --cflags --libs xlutil xenlight json-c)

# The parser fuzz target: the library's sources built again with clang's
# libFuzzer, ASan and UBSan.
FUZZ_SAN = -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_BIN = build/fuzz/fuzz-cfg build/fuzz/fuzz-disk build/fuzz/fuzz-repomd build/fuzz/fuzz-primary \
           build/fuzz/fuzz-bootcfg build/fuzz/fuzz-bootldr
build/fuzz/%: tests/fuzz/%.c $(LIB_SRC)
	@mkdir -p $(dir $@)
	$(call say,CLANG,$@)$(CLANG) -std=c11 -D_GNU_SOURCE -g -O1 $(FUZZ_SAN) \
	    -Itoolstack/lib $(PKG_CFLAGS) -o $@ $^ $(PKG_LIBS)

# The repository-metadata targets: provision/rpmmd.c (and libsolv, not
# instrumented) on top.
build/fuzz/fuzz-repomd build/fuzz/fuzz-primary: build/fuzz/%: tests/fuzz/%.c provision/rpmmd.c $(LIB_SRC)
	@mkdir -p $(dir $@)
	$(call say,CLANG,$@)$(CLANG) -std=c11 -D_GNU_SOURCE -g -O1 $(FUZZ_SAN) \
	    -Itoolstack/lib -Iprovision $(PKG_CFLAGS) $(RPM_CFLAGS) -o $@ $^ $(RPM_LIBS) $(PKG_LIBS)

# The guest boot config parsers (hypervisor/bootcfg.c, no library needed).
build/fuzz/fuzz-bootcfg: tests/fuzz/fuzz-bootcfg.c hypervisor/bootcfg.c
	@mkdir -p $(dir $@)
	$(call say,CLANG,$@)$(CLANG) -std=c11 -D_GNU_SOURCE -g -O1 $(FUZZ_SAN) \
	    -Ihypervisor -o $@ $^

# The bootloader's disk reader, in-process (libext2fs and libblkid not
# instrumented).
build/fuzz/fuzz-bootldr: tests/fuzz/fuzz-bootldr.c hypervisor/bootldr.c hypervisor/bootcfg.c $(LIB_SRC)
	@mkdir -p $(dir $@)
	$(call say,CLANG,$@)$(CLANG) -std=c11 -D_GNU_SOURCE -g -O1 $(FUZZ_SAN) \
	    -Ihypervisor -Itoolstack/lib $(BOOT_CFLAGS) $(PKG_CFLAGS) -o $@ $^ $(BOOT_LIBS) $(PKG_LIBS)

TESTS = $(UNIT_BIN) $(sort $(wildcard tests/*/*.t))

# The guest fixture (tests/lib/fixture) is built once per run, never
# taken from an earlier one.
check: all $(UNIT_BIN) build/tests/xlu-dump build/tests/host-mirror build/tests/install-driver \
       $(FUZZ_BIN)
	@rm -rf build/fixture build/fixture.lock build/provision-cache build/testhost build/testhost.lock
	@FUZZ_SECONDS=$(FUZZ_SECONDS) prove --timer --exec tests/lib/run-one $(TESTS)

# The README's main job: provision a Debian guest, boot it to login: on
# hvc0, log in, look, shut it down (as root).
demo: all
	tests/lib/demo

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR) $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -m 755 $(PROGRAMS) $(DESTDIR)$(BINDIR)/
	cp -R $(wildcard templates hooks) $(DESTDIR)$(DATADIR)/
	for m in man/*.[158]; do \
	    install -m 644 $$m $(DESTDIR)$(MANDIR)/man$${m##*.}/; done

clean:
	rm -rf build bin

.PHONY: all check demo install clean
-include $(shell find build -path 'build/*fixture*' -prune -o -type f -name '*.d' -print 2>/dev/null)

print-cflags:
	@echo $(ALL_CFLAGS)
.PHONY: print-cflags
