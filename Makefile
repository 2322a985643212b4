# mvm — one Makefile, explicit source lists.
#   make            build/bin/mvm
#   make test       unit + integration tests (builds the guests it needs), fuzz regressions
#   make demo       boot the default guest and print its boot time
#   make guest      build/guest/{vmlinux,bzImage,rootfs.ext4,initrd.cpio}
#   make asan       unit tests under ASan + UBSan
#   make perf       the benchmark suite against QEMU microvm -> perf/report.md
#   make check-layers   no file includes a floor above its own (part of make test)
#   make fuzz       every libFuzzer target for FUZZ_SECONDS (60) each; make fuzz-regress
#   make format-check / make install PREFIX=/usr/local / make clean

CC ?= gcc
BUILD := build
PREFIX ?= /usr/local

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Werror
HARDEN := -fstack-protector-strong -D_FORTIFY_SOURCE=2
CFLAGS := -std=gnu11 -D_GNU_SOURCE -O2 -g $(WARN) $(HARDEN) -pthread -MMD -MP
LDFLAGS := -pthread -Wl,-z,noexecstack -Wl,-z,relro -Wl,-z,now
LDLIBS := -lhttp_parser -lseccomp -luring

# snapshot/: state-file codec and memory files (pure: also unit-tested).
SNAPSHOT_SRCS := snapshot/format.c snapshot/crc64.c snapshot/memfile.c snapshot/kvm_state.c \
	snapshot/binding.c snapshot/publish.c \
	snapshot/create.c snapshot/restore.c snapshot/uffd.c snapshot/devices.c \
	snapshot/boot_record.c snapshot/machine.c snapshot/wset.c snapshot/wset_mem.c \
	snapshot/wset_prefetch.c

# The floors, bottom up (make check-layers): lib/ includes nothing above it;
# vmm/ (KVM, memory, vCPUs, x86) and api-socket/ (HTTP server) only lib/;
# virtio/ adds vmm/; snapshot/ adds virtio/; monitor/ (main, the request
# controller, the builder) sits on top. jailer/ is its own binary on lib/.
LIB_SRCS := lib/err.c lib/util.c lib/log.c lib/json.c lib/strbuf.c lib/wire.c lib/fault.c lib/spawn.c
VMM_SRCS := vmm/config.c vmm/affinity.c vmm/cmdline.c vmm/memory.c vmm/kvm.c vmm/bus.c vmm/eventloop.c \
	vmm/irq.c vmm/vcpu.c vmm/vm.c vmm/boot_timer.c vmm/seccomp.c vmm/seccomp_policy.c \
	vmm/x86/bootparam.c vmm/x86/pagetable.c vmm/x86/mptable.c vmm/x86/elf.c \
	vmm/x86/bzimage.c vmm/x86/loader.c vmm/x86/cpuid.c vmm/x86/cpu_tmpl.c vmm/x86/cpu_tmpl_static.c vmm/x86/regs.c \
	vmm/x86/serial.c vmm/x86/i8042.c vmm/x86/aml.c vmm/x86/acpi.c vmm/x86/dsdt.c vmm/vmgenid.c
# A device type is one unit (a file, or a folder for a big one); registry.c
# lists them. Every .c under virtio/ is built: a new device needs no line here.
VIRTIO_SRCS := $(sort $(wildcard virtio/*.c virtio/*/*.c virtio/*/*/*.c))
API_SRCS := api-socket/http.c api-socket/conn.c api-socket/server.c api-socket/client.c
MONITOR_SRCS := monitor/builder.c monitor/acpi_boot.c monitor/prepare.c monitor/monitor.c \
	monitor/config_file.c monitor/config_out.c monitor/metrics.c monitor/metrics_prom.c \
	monitor/routes.c monitor/routes_snapshot.c monitor/requests.c monitor/requests_dev.c \
	monitor/working_set.c \
	monitor/mmds_api.c monitor/pinning.c monitor/image_ref.c monitor/image_job.c

# Everything but main(): linked into mvm and into the unit tests.
CORE_SRCS := $(LIB_SRCS) $(VMM_SRCS) $(VIRTIO_SRCS) $(SNAPSHOT_SRCS) $(API_SRCS) $(MONITOR_SRCS)
MVM_SRCS := monitor/main.c monitor/cli_snapshot.c monitor/cli_merge.c monitor/cli_image.c \
	monitor/image_build.c monitor/cli_run_image.c monitor/run_image.c monitor/run_console.c \
	$(CORE_SRCS)


# jailer/: the mvm-jailer binary.
JAILER_SRCS := \
	jailer/main.c jailer/args.c jailer/validate.c jailer/claim.c jailer/chroot.c jailer/dev.c \
	jailer/cgroup.c jailer/cgroup_find.c jailer/cgroup_parse.c jailer/cgroup_cpuset.c \
	jailer/proc.c jailer/caps.c jailer/interp.c lib/util.c
JAILER_LIBS := -lcap

UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
# The jailer's pure parts, unit-tested beside the monitor's.
UNIT_JAILER_SRCS := jailer/cgroup_parse.c

CORE_OBJS := $(CORE_SRCS:%.c=$(BUILD)/obj/%.o)
MVM_OBJS := $(MVM_SRCS:%.c=$(BUILD)/obj/%.o)
UNIT_OBJS := $(UNIT_SRCS:%.c=$(BUILD)/obj/%.o)
ASAN_OBJS := $(CORE_SRCS:%.c=$(BUILD)/asan/%.o) $(UNIT_SRCS:%.c=$(BUILD)/asan/%.o) \
	$(UNIT_JAILER_SRCS:%.c=$(BUILD)/asan/%.o)

MVM := $(BUILD)/bin/mvm
JAILER := $(BUILD)/bin/mvm-jailer
JAILER_OBJS := $(JAILER_SRCS:%.c=$(BUILD)/obj/%.o)
UNIT := $(BUILD)/tests/unit/unit
UNIT_ASAN := $(BUILD)/asan/unit
GUEST_KIT := $(BUILD)/tests/guest

.PHONY: all test unit integration demo guest guest-kit asan format format-check install \
	clean deps perf check-layers fuzz fuzz-build fuzz-regress fuzz-seeds

UFFD_HANDLER := $(BUILD)/bin/mvm-uffd-handler

MVM_INIT := $(BUILD)/bin/mvm-init

all: $(MVM) $(JAILER) $(UFFD_HANDLER) $(MVM_INIT)

# PID 1 of `mvm run IMAGE` guests (rootfs-tools/mvm-init): static, on musl
# when musl-tools is there (80 KiB against glibc's 900).
INIT_CC := $(if $(shell command -v musl-gcc),musl-gcc,$(CC))
$(MVM_INIT): rootfs-tools/mvm-init/init.c rootfs-tools/mvm-init/job.c rootfs-tools/mvm-init/job.h
	@mkdir -p $(@D)
	@echo "  LD      $@"
	@$(INIT_CC) -static -Os $(WARN) -o $@ $(filter %.c,$^)

# The example page-fault handler for the Uffd restore backend.
$(UFFD_HANDLER): $(BUILD)/obj/snapshot/uffd_handler.o $(BUILD)/obj/lib/json.o \
		$(BUILD)/obj/lib/err.o $(BUILD)/obj/snapshot/wset.o $(BUILD)/obj/snapshot/binding.o \
		$(BUILD)/obj/snapshot/format.o $(BUILD)/obj/snapshot/publish.o \
		$(BUILD)/obj/snapshot/crc64.o $(BUILD)/obj/lib/util.o $(BUILD)/obj/lib/log.o \
		$(BUILD)/obj/lib/fault.o
	@mkdir -p $(@D)
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $^

# Static, like the jail expects: nothing to copy into the chroot but the binary.
$(MVM): $(MVM_OBJS)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -static-pie -o $@ $^ $(LDLIBS)

$(JAILER): $(JAILER_OBJS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(JAILER_LIBS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) -c -o $@ $<

# Unit tests: criterion, no KVM needed.
$(UNIT): $(UNIT_OBJS) $(CORE_OBJS) $(UNIT_JAILER_SRCS:%.c=$(BUILD)/obj/%.o)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ -lcriterion $(LDLIBS)

ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
$(BUILD)/asan/%.o: %.c
	@mkdir -p $(@D)
	@echo "  CC/ASAN $<"
	@$(CC) $(filter-out -D_FORTIFY_SOURCE=2,$(CFLAGS)) -O1 $(ASAN_FLAGS) -c -o $@ $<

$(UNIT_ASAN): $(ASAN_OBJS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $(ASAN_FLAGS) -o $@ $^ -lcriterion $(LDLIBS)

unit: $(UNIT)
	$(UNIT) --jobs 2

asan: $(UNIT_ASAN)
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 $(UNIT_ASAN) --jobs 2

# The freestanding test guests (tests/guest/): their own flags, their own Makefile.
guest-kit:
	$(MAKE) -C tests/guest OUT=$(abspath $(GUEST_KIT))

# The default Linux guest: the kernel is cached outside the tree, keyed by its inputs.
guest:
	rootfs-tools/build-kernel.sh $(BUILD)/guest
	rootfs-tools/build-rootfs.sh $(BUILD)/guest

deps:
	rootfs-tools/install-deps.sh

# KVM work runs where KVM runs guest user space: directly, or inside the
# nested-KVM test bed (tests/testbed; MVM_TESTBED=auto|on|off).
WITH_KVM := tests/testbed/testbed exec

integration: all guest-kit guest
	python3 tests/run_all.py --mvm $(MVM) --guest-kit $(GUEST_KIT) --guest $(BUILD)/guest \
		$(if $(FILTER),--filter $(FILTER))

# The folders are floors (tests/check-layers.py): nothing includes upwards.
check-layers:
	@python3 tests/check-layers.py

test: deps check-layers
	@$(MAKE) --no-print-directory all $(UNIT) guest-kit guest
	@$(MAKE) --no-print-directory fuzz-regress
	@python3 tests/run_all.py --unit $(UNIT) --mvm $(MVM) --guest-kit $(GUEST_KIT) \
		--guest $(BUILD)/guest

demo: deps all guest
	@$(WITH_KVM) tests/integration/demo.sh $(MVM) $(BUILD)/guest $(if $(DEMO_CMD),'$(DEMO_CMD)')

# The benchmark suite, beside QEMU microvm: perf/report.md, perf/*.json, perf/*.png.
perf: all guest-kit guest
	$(WITH_KVM) tests/perf/run all --fresh --mvm $(MVM) --guest-kit $(GUEST_KIT) --guest $(BUILD)/guest

# Fuzzing (tests/fuzz/): one libFuzzer target per parser of outside input, on
# clang with ASan + UBSan, linked with the project compiled the same way.
# make fuzz: the kept regressions, then each target for FUZZ_SECONDS on a
# scratch copy of its seed corpus; make fuzz-regress: the regressions and
# seeds only (seconds).
FUZZ_CC ?= clang-14
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := http json_config snapshot_state loaders
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS := $(filter-out -D_FORTIFY_SOURCE=2,$(CFLAGS)) -O1 $(FUZZ_SAN) -fsanitize=fuzzer-no-link \
	-Wno-format-nonliteral -Wno-gnu-variable-sized-type-not-at-end
FUZZ_OBJS := $(CORE_SRCS:%.c=$(BUILD)/fuzz/obj/%.o)
FUZZ_MAIN_OBJS := $(FUZZ_TARGETS:%=$(BUILD)/fuzz/obj/tests/fuzz/fuzz_%.o)
FUZZ_BINS := $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%)
.SECONDARY: $(FUZZ_MAIN_OBJS) $(FUZZ_OBJS)

$(BUILD)/fuzz/obj/%.o: %.c
	@mkdir -p $(@D)
	@echo "  CC/FUZZ $<"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

$(BUILD)/fuzz/fuzz_%: $(BUILD)/fuzz/obj/tests/fuzz/fuzz_%.o $(FUZZ_OBJS)
	@echo "  LD/FUZZ $@"
	@$(FUZZ_CC) $(LDFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

fuzz-build: $(FUZZ_BINS)

# The seed corpora (tests/fuzz/corpus/) from the tests' own inputs: make fuzz-seeds.
$(BUILD)/fuzz/seed_snapshot: $(BUILD)/obj/tests/fuzz/seed_snapshot.o $(CORE_OBJS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

fuzz-seeds: $(BUILD)/fuzz/seed_snapshot guest-kit
	python3 tests/fuzz/seed.py --seed-snapshot $(BUILD)/fuzz/seed_snapshot --guest-kit $(GUEST_KIT)

fuzz: fuzz-build
	tests/fuzz/run.sh --bin $(BUILD)/fuzz --seconds $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-regress: fuzz-build
	tests/fuzz/run.sh --bin $(BUILD)/fuzz --regress $(FUZZ_TARGETS)

FORMAT_SRCS = $(shell git ls-files '*.c' '*.h' | grep -v '^tests/guest/')
format:
	clang-format -i $(FORMAT_SRCS)
format-check:
	clang-format --dry-run --Werror $(FORMAT_SRCS)

# Every binary the README names.
install: all
	install -D -m 0755 $(MVM) $(DESTDIR)$(PREFIX)/bin/mvm
	install -D -m 0755 $(JAILER) $(DESTDIR)$(PREFIX)/bin/mvm-jailer
	install -D -m 0755 $(UFFD_HANDLER) $(DESTDIR)$(PREFIX)/bin/mvm-uffd-handler
	install -D -m 0755 $(MVM_INIT) $(DESTDIR)$(PREFIX)/libexec/mvm/mvm-init
	if [ -f $(BUILD)/guest/vmlinux ]; then \
		install -D -m 0644 $(BUILD)/guest/vmlinux $(DESTDIR)$(PREFIX)/share/mvm/vmlinux; fi

clean:
	rm -rf $(BUILD)

-include $(MVM_OBJS:.o=.d) $(UNIT_OBJS:.o=.d) $(ASAN_OBJS:.o=.d) $(JAILER_OBJS:.o=.d)
-include $(FUZZ_OBJS:.o=.d) $(FUZZ_MAIN_OBJS:.o=.d) $(BUILD)/obj/tests/fuzz/seed_snapshot.d
