# twinbench - build, images, tests and benchmarks.
#
#   make            the twinbench binary (build/twinbench) and the guest agent
#   make deps       install every Debian package the project needs (root)
#   make image      guest images and twin kernels under images/ (cached under $(CACHE))
#   make kernel     only the twin kernels
#   make run        the main job: reboot, kexec, kexec-criu and twin upgrades in the embedded lab
#   make unit       fast unit tests (cmocka)
#   make check      the unit tests under valgrind, then built with ASan and UBSan (build-asan/)
#   make fuzz       the libFuzzer targets (harness/fuzz/), FUZZ_SECONDS (60) each; fuzz-build builds them
#   make test       unit tests, then integration tests booting real guests
#   make bench      5 repetitions of reboot, kexec, kexec-criu, twin and twin-dual (twin-a -> twin-b),
#                   each checked against a packet capture; results under results/
#   make report     report.html/.md of the latest results of each scenario
#   make gate       compare the latest results with $(BASELINE) (exit 1 on a regression)

CC       ?= cc
PKGS     := libvirt libvirt-qemu libtelnet yaml-0.1 jansson libxml-2.0 libpcap
CFLAGS   ?= -O2 -g
# snprintf truncation is deliberate everywhere (bounded buffers), so that warning is off.
CFLAGS   += -std=gnu11 -Wall -Wextra -Werror -Wno-format-truncation -D_GNU_SOURCE -pthread
# clang (make fuzz) does not know that gcc warning, and warns of two things the
# code does on purpose: payload.c's `|` that runs fclose() whatever fprintf()
# returned, report.c's string pasted to a macro in an array of headings.
ifneq ($(findstring clang,$(CC)),)
CFLAGS   += -Wno-unknown-warning-option -Wno-bitwise-instead-of-logical -Wno-string-concatenation
endif
CFLAGS   += $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# Where `method: NAME` is looked up (methodfile.h); TWINBENCH_METHODS overrides it.
CFLAGS   += -DTB_METHODS_DIR='"$(CURDIR)/methods"'
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -pthread -lm
TEST_LIBS = $(shell pkg-config --libs cmocka 2>/dev/null)

# A sanitized build (make check, make fuzz) is this Makefile again with B set to
# a directory of its own and SANITIZE to the sanitizers: every object and
# test of that build is compiled and linked with them.
SANITIZE ?=
ifneq ($(SANITIZE),)
CFLAGS   += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

# Downloads and builds that survive a fresh clone (debootstrap, kernels).
CACHE    ?= /var/cache/twinbench
export CACHE

B        := build
LIB_SRCS := $(filter-out harness/main.c,$(wildcard harness/*.c))
LIB_OBJS := $(LIB_SRCS:harness/%.c=$(B)/%.o)
UNIT_SRCS := $(filter-out harness/tests/test_integration.c harness/tests/test_integration_report.c \
		harness/tests/test_faults.c,\
		$(wildcard harness/tests/test_*.c))
UNIT_BINS := $(UNIT_SRCS:harness/tests/%.c=$(B)/tests/%)

all: $(B)/twinbench $(B)/twinbench-agent

$(B)/%.o: harness/%.c $(wildcard harness/*.h) | $(B)
	$(CC) $(CFLAGS) -c -o $@ $<

$(B)/libtwinbench.a: $(LIB_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

$(B)/twinbench: $(B)/main.o $(B)/libtwinbench.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# The guest agent is static so that it runs in any guest userspace.
AGENT_SRCS := guest/agent/agent.c guest/agent/criustats.c guest/agent/handoff.c guest/agent/takeover.c \
	guest/agent/takerest.c guest/agent/netif.c guest/agent/twinprep.c guest/agent/migrate.c
$(B)/twinbench-agent: $(AGENT_SRCS) $(wildcard guest/agent/*.h) | $(B)
	$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror -Wno-format-truncation -D_GNU_SOURCE -static \
		-o $@ $(AGENT_SRCS)

# The agent's handoff block is guest code: its test compiles it in.
$(B)/tests/test_handoff: harness/tests/test_handoff.c guest/agent/handoff.c guest/agent/handoff.h \
		$(B)/tests/testlib.o $(B)/libtwinbench.a $(B)/twinbench-agent | $(B)/tests
	$(CC) $(CFLAGS) -Iharness -Iguest/agent -DTB_AGENT='"$(B)/twinbench-agent"' -o $@ $< \
		guest/agent/handoff.c $(B)/tests/testlib.o $(B)/libtwinbench.a $(LDLIBS) $(TEST_LIBS)

# And its reading of CRIU's statistics images.
$(B)/tests/test_criustats: harness/tests/test_criustats.c guest/agent/criustats.c \
		guest/agent/criustats.h | $(B)/tests
	$(CC) $(CFLAGS) -Iguest/agent -o $@ $< guest/agent/criustats.c $(TEST_LIBS)

# So is the agents' handoff state machine, tested on a fake region and sysfs.
$(B)/tests/test_takeover: harness/tests/test_takeover.c guest/agent/takeover.c \
		guest/agent/handoff.c guest/agent/twinprep.c $(wildcard guest/agent/*.h) $(B)/tests/testlib.o \
		$(B)/libtwinbench.a | $(B)/tests
	$(CC) $(CFLAGS) -Iharness -Iguest/agent -o $@ $< guest/agent/takeover.c \
		guest/agent/handoff.c guest/agent/twinprep.c $(B)/tests/testlib.o \
		$(B)/libtwinbench.a $(LDLIBS) $(TEST_LIBS)

# And kernel B's takeover of the rest of A, on a fake sysfs.
$(B)/tests/test_takerest: harness/tests/test_takerest.c guest/agent/takerest.c guest/agent/takeover.c \
		guest/agent/handoff.c guest/agent/twinprep.c $(wildcard guest/agent/*.h) $(B)/tests/testlib.o \
		$(B)/libtwinbench.a | $(B)/tests
	$(CC) $(CFLAGS) -Iharness -Iguest/agent -o $@ $< guest/agent/takerest.c guest/agent/takeover.c \
		guest/agent/handoff.c guest/agent/twinprep.c $(B)/tests/testlib.o \
		$(B)/libtwinbench.a $(LDLIBS) $(TEST_LIBS)

# And the migrate method's state transfer between agents.
$(B)/tests/test_migrate: harness/tests/test_migrate.c guest/agent/migrate.c guest/agent/takeover.c \
		guest/agent/handoff.c guest/agent/twinprep.c $(wildcard guest/agent/*.h) | $(B)/tests
	$(CC) $(CFLAGS) -Iguest/agent -o $@ $< guest/agent/migrate.c guest/agent/takeover.c \
		guest/agent/handoff.c guest/agent/twinprep.c -lpthread $(TEST_LIBS)

# Helpers the tests share; not a test itself (UNIT_SRCS is test_*.c).
$(B)/tests/testlib.o: harness/tests/testlib.c harness/tests/testlib.h | $(B)/tests
	$(CC) $(CFLAGS) -Iharness -c -o $@ $<

$(B)/tests/%: harness/tests/%.c $(B)/tests/testlib.o harness/tests/testlib.h $(B)/libtwinbench.a \
		$(wildcard harness/*.h) | $(B)/tests
	$(CC) $(CFLAGS) -Iharness -o $@ $< $(B)/tests/testlib.o $(B)/libtwinbench.a $(LDLIBS) \
		$(TEST_LIBS)

$(B) $(B)/tests:
	mkdir -p $@

deps:
	bash scripts/deps.sh

image: all kernel
	bash scripts/image.sh

# The twin kernels A and B (guest/kernel): patch series on Debian's linux-source-6.1.
kernel:
	bash guest/kernel/build.sh

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

integration: all image $(B)/tests/test_integration $(B)/tests/test_faults \
		$(B)/tests/test_integration_report
	$(B)/tests/test_integration
	$(B)/tests/test_faults
	$(B)/tests/test_integration_report

test: unit integration

# The unit tests under valgrind, then under ASan and UBSan in build-asan/ (the
# agent there is built as in build/: it runs in guests, not under a sanitizer).
# One after the other, never in parallel: some tests bind fixed ports.
VALGRIND := valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite,indirect,possible \
	--error-exitcode=1
ASAN_B   := build-asan

# The guest's shell scripts (they run under busybox sh): shellcheck.
GUEST_SCRIPTS := guest/initramfs/init \
	$(wildcard guest/rootfs/overlay/etc/twinbench/*) \
	$(wildcard guest/rootfs/overlay/usr/local/sbin/*)

check:
	$(MAKE) check-sh
	$(MAKE) check-valgrind
	$(MAKE) check-asan

check-sh:
	shellcheck --shell=sh --severity=info $(GUEST_SCRIPTS)
	shellcheck --severity=warning scripts/*.sh guest/kernel/build.sh .ci/run

# SOAK_RUNS runs of twin-dual back to back, leaks and lost results counted (scripts/soak.sh).
soak: all image
	bash scripts/soak.sh

check-valgrind: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== valgrind $$t"; $(VALGRIND) $$t; done

check-asan:
	UBSAN_OPTIONS=print_stacktrace=1 $(MAKE) B=$(ASAN_B) SANITIZE=address,undefined unit

# libFuzzer targets for the input files' loaders, built by clang in build-fuzz/
# with ASan and UBSan.  Each runs FUZZ_SECONDS on its seeds
# (harness/fuzz/corpus/TARGET/, read only) and what it found before
# (build-fuzz/corpus/TARGET/); a crash, a leak or an input that takes over
# 25 s (no file of ours should take one) stops make, the input saved in
# build-fuzz/crashes/.  stdin is /dev/null: an input naming /dev/stdin must
# not hang the run.
FUZZ_B       := build-fuzz
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := scenario method run_json baseline
FUZZ_BINS    := $(FUZZ_TARGETS:%=$(B)/fuzz/fuzz_%)

fuzz-build:
	$(MAKE) B=$(FUZZ_B) CC=$(FUZZ_CC) SANITIZE=fuzzer-no-link,address,undefined fuzz-targets

fuzz: fuzz-build
	@set -e; mkdir -p $(FUZZ_B)/crashes; \
	for t in $(FUZZ_TARGETS); do \
		echo "== fuzz_$$t, $(FUZZ_SECONDS) s"; \
		mkdir -p $(FUZZ_B)/corpus/$$t; \
		$(FUZZ_B)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=25 \
			-print_final_stats=1 -artifact_prefix=$(FUZZ_B)/crashes/$$t- \
			$(FUZZ_B)/corpus/$$t harness/fuzz/corpus/$$t </dev/null; \
	done

# Built in the sub-make above (B=build-fuzz).
fuzz-targets: $(FUZZ_BINS)

$(B)/fuzz/fuzz_%: harness/fuzz/fuzz_%.c harness/fuzz/fuzzlib.h $(B)/fuzz/fuzzlib.o \
		$(B)/libtwinbench.a $(wildcard harness/*.h) | $(B)/fuzz
	$(CC) $(CFLAGS) -fsanitize=fuzzer -Iharness -o $@ $< $(B)/fuzz/fuzzlib.o \
		$(B)/libtwinbench.a $(LDLIBS)

$(B)/fuzz/fuzzlib.o: harness/fuzz/fuzzlib.c harness/fuzz/fuzzlib.h | $(B)/fuzz
	$(CC) $(CFLAGS) -c -o $@ $<

$(B)/fuzz:
	mkdir -p $@

# The methods side by side, in one run: their downtimes compare as ratios.
# vm-migrate upgrades nothing: the reference for what moving the whole VM costs.
METHODS  := scenarios/reboot.yaml scenarios/kexec.yaml scenarios/kexec-criu.yaml \
	    scenarios/migrate.yaml scenarios/migrate-kexec.yaml scenarios/twin.yaml \
	    scenarios/twin-dual.yaml scenarios/vm-migrate.yaml

run: all image
	$(B)/twinbench run $(METHODS)

# With --capture: every repetition's downtime checked against a packet capture.
bench: all image
	$(B)/twinbench run --capture --repetitions 5 $(METHODS)

# Report and gate the latest result directory of each scenario under $(RESULTS)
# (by name order, i.e. start time) into $(REPORT); the gate compares them with $(BASELINE).
RESULTS  ?= results
REPORT   ?= $(RESULTS)/report
BASELINE ?= results/baselines/tcg.json

report: all
	$(B)/twinbench report --out $(REPORT) --latest $(RESULTS)

gate: all
	$(B)/twinbench gate --baseline $(BASELINE) --out $(REPORT) --latest $(RESULTS)

format:
	clang-format -i harness/*.c harness/*.h harness/tests/*.c harness/fuzz/*.[ch] guest/agent/*.c

# clang-tidy (checks in .clang-tidy) gets the build's flags; clang does not know
# gcc's -Wno-format-truncation, hence -Wno-unknown-warning-option.  One file per
# clang-tidy: clang-tidy 14's valist checker carries state from one file to the
# next, and in every file after the first calls a va_list uninitialized right
# after its va_start.  Every file is checked even when one fails.
TIDY_SRCS := $(wildcard harness/*.c harness/fuzz/*.c guest/agent/*.c)

lint:
	@rc=0; \
	for f in $(TIDY_SRCS); do \
		clang-tidy --quiet $$f -- $(CFLAGS) -Wno-unknown-warning-option -Iharness || rc=1; \
	done; \
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
		harness guest/agent || rc=1; \
	exit $$rc

clean:
	rm -rf $(B) $(ASAN_B) $(FUZZ_B)

.PHONY: all deps image kernel unit integration test soak check check-sh check-valgrind check-asan fuzz \
	fuzz-build fuzz-targets run bench report gate format lint clean
