# libFuzzer targets for every reader of outside input (docs/fuzzing.md), included by
# the Makefile. `make fuzz FUZZ_SECONDS=20` builds the library once more with clang,
# ASan, UBSan and libFuzzer's coverage into build-fuzz/ and runs each target in
# tests/fuzz/fuzz_*.c for FUZZ_SECONDS, starting from tests/fuzz/seeds/<target>/; a
# crash, a sanitizer report, a leak or a slow input fails it and leaves the
# reproducer in build-fuzz/crashes/<target>/.
FUZZ_B       := build-fuzz
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 20
# FUZZ_RUNS=N: N inputs per target from a fixed seed (repeatable; CI) instead of seconds
FUZZ_RUNS    ?=
# UBSan's checks abort (libFuzzer then keeps the input); float-cast-overflow is in
# clang's "undefined" group: a huge value cast to an integer is a finding too.
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
# GCC's attributes (noipa, no_icf) and vectorisation hints clang does not take
FUZZ_NOWARN  := -Wno-unknown-attributes -Wno-pass-failed
FUZZ_SRC     := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN     := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_B)/%)

.PHONY: fuzz fuzz-build FORCE
fuzz-build: $(FUZZ_BIN)
fuzz: fuzz-build
	@FUZZ_RUNS=$(FUZZ_RUNS) tests/fuzz/run_fuzz.sh $(FUZZ_SECONDS) $(FUZZ_BIN)

# The library as the Makefile builds it, with clang, the sanitizers and coverage for
# libFuzzer (fuzzer-no-link: the instrumentation without libFuzzer's main), -O1, and
# only the generic kernel variant (the readers are what is fuzzed). The recursive make
# sees B=$(FUZZ_B), so this rule exists only in the outer one.
ifneq ($(B),$(FUZZ_B))
$(FUZZ_B)/libssmkit.a: FORCE
	+@$(MAKE) --no-print-directory B=$(FUZZ_B) CC=$(FUZZ_CC) OPT=-O1 CPU_VARIANTS=generic \
	  EXTRA_CFLAGS="-fsanitize=fuzzer-no-link $(FUZZ_SAN) $(FUZZ_NOWARN)" $(FUZZ_B)/libssmkit.a
endif
FORCE:

FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE -O1 -g -fopenmp -Wall -Wextra -Wno-unused-parameter -I. \
                $(BLAS_INC) $(shell pkg-config --cflags hdf5 2>/dev/null || echo -I/usr/include/hdf5/serial)
$(FUZZ_B)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_util.h tests/fuzz/fuzz_ucr.h $(FUZZ_B)/libssmkit.a
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $< $(FUZZ_B)/libssmkit.a $(LDLIBS)
