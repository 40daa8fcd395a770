#!/usr/bin/env bash
# The GPU path on a lent device, in one command (issue 16): install what raysweep's core needs from
# carried wheels, run the gpu-marked tests, then benchmarks/gpu_check.py (numbers in its docstring).
#
# Here, once (fills .whl/, ignored by git, with the wheels the device's Python 3.12 lacks):
#     bash benchmarks/gpu_check.sh --download
# On the device (the `device` tool's run, from the repository root):
#     run(command="bash benchmarks/gpu_check.sh", carry=[".whl"], timeout_s=540)
#
# The device image holds torch, numpy, pyyaml, pytest, scikit-learn; not pydantic. Ray and MLflow
# cannot travel (Ray's wheel alone is over the 64 MiB that a call carries), so only the pure core
# runs there: the shell's GPU handling (resources.gpu, device: auto in Ray workers) is tested on CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
WHEELS=(pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5)

if [ "${1:-}" = "--download" ]; then
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl "${WHEELS[@]}"
  ls -l .whl
  exit 0
fi

out="${OUT:-out}"
mkdir -p "$out"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH="$PWD:/tmp/site" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
status=0
# Only the test files that hold gpu-marked tests: the others import Ray or MLflow, absent there.
# -p no:cacheprovider: the checkout there is a copy; nothing to keep between runs.
mapfile -t gpu_tests < <(grep -l "pytest.mark.gpu" tests/test_*.py)
python3 -m pytest -p no:cacheprovider -q -m gpu "${gpu_tests[@]}" 2>&1 | tee "$out/pytest_gpu.log" || status=1
python3 benchmarks/gpu_check.py --json "$out/gpu_check.json" 2>&1 | tee "$out/gpu_check.log" || status=1
exit $status
