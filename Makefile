# ssmkit build. `make` builds build/ssmkit and build/libssmkit.a (CPU, OpenMP,
# OpenBLAS); `make test` builds and runs every Check suite (float, double for
# gradient checks, and an ASan+UBSan build); `make bench` builds the
# benchmarks; `make CUDA=1` adds the CUDA twins; `make deps` installs the
# Debian packages. Sources are found by wildcard: a new .c file in a room is
# built without editing this file.

CC      ?= gcc
NVCC    ?= nvcc
MACHINE := $(shell $(CC) -dumpmachine 2>/dev/null)
# The binary runs on any CPU of its architecture: baseline code everywhere,
# and the hot kernels (CPU_VARIANT_SRC) compiled once more per vector ISA and
# chosen at run time (kernels/cpu_dispatch.h). ARCH=-march=native still works
# for a build that only has to run here.
ifneq ($(filter x86_64%,$(MACHINE)),)
ARCH    ?= -march=x86-64 -mtune=generic
CPU_VARIANTS ?= generic avx2 avx512
else
ARCH    ?=
CPU_VARIANTS ?= generic
endif
OPT     ?= -O3
CFLAGS  := -std=c11 -D_GNU_SOURCE $(OPT) $(ARCH) -g -fopenmp -fno-trapping-math -Wall -Wextra -Wno-unused-parameter \
           -Wshadow -Wno-sign-compare -I. $(EXTRA_CFLAGS)
BLAS_INC := $(shell pkg-config --cflags openblas 2>/dev/null)
CFLAGS  += $(BLAS_INC)
LDLIBS  := -fopenmp $(shell pkg-config --libs openblas 2>/dev/null || echo -lopenblas) \
           -lcyaml -lyaml -lgsl -lgslcblas -lpng -lsndfile -lsoxr -lfftw3 -lz -lpthread -lm
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lrt)
# libhdf5 (CLAM's h5 feature files, datasets/mil_clam.c): Debian's serial flavour
CFLAGS  += $(shell pkg-config --cflags hdf5 2>/dev/null || echo -I/usr/include/hdf5/serial)
LDLIBS  += $(shell pkg-config --libs hdf5 2>/dev/null || echo -lhdf5_serial)
# cJSON (AST/AuM JSON manifests, datasets/audio_manifest.c): Debian's libcjson-dev
LDLIBS  += -lcjson

# MPI (data-parallel training, core/distributed.h): on when mpicc or OpenMPI's pkg-config
# file is found (MPI=0 turns it off, MPI=1 insists; MPI_CFLAGS / MPI_LIBS from the
# environment win: tools/device_mpi.sh). Only core/distributed*.c see mpi.h; all link libmpi.
ifeq ($(origin MPI),undefined)
MPI := $(shell (command -v mpicc || pkg-config --exists ompi-c) >/dev/null 2>&1 && echo 1 || echo 0)
endif
ifeq ($(MPI),1)
ifeq ($(origin MPI_CFLAGS),undefined)
MPI_CFLAGS := $(shell pkg-config --cflags ompi-c 2>/dev/null || mpicc --showme:compile 2>/dev/null)
endif
ifeq ($(origin MPI_LIBS),undefined)
MPI_LIBS   := $(shell pkg-config --libs ompi-c 2>/dev/null || mpicc --showme:link 2>/dev/null || echo -lmpi)
endif
LDLIBS  += $(MPI_LIBS)
endif

LIB_DIRS := core kernels backbone adapters tasks datasets
# The kernels built per CPU variant; kernels/cpu_kernels.def lists their functions.
CPU_VARIANT_SRC := kernels/activation.c kernels/conv1d.c kernels/norm.c kernels/permute.c \
                   kernels/scan_backward.c \
                   kernels/scan.c
LIB_SRC  := $(filter-out $(CPU_VARIANT_SRC),$(foreach d,$(LIB_DIRS),$(wildcard $(d)/*.c)))
VFLAGS_generic :=
VFLAGS_avx2    := -mavx2 -mfma
VFLAGS_avx512  := -mavx512f -mavx512dq -mavx512bw -mavx512vl -mavx2 -mfma -mprefer-vector-width=512
# the double build (gradient checks) has the portable vector layer only
DBL_VARIANTS := generic
variant_objs = $(foreach v,$(2),$(CPU_VARIANT_SRC:%.c=$(1)/%.$(v).o))
cpu_have = $(foreach v,$(filter-out generic,$(1)),-DSSM_CPU_HAVE_$(shell echo $(v) | tr a-z A-Z))
CLI_SRC  := $(wildcard cli/*.c)
TEST_UTIL_SRC := $(wildcard tests/util/*.c)
# Suites that link only once another branch is merged (each says why in its header): drop
# them from this list then. test_cuda_backbone_packed_cpu.c: the CPU packed backbone.
PENDING_TESTS :=
TEST_SRC := $(filter-out $(PENDING_TESTS),$(wildcard tests/test_*.c))
GRAD_SRC := $(wildcard tests/grad_*.c)
BENCH_SRC := $(filter-out bench/exp_cpu.c,$(wildcard bench/*.c))

B := build
OBJ     := $(LIB_SRC:%.c=$(B)/obj/%.o) $(call variant_objs,$(B)/obj,$(CPU_VARIANTS))
DBL_OBJ := $(LIB_SRC:%.c=$(B)/dbl/obj/%.o) $(call variant_objs,$(B)/dbl/obj,$(DBL_VARIANTS))
SAN_OBJ := $(LIB_SRC:%.c=$(B)/san/obj/%.o) $(call variant_objs,$(B)/san/obj,$(CPU_VARIANTS))

# --- CUDA (optional) --------------------------------------------------------
ifeq ($(CUDA),1)
CUDA_HOME ?= /usr/local/cuda
# Each room may keep its device code in <room>/cuda/: .cu kernels and .c host code
# that calls them (built only here, so the CPU build never needs CUDA headers).
CU_SRC  := $(foreach d,$(LIB_DIRS),$(wildcard $(d)/cuda/*.cu))
CU_OBJ  := $(CU_SRC:%.cu=$(B)/obj/%.o)
CU_HOST_SRC := $(foreach d,$(LIB_DIRS),$(wildcard $(d)/cuda/*.c))
CU_OBJ  += $(CU_HOST_SRC:%.c=$(B)/obj/%.o)
# Fat binaries: SASS for Ampere (A100 sm_80, A10/RTX 30 sm_86), Ada (L4/L40/RTX 40
# sm_89) and Hopper (H100/H200/GH200 sm_90), plus compute_90 PTX that newer GPUs
# JIT-compile. CUDA_ARCH='-gencode arch=compute_90,code=sm_90' builds one (faster).
CUDA_ARCH ?= -gencode arch=compute_80,code=sm_80 -gencode arch=compute_86,code=sm_86 \
             -gencode arch=compute_89,code=sm_89 -gencode arch=compute_90,code=sm_90 \
             -gencode arch=compute_90,code=compute_90
# what `ssmkit info` and the no-kernel-image error name
CUDA_ARCH_NAMES := $(shell echo '$(CUDA_ARCH)' | grep -o 'code=[a-z_0-9]*' | sed 's/code=//' | tr '\n' ' ' | sed 's/ $$//')
NVCCFLAGS := -O3 -std=c++17 $(CUDA_ARCH) -I. -Xcompiler -fopenmp,-Wall -lineinfo $(EXTRA_NVCCFLAGS)
CFLAGS  += -DSSM_CUDA -DSSM_CUDA_ARCHS='"$(CUDA_ARCH_NAMES)"' -I$(CUDA_HOME)/include
LDLIBS  += -L$(CUDA_HOME)/lib64 -lcudart -lcublas -lcublasLt -lstdc++
OBJ     += $(CU_OBJ)
# NCCL (GPU ranks' gradient all-reduce, core/cuda/nccl.c): on when nccl.h is found beside
# CUDA or in /usr/include; NCCL=0 builds without (one GPU per job then).
NCCL ?= $(shell test -f $(CUDA_HOME)/include/nccl.h -o -f /usr/include/nccl.h && echo 1 || echo 0)
ifeq ($(NCCL),1)
CFLAGS  += -DSSM_NCCL
LDLIBS  += -lnccl
endif
endif

.PHONY: all test test-float test-grad test-san bench deps clean probe
all: probe $(B)/ssmkit $(B)/ssmkit-f64 $(B)/libssmkit.a

probe:
	@pkg-config --exists openblas 2>/dev/null && echo "✓ OpenBLAS" || echo "✗ OpenBLAS (make deps)"
	@test -f /usr/include/cyaml/cyaml.h && echo "✓ libcyaml" || echo "✗ libcyaml (make deps)"
	@test -f /usr/include/gsl/gsl_rng.h && echo "✓ GSL" || echo "✗ GSL (make deps)"
	@pkg-config --exists check 2>/dev/null && echo "✓ Check" || echo "✗ Check (make deps; needed by make test)"
	@pkg-config --exists hdf5 2>/dev/null && echo "✓ libhdf5" || echo "✗ libhdf5 (make deps)"
	@test -f /usr/include/cjson/cJSON.h && echo "✓ libcjson" || echo "✗ libcjson (make deps)"
	@command -v $(NVCC) >/dev/null 2>&1 && echo "✓ nvcc (make CUDA=1 builds the CUDA twins)" || echo "✗ nvcc (CPU only)"
	@[ "$(MPI)" = 1 ] && echo "✓ MPI (mpirun -np N ssmkit train: docs/distributed.md)" || echo "✗ MPI (one process per run; make deps installs OpenMPI)"

$(B)/libssmkit.a: $(OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^
$(B)/dbl/libssmkit.a: $(DBL_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^
$(B)/san/libssmkit.a: $(SAN_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(B)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(EXTRA_DEFS) -MMD -MP -c $< -o $@
# One CPU variant of a hot kernel file: compiled with the variant's ISA flags,
# then every global it defines renamed NAME -> NAME_<variant>; the dispatcher
# (kernels/cpu_dispatch.c) defines the public NAME and calls the chosen one.
define variant_rule
$(1)/%.$(3).o: %.c
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS) $(2) $$(VFLAGS_$(3)) -MMD -MP -MT $$@ -MF $$(@:.o=.d) -c $$< -o $$@.raw
	nm -g --defined-only $$@.raw | awk '{print $$$$3, $$$$3 "_$(3)"}' > $$@.syms
	objcopy --redefine-syms=$$@.syms $$@.raw $$@ && rm -f $$@.raw $$@.syms
endef
$(foreach v,generic avx2 avx512,$(eval $(call variant_rule,$(B)/obj,,$(v))) \
  $(eval $(call variant_rule,$(B)/dbl/obj,-DSSM_DOUBLE,$(v))) \
  $(eval $(call variant_rule,$(B)/san/obj,$$(SANFLAGS),$(v))))
# the dispatcher knows which variants each library flavour carries
$(B)/obj/kernels/cpu_dispatch.o: EXTRA_DEFS = $(call cpu_have,$(CPU_VARIANTS))
$(B)/san/obj/kernels/cpu_dispatch.o: EXTRA_DEFS = $(call cpu_have,$(CPU_VARIANTS))
$(B)/dbl/obj/kernels/cpu_dispatch.o: EXTRA_DEFS = $(call cpu_have,$(DBL_VARIANTS))
# core/distributed*.c: the MPI build of the collectives (every library flavour)
ifeq ($(MPI),1)
DIST_OBJ := $(foreach f,$(B)/obj $(B)/dbl/obj $(B)/san/obj,$(f)/core/distributed.o $(f)/core/distributed_mpi.o)
$(DIST_OBJ): EXTRA_DEFS = -DSSM_MPI $(MPI_CFLAGS)
endif
$(B)/obj/%.o: %.cu
	@mkdir -p $(@D)
	$(NVCC) $(NVCCFLAGS) -MMD -MP -c $< -o $@
$(B)/dbl/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -DSSM_DOUBLE $(EXTRA_DEFS) -MMD -MP -c $< -o $@
SANFLAGS := -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
$(B)/san/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANFLAGS) $(EXTRA_DEFS) -MMD -MP -c $< -o $@

$(B)/ssmkit: $(CLI_SRC:%.c=$(B)/obj/%.o) $(B)/libssmkit.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)
# The same command built without MPI (the distributed tests check that it refuses to run
# as one of several ranks): only core/distributed.c differs.
$(B)/obj/core/distributed.nompi.o: core/distributed.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@
$(B)/ssmkit-nompi: $(CLI_SRC:%.c=$(B)/obj/%.o) $(B)/obj/core/distributed.nompi.o $(B)/libssmkit.a
	$(CC) $(CFLAGS) -o $@ $^ $(filter-out $(MPI_LIBS),$(LDLIBS))
# The double-precision twin: `ssmkit check-grad` re-executes it.
$(B)/ssmkit-f64: $(CLI_SRC:%.c=$(B)/dbl/obj/%.o) $(B)/dbl/libssmkit.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# --- tests: float suites, double-precision gradient suites, sanitized suites
TEST_BIN := $(TEST_SRC:tests/%.c=$(B)/tests/%)
GRAD_BIN := $(GRAD_SRC:tests/%.c=$(B)/dbl/tests/%)
SAN_BIN  := $(TEST_SRC:tests/%.c=$(B)/san/tests/%)

# tests/util/*.c: compiled once per flavour (the object rules above), linked into every suite
TEST_UTIL_OBJ     := $(TEST_UTIL_SRC:%.c=$(B)/obj/%.o)
DBL_TEST_UTIL_OBJ := $(TEST_UTIL_SRC:%.c=$(B)/dbl/obj/%.o)
SAN_TEST_UTIL_OBJ := $(TEST_UTIL_SRC:%.c=$(B)/san/obj/%.o)
.SECONDARY: $(TEST_UTIL_OBJ) $(DBL_TEST_UTIL_OBJ) $(SAN_TEST_UTIL_OBJ) # kept, not intermediate

$(B)/tests/%: tests/%.c $(TEST_UTIL_OBJ) $(B)/libssmkit.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(TEST_UTIL_OBJ) $(B)/libssmkit.a $(CHECK_LIBS) $(LDLIBS)
$(B)/dbl/tests/%: tests/%.c $(DBL_TEST_UTIL_OBJ) $(B)/dbl/libssmkit.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -DSSM_DOUBLE -o $@ $< $(DBL_TEST_UTIL_OBJ) $(B)/dbl/libssmkit.a $(CHECK_LIBS) $(LDLIBS)
$(B)/san/tests/%: tests/%.c $(SAN_TEST_UTIL_OBJ) $(B)/san/libssmkit.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $< $(SAN_TEST_UTIL_OBJ) $(B)/san/libssmkit.a $(CHECK_LIBS) $(LDLIBS)

ifeq ($(MPI),1)
NOMPI_BIN := $(B)/ssmkit-nompi
endif
test: $(B)/ssmkit $(B)/ssmkit-f64 $(NOMPI_BIN) $(TEST_BIN) $(GRAD_BIN) $(SAN_BIN)
	@SSMKIT_BIN=$(B)/ssmkit VARIANT_SUITES="$(TEST_BIN)" tests/run_suites.sh $(TEST_BIN) $(GRAD_BIN) $(SAN_BIN) $(TORCH_SUITES)

test-float: $(TEST_BIN)
	@tests/run_suites.sh $(TEST_BIN)
test-grad: $(GRAD_BIN)
	@tests/run_suites.sh $(GRAD_BIN)
test-san: $(SAN_BIN)
	@tests/run_suites.sh $(SAN_BIN)

# --- benchmarks
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(B)/bench/%)
ifeq ($(CUDA),1)
# bench/*.cu: compiled by the .cu rule above, linked like the C benchmarks
BENCH_BIN += $(patsubst bench/%.cu,$(B)/bench/%,$(wildcard bench/*.cu))
endif
# exp_cpu: the vector exp/exp2 per ISA, beside SLEEF's when libsleef-dev is installed
ifneq ($(filter x86_64%,$(MACHINE)),)
BENCH_BIN += $(B)/bench/exp_cpu_avx2 $(B)/bench/exp_cpu_avx512
endif
SLEEF_FLAGS := $(shell pkg-config --exists sleef 2>/dev/null && echo -DSSM_HAVE_SLEEF $$(pkg-config --cflags --libs sleef))
$(B)/bench/exp_cpu_%: bench/exp_cpu.c kernels/cpu_vec.h kernels/cpu_math.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(VFLAGS_$*) -o $@ $< $(SLEEF_FLAGS) -lm
bench: $(BENCH_BIN)
# bench/fbank times FFTW's float transform beside the double one the library uses
$(B)/bench/fbank: LDLIBS += -lfftw3f
$(B)/bench/%: bench/%.c $(B)/libssmkit.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(B)/libssmkit.a $(LDLIBS)
$(B)/bench/%: $(B)/obj/bench/%.o $(B)/libssmkit.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

DEPS := build-essential pkg-config libopenblas-dev libgsl-dev libcyaml-dev libyaml-dev check \
        libsubunit-dev libpng-dev libsndfile1-dev libsoxr-dev libfftw3-dev zlib1g-dev libhdf5-dev \
        libcjson-dev openmpi-bin libopenmpi-dev
deps:
	@missing=""; for p in $(DEPS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	else echo "all Debian dependencies present"; fi

clean:
	rm -rf $(B)

-include $(B)/obj/core/distributed.nompi.d
-include $(OBJ:.o=.d) $(DBL_OBJ:.o=.d) $(SAN_OBJ:.o=.d) $(CLI_SRC:%.c=$(B)/obj/%.d) $(CLI_SRC:%.c=$(B)/dbl/obj/%.d)
-include $(TEST_UTIL_OBJ:.o=.d) $(DBL_TEST_UTIL_OBJ:.o=.d) $(SAN_TEST_UTIL_OBJ:.o=.d)

# --- the PyTorch round trip (tests/torch/): its C driver, and its suite in `make test`,
# which skips with a message where Python has no torch (tools/pytorch/install_cpu_torch.sh)
TORCH_DRIVER := $(B)/tests/torch/dump_outputs
TORCH_SUITES := tests/torch/test_torch_roundtrip.sh
$(TORCH_DRIVER): tests/torch/dump_outputs.c $(B)/libssmkit.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(B)/libssmkit.a $(LDLIBS)
test: $(TORCH_DRIVER)
include tests/fuzz/fuzz.mk
