#!/bin/bash
# One batched GPU session (the device tool's machine; docs/kernels.md): builds the CUDA
# binaries for sm_90 only (H100/H200; the release build has every arch), runs every CUDA
# suite (test_cuda_nccl: the NCCL all-reduce and `mpirun -np 1` training; test_cuda_graph: the
# training step as a CUDA graph, bit for bit), bench/train (eager vs graph samples/s), then the MIL recipe on a
# generated slide set on the GPU, alone and as one rank under mpirun (NCCL), a 100,000-instance
# bag (d_model 128) training step on the GPU, the multilabel demo on generated scenes and the
# part-segmentation demo on the GPU. Logs go to $OUT (or ./device_out).
# Usage (tools/device_debs.sh first, here): [SSMKIT_SYSROOT=/tmp/sysrootN] tests/device_check.sh
#        [extra make targets]. It sources tools/device_env.sh itself: a `VAR=x source env.sh`
#        in the caller's shell does not reach this process, so the kit's mpirun was not found
#        (tools/device_mpi.sh looked in /tmp/sysroot) and the machine's own mpirun ran on the
#        kit's PMIx (LD_LIBRARY_PATH), the failure tools/device_mpi.sh records.
set -u
source tools/device_env.sh # the kit's sysroot, its mpirun and MPI build flags (docs/distributed.md)
O=${OUT:-device_out}
mkdir -p "$O"
T=$(ls tests/test_cuda*.c | sed 's#tests/\(.*\)\.c#build-cuda/tests/\1#')
export CPATH=$CPATH:${SSMKIT_SYSROOT:-/tmp/sysroot}/usr/include/hdf5/serial LIBRARY_PATH=$LIBRARY_PATH:${SSMKIT_SYSROOT:-/tmp/sysroot}/usr/lib/x86_64-linux-gnu/hdf5/serial
make -j16 CUDA=1 B=build-cuda CUDA_ARCH='-gencode arch=compute_90,code=sm_90' \
    build-cuda/ssmkit build-cuda/bench/train $T "$@" > "$O/build.log" 2>&1 || { echo "build failed"; tail -30 "$O/build.log"; exit 1; }
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
SSMKIT_BIN=build-cuda/ssmkit tests/run_suites.sh $T > "$O/tests.log" 2>&1
grep -E "^(==|[0-9]+%)|FAILED|suites:" "$O/tests.log" | tail -40
# the training step eager and as a CUDA graph (train.cuda_graph; tests/test_cuda_graph.c checks
# the bits), samples/s side by side
build-cuda/bench/train 20 > "$O/train_bench.txt" 2>&1; tail -8 "$O/train_bench.txt"
S=build-cuda/ssmkit
$S synth-bags "$O/slides" --bags 96 --min 50 --max 300 --dim 16 --witnesses 3:6 --shift 6 --splits 2 --seed 11 > /dev/null
$S train configs/mil/camelyon16_clam.yaml --set run.device=cuda --set data.path="$O/slides/dataset.csv" \
    --set data.features_dir="$O/slides" --set data.splits_dir="$O/slides/splits" --set train.epochs=15 \
    --set optim.lr=1e-3 --set run.dir="$O/runs" --set run.name=clam_gpu --set run.progress=off 2> "$O/clam_gpu.err" | tail -1
# the same run as one rank under mpirun: NCCL initialises and all-reduces (one rank); the
# summary should match the line above (test_cuda_nccl compares weights on a smaller job)
command -v mpirun >/dev/null 2>&1 && mpirun --allow-run-as-root -np 1 $S train configs/mil/camelyon16_clam.yaml \
    --set run.device=cuda --set data.path="$O/slides/dataset.csv" --set data.features_dir="$O/slides" \
    --set data.splits_dir="$O/slides/splits" --set train.epochs=15 --set optim.lr=1e-3 --set run.dir="$O/runs" \
    --set run.name=clam_gpu_mpi --set run.progress=off 2> "$O/clam_gpu_mpi.err" | tail -1
grep -h "data parallel" "$O/clam_gpu_mpi.err" 2>/dev/null
$S synth-bags "$O/long" --bags 4 --min 100000 --max 100000 --dim 128 --splits 2 --seed 3 > /dev/null
/usr/bin/time -f "long bags: %e s, max RSS %M KB" $S train configs/mil/camelyon16_clam.yaml --set run.device=cuda \
    --set data.path="$O/long/dataset.csv" --set data.features_dir="$O/long" --set data.splits_dir="$O/long/splits" \
    --set train.epochs=1 --set run.dir="$O/runs" --set run.name=long_gpu --set run.progress=off 2> "$O/long_gpu.err" | tail -1
tail -2 "$O/long_gpu.err"
# part segmentation on the GPU: the generated parts set (configs/points/parts.yaml, 10 epochs)
$S train configs/points/parts.yaml --set run.device=cuda --set train.epochs=10 --set run.dir="$O/runs" \
    --set run.name=parts_gpu --set run.progress=off 2> "$O/parts_gpu.err" | tail -1
nvidia-smi --query-gpu=memory.used --format=csv,noheader
# multilabel on the GPU (BCE and mixup's mixed targets on the device): the generated scenes
$S synth-scenes "$O/scenes" --train 400 --val 60 --test 120 --seed 3 > /dev/null
$S train configs/audio/multilabel_demo.yaml --set run.device=cuda --set data.path="$O/scenes" \
    --set run.dir="$O/runs" --set run.name=multilabel_gpu --set run.progress=off 2> "$O/multilabel_gpu.err" | tail -1
# PointMamba's concatenated orders on the GPU (adapter.order_layout: concat): the shapes demo,
# 15 epochs, then predict of the parts demo on the GPU writes one row per point
$S train configs/points/shapes.yaml --set adapter.order_layout=concat --set run.device=cuda \
    --set train.epochs=15 --set run.dir="$O/runs" --set run.name=shapes_concat_gpu \
    --set run.progress=off 2> "$O/shapes_concat_gpu.err" | tail -1
# PCM's order prompts on the GPU (backbone.order_prompts; suite: test_cuda_order_prompts):
# the shapes demo with three layers, one order each, 2 prompts per order, 15 epochs
$S train configs/points/shapes.yaml --set adapter.order_layout=branches --set backbone.n_branches=1 \
    --set adapter.orders=[snake_xyz,hilbert,trans_z] --set backbone.n_layers=3 --set backbone.order_prompts=2 \
    --set run.device=cuda --set train.epochs=15 --set run.dir="$O/runs" --set run.name=shapes_prompts_gpu \
    --set run.progress=off 2> "$O/shapes_prompts_gpu.err" | tail -1
awk 'BEGIN { srand(1); for (i = 0; i < 300; i++) printf "%f %f %f\n", rand() - .5, rand() * .2, rand() - .5 }' > "$O/cloud.xyz"
echo "parts predict on the GPU: $($S predict configs/points/parts.yaml --set run.device=cuda \
    --ckpt "$O/runs/parts_gpu/last.safetensors" --category table --format csv "$O/cloud.xyz" \
    2> "$O/parts_predict_gpu.err" | wc -l) lines (301 expected: a header and a row per point)"
