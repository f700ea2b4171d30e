#!/usr/bin/env bash
# The GPU check: on a machine with one CUDA GPU, the GPU-relevant tests and the throughput
# benchmark in under 8 minutes, one summary line per figure at the end. Without CUDA it runs what
# a CPU can (the loader, DDP and thread tests) and says which parts it skipped.
#   bash benchmarks/gpu_check.sh            (PYTHON=... to choose the interpreter; logs in $LOGS)
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
LOGS=${LOGS:-$(mktemp -d)}
mkdir -p "$LOGS"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
summary=()
note() { summary+=("$1"); }

step() {  # step NAME TIMEOUT COMMAND...: run, log, and record pass/fail with its seconds
  local name=$1 limit=$2; shift 2
  local start=$SECONDS
  if timeout "$limit" "$@" >"$LOGS/$name.log" 2>&1; then
    note "$name: pass ($((SECONDS - start)) s)"
  else
    note "$name: FAIL ($((SECONDS - start)) s; log $LOGS/$name.log)"
  fi
}

cuda=$($PY -c "import torch; print(int(torch.cuda.is_available()))")
step tests-cpu-parts 150 $PY -m pytest -q -x tests/test_loader.py tests/test_ddp.py tests/test_threads.py -m "not slow"
if [ "$cuda" = 1 ]; then
  gpu=$($PY -c "import torch; print(torch.cuda.get_device_name())")
  note "device: $gpu"
  # one short CUDA fit of each loader, bf16-mixed, channels_last, through the CLI
  for loader in device stream; do
    step "fit-cuda-$loader" 120 $PY -m csvae.cli fit --config configs/synthetic_faces/csvae.yaml \
      --out "$LOGS/run-$loader" --overwrite --data.n_samples 2000 --train.epochs 1 \
      --train.device cuda --train.loader "$loader"
  done
  for net in slim paper; do
    flags=$([ $net = paper ] && echo --paper)
    step "throughput-$net" 150 $PY benchmarks/image_throughput.py --device cuda --precision bf16-mixed \
      --only fit --threads 1 --repeats 2 --n 16384 --epochs 2 --batch-size 256 $flags
    line=$(grep "csvae.fit .* images/s x" "$LOGS/throughput-$net.log" | tail -1)
    note "images/s $net: ${line#*: }"
  done
else
  note "skipped: CUDA fits and the GPU throughput (torch.cuda.is_available() is False on this machine)"
  step throughput-slim-cpu 240 $PY benchmarks/image_throughput.py --only fit --threads 1 --repeats 1 \
    --n 512 --epochs 1
  line=$(grep "csvae.fit .* images/s x" "$LOGS/throughput-slim-cpu.log" | tail -1)
  note "images/s slim (cpu): ${line#*: }"
fi
echo "---- gpu_check summary (logs in $LOGS) ----"
printf '%s\n' "${summary[@]}"
