#!/usr/bin/env bash
# Train, evaluate and ship the pretrained models (docs/pretrained.md): each is a finished,
# evaluated run exported by `csvae pretrained export` into src/csvae/pretrained/models (or
# $CSVAE_PRETRAINED_DIR), which writes its half-precision weights, card and registry line.
#
#   scripts/train_pretrained.sh synthetic [RUNS]   # synthetic-faces-csvae and -ccvae (the presets;
#                                                  # about 1 h each on 2 CPU cores), runs in RUNS
#   scripts/train_pretrained.sh celeba EXP         # the CelebA models from the runs of
#                                                  # `csvae reproduce celeba --out EXP` (evaluated there)
#
# A finished run is not trained again, nor an evaluated one evaluated again; the export replaces
# a shipped model of the same name. Check the result with
#   .venv/bin/python -m pytest tests/test_pretrained_shipped.py -m "slow or not slow"
set -euo pipefail
cd "$(dirname "$0")/.."
CSVAE=${CSVAE:-.venv/bin/csvae}
ship() {  # RUN NAME [COMMAND]
  "$CSVAE" pretrained export "$1" --name "$2" --overwrite ${3:+--command "$3"}
}
case "${1:-}" in
  synthetic)
    RUNS=${2:-runs/pretrained}
    for model in csvae ccvae; do
      run="$RUNS/synthetic-faces-$model"
      [ -f "$run/model.pt" ] || "$CSVAE" fit --config "synthetic_faces/$model" --out "$run"
      [ -f "$run/metrics.json" ] || "$CSVAE" evaluate "$run"
      ship "$run" "synthetic-faces-$model" "csvae fit --config synthetic_faces/$model --out $run"
    done ;;
  celeba)
    EXP=${2:?give the folder of csvae reproduce celeba --out EXP}
    ship "$EXP/runs/celeba-glasses/csvae/seed0" celeba-glasses-csvae
    ship "$EXP/runs/celeba-glasses/ccvae/seed0" celeba-glasses-ccvae
    ship "$EXP/runs/celeba-facialhair/csvae/seed0" celeba-facialhair-csvae
    ship "$EXP/runs/celeba-glasses-facialhair/csvae/seed0" celeba-glasses-facialhair-csvae
    ship "$EXP/runs/celeba-smiling/csvae/seed0" celeba-smiling-csvae ;;
  *)
    echo "usage: scripts/train_pretrained.sh synthetic [RUNS] | celeba EXP" >&2
    exit 2 ;;
esac
MODELS=${CSVAE_PRETRAINED_DIR:-src/csvae/pretrained/models}
du -ch "$MODELS"/*/model.pt "$MODELS"/*/arrays.npz 2>/dev/null | tail -1
