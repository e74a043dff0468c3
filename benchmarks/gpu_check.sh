#!/usr/bin/env bash
# The CUDA path of `labellake bench run`, on a GPU machine with no network at all:
# fp16 and bf16 x eager and compile x batch 1, 8 and 64 (intra_op, one worker), each
# with its accuracy against fp32 eager on the GPU; under 8 minutes on an H100.
#
# The machine needs python3 with a CUDA build of torch and transformers (a PyTorch
# image has them). What else labellake needs travels in the tree, made beforehand
# where there is a network by benchmarks/gpu_wheels.sh:
#   .whl/        wheels of labellake's dependencies a PyTorch image lacks (installed
#                here with --no-index into a folder of their own);
#   .gpu-model/  all-MiniLM-L6-v2 (the bench extra's model), when its package is not
#                among the wheels.
# Results: printed, and written to $OUT/gpu_check.csv and $OUT/gpu_check.log when OUT
# is set (else under /tmp). Run: bash benchmarks/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
out=${OUT:-/tmp/labellake-gpu-check}
mkdir -p "$out"
site=/tmp/labellake-gpu-site
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if compgen -G ".whl/*.whl" > /dev/null; then
    "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
        --upgrade --target "$site" .whl/*.whl
    export PYTHONPATH="$PWD:$site${PYTHONPATH:+:$PYTHONPATH}"
fi
model=()
if [ -f .gpu-model/config.json ]; then
    model=(--model "$PWD/.gpu-model")
fi
"$python" - <<'PY'
import sys

import torch

if not torch.cuda.is_available():
    sys.exit("gpu_check: torch sees no CUDA device; run this on a GPU machine")
print(f"gpu_check: {torch.cuda.get_device_name(0)}, torch {torch.__version__}, "
      f"CUDA {torch.version.cuda}")
PY
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 AWS_EC2_METADATA_DISABLED=true PYTHONUNBUFFERED=1
home=/tmp/labellake-gpu-home
rm -rf "$home"
cli=("$python" -m labellake.portal.cli --home "$home")
started=$(date +%s)
# 12 configurations; the compiled ones spend most of their time compiling (timed apart).
timeout 450 "${cli[@]}" bench run "${model[@]}" --device cuda \
    --precision fp16,bf16 --runtime eager,compile --batch-sizes 1,8,64 --workers 1 \
    --modes intra_op --seq-len 128 --duration 4 --warmup 2 \
    --instance "${INSTANCE:-cuda}" ${PRICE:+--price-per-hour "$PRICE"} 2>&1 | tee "$out/gpu_check.log"
echo "gpu_check: $(( $(date +%s) - started )) s"
query="SELECT device, precision, runtime, batch_size, round(throughput, 1) AS sentences_per_s,
    round(latency_p95 * 1000, 2) AS p95_ms, round(accuracy_mean_cosine, 5) AS mean_cosine,
    round(accuracy_worst_cosine, 5) AS worst_cosine, accuracy_ok, status,
    json_extract_string(environment, '$.gpu') AS gpu
    FROM benchmark_results ORDER BY precision, runtime, batch_size"
"${cli[@]}" sql "$query"
"${cli[@]}" sql --format csv "$query" > "$out/gpu_check.csv"
