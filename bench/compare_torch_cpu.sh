#!/usr/bin/env bash
# ssmkit's CPU training step against PyTorch + mambapy, same model, shape and threads
# (docs/benchmarks.md, "ssmkit vs PyTorch + mambapy on the CPU").
#
#   make -j2 bench && pip install torch mambapy
#   bench/compare_torch_cpu.sh            # PYTHON=/path/to/venv/bin/python if torch is elsewhere
#
# For each thread count, ROUNDS rounds; each round runs `build/bench/backbone -step`
# and `bench/torch_mamba_cpu.py` (mambapy's parallel scan) one after the other, the
# order swapped every round, so that a change in machine load hits both sides.
# Each run: WARMUP untimed steps, then ITERS timed steps (forward + backward, no
# optimizer). The table: "min" = the fastest step over all rounds, "median" = the
# median of the rounds' median steps, "cpu" = the median of the rounds' process CPU
# time per step (all threads: what other jobs on the machine disturb least); the
# ratios are torch / ssmkit.
# SEQ_THREADS="2" also times mambapy's sequential scan (pscan=False) once at each
# thread count listed (SEQ_WARMUP, SEQ_ITERS; a step takes a minute or more).
# First (CHECK=1, the default) the two sides run one step on the same parameters
# and inputs (backbone -step -dump, torch_mamba_cpu.py -check) and the largest
# differences are printed: both compute the same function.
# The environment passes through to both sides (SSMKIT_CPU, if set, is printed).
# Knobs (environment): THREADS ("2 1"), ROUNDS (3), WARMUP (3), ITERS (10),
# CHECK (1), PYTHON (python3), BENCH (build/bench/backbone), SEQ_THREADS (""), SEQ_WARMUP (1),
# SEQ_ITERS (2), LOG (a temp file: every raw "step" line).
set -euo pipefail
cd "$(dirname "$0")/.."

THREADS=${THREADS:-"2 1"}
ROUNDS=${ROUNDS:-3}
WARMUP=${WARMUP:-3}
ITERS=${ITERS:-10}
PYTHON=${PYTHON:-python3}
BENCH=${BENCH:-build/bench/backbone}
SEQ_THREADS=${SEQ_THREADS:-}
SEQ_WARMUP=${SEQ_WARMUP:-1}
SEQ_ITERS=${SEQ_ITERS:-2}
CHECK=${CHECK:-1}
LOG=${LOG:-$(mktemp /tmp/compare_torch_cpu.XXXXXX)}
SHAPE=(-B 8 -L 196 -d 192 -N 16 -layers 4)

if [ ! -x "$BENCH" ]; then
    echo "compare_torch_cpu: $BENCH not found: run 'make -j2 bench' first" >&2
    exit 1
fi
if ! "$PYTHON" -c 'import torch, mambapy' 2>/dev/null; then
    echo "compare_torch_cpu: $PYTHON cannot import torch and mambapy ('pip install torch" \
         "mambapy', or set PYTHON=/path/to/venv/bin/python)" >&2
    exit 1
fi

flags=$(grep -m1 '^flags' /proc/cpuinfo || true)
has() { case " ${flags#*:} " in *" $1 "*) echo yes ;; *) echo no ;; esac; }
echo "# date: $(date)"
fam=$(grep -m1 '^cpu family' /proc/cpuinfo | sed 's/.*: *//'); mod=$(grep -m1 '^model[[:space:]]*:' /proc/cpuinfo | sed 's/.*: *//')
echo "# cpu: $(lscpu | sed -n 's/^Model name: *//p') (family $fam, model $mod), $(nproc) cores online;" \
     "/proc/cpuinfo flags: avx512f $(has avx512f), avx2 $(has avx2), fma $(has fma)"
echo "# SSMKIT_CPU: ${SSMKIT_CPU-(not set)}"
echo "# ssmkit: $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ' (modified tree)'), $BENCH"
echo "# $("$PYTHON" -c 'import torch, importlib.metadata as m; print("torch", torch.__version__, "mambapy", m.version("mambapy"))' 2>/dev/null)"
echo "# shape: ${SHAPE[*]}, bidirectional (K=2), expand 2, d_conv 4, RMSNorm; warmup $WARMUP, iters $ITERS, rounds $ROUNDS"
echo "# raw lines: $LOG"
: > "$LOG"

run_ssmkit() { OMP_NUM_THREADS=$1 "$BENCH" "${SHAPE[@]}" -step -warmup "$WARMUP" -iters "$ITERS" | grep '^step' | tee -a "$LOG"; }
run_torch() {
    OMP_NUM_THREADS=$1 "$PYTHON" bench/torch_mamba_cpu.py "${SHAPE[@]}" -threads "$1" -pscan "$2" \
        -warmup "$3" -iters "$4" 2>/dev/null | grep '^step' | tee -a "$LOG"
}

if [ "$CHECK" = 1 ]; then
    dump=$(mktemp -d /tmp/compare_torch_cpu.XXXXXX)
    "$BENCH" "${SHAPE[@]}" -step -warmup 0 -iters 1 -dump "$dump/vim" > /dev/null
    "$PYTHON" bench/torch_mamba_cpu.py "${SHAPE[@]}" -check "$dump/vim" | sed -n 's/^check [^:]*: /# same function? /p'
    rm -rf "$dump"
fi

for t in $THREADS; do
    for r in $(seq 1 "$ROUNDS"); do
        echo "# threads $t, round $r ($(uptime | sed 's/.*load average/load average/'))"
        if [ $((r % 2)) = 1 ]; then
            run_ssmkit "$t"; run_torch "$t" 1 "$WARMUP" "$ITERS"
        else
            run_torch "$t" 1 "$WARMUP" "$ITERS"; run_ssmkit "$t"
        fi
    done
done
for t in $SEQ_THREADS; do
    echo "# threads $t, mambapy sequential scan ($(uptime | sed 's/.*load average/load average/'))"
    run_torch "$t" 0 "$SEQ_WARMUP" "$SEQ_ITERS"
done

echo
awk '
function kv(key,   i, a) { for (i = 1; i <= NF; i++) { split($i, a, "="); if (a[1] == key) return a[2] } return "" }
function median(list,   n, v, i, j, x) {
    n = split(list, v, " ")
    for (i = 2; i <= n; i++) { x = v[i] + 0; for (j = i - 1; j >= 1 && v[j] + 0 > x; j--) v[j + 1] = v[j]; v[j + 1] = x }
    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
/^step/ {
    impl = kv("impl"); if (impl == "torch-mambapy") impl = impl (kv("pscan") == "1" ? " (pscan)" : " (sequential)")
    t = kv("threads"); k = t SUBSEP impl
    if (!(k in n)) { n[k] = 0; mn[k] = 1e30; order[++no] = k }
    n[k]++; meds[k] = meds[k] " " kv("median_ms"); params[k] = kv("params"); B = kv("B")
    cpus[k] = cpus[k] " " kv("cpu_ms")
    if (kv("min_ms") + 0 < mn[k]) mn[k] = kv("min_ms") + 0
}
END {
    print "| threads | implementation | params | runs | min ms/step | median ms/step | samples/s (median) | cpu ms/step | torch / ssmkit (min) | torch / ssmkit (median) | torch / ssmkit (cpu) |"
    print "|---|---|---|---|---|---|---|---|---|---|---|"
    for (i = 1; i <= no; i++) {
        k = order[i]; split(k, p, SUBSEP); md = median(meds[k]); s = p[1] SUBSEP "ssmkit"
        cp = median(cpus[k]); rmin = rmed = rcpu = "-"
        if (p[2] != "ssmkit" && (s in n)) {
            rmin = sprintf("%.1fx", mn[k] / mn[s]); rmed = sprintf("%.1fx", md / median(meds[s]))
            if (cp > 0 && median(cpus[s]) > 0) rcpu = sprintf("%.1fx", cp / median(cpus[s]))
        }
        printf "| %s | %s | %s | %d | %.1f | %.1f | %.1f | %s | %s | %s | %s |\n", p[1], p[2], params[k], n[k], mn[k], md, 1000 * B / md, (cp > 0 ? sprintf("%.1f", cp) : "-"), rmin, rmed, rcpu
    }
}' "$LOG"
