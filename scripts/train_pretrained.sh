#!/usr/bin/env bash
# Ship the pretrained models (docs/pretrained.md): each is a finished, evaluated run exported by
# `csvae pretrained export` into src/csvae/pretrained/models (or $CSVAE_PRETRAINED_DIR), which
# writes its half-precision weights, card (with the check metrics of its test slice) and registry
# line; then the figures of docs/pretrained/ are drawn from the shipped models (`csvae pretrained
# figure`: CelebA's are the README's opening pictures), docs/pretrained.md's table is rewritten from
# the cards and the total size printed.
#
#   scripts/train_pretrained.sh synthetic [DIR]   # synthetic-faces-csvae and -ccvae. DIR a folder of
#       `csvae reproduce demo --out DIR` (it holds experiment.json): its synthetic-face runs, which are
#       the presets synthetic_faces/{csvae,ccvae} unchanged (the shipped ones: the demo's, about 4 min
#       each on 2 CPU cores); any other DIR (default runs/pretrained): the presets trained there by
#       `csvae fit` and evaluated, where missing.
#   scripts/train_pretrained.sh celeba EXP        # the five CelebA models from the evaluated runs of
#       `csvae reproduce celeba --out EXP` (the 64 px presets on celeba-20k); nothing is exported
#       unless all five are evaluated.
#
# Runs are only read (export writes nothing into a run folder); the export replaces a shipped model
# of the same name. Then check and commit:
#   .venv/bin/python -m pytest tests/test_pretrained_shipped.py
#   git add src/csvae/pretrained/models docs/pretrained.md docs/pretrained
set -euo pipefail
cd "$(dirname "$0")/.."
CSVAE=${CSVAE:-.venv/bin/csvae}
ship() {  # RUN NAME [COMMAND] [LIMIT]
  "$CSVAE" pretrained export "$1" --name "$2" --overwrite ${3:+--command "$3"} ${4:+--limit "$4"}
}
# measured on the 64 px CelebA CSVAEs (docs/models.md, "Where q(w|x,y) starts")
CSVAE_ADD_LIMIT="Adding an attribute draws its W_i from the prior p(w_i | y_i = 1), which after 6 epochs lies \
beyond the codes the encoder gives to photos with the attribute. Measured on CelebA-Glasses: added glasses are dark \
and the face and background shift towards grey; removing glasses keeps the photo's colours; a transfer from a real \
photo stays on the data but draws the glasses weakly."
case "${1:-}" in
  synthetic)
    DIR=${2:-runs/pretrained}
    for model in csvae ccvae; do
      if [ -f "$DIR/experiment.json" ]; then  # the card says: csvae reproduce demo --out DIR
        ship "$DIR/runs/synthetic_faces/$model/seed0" "synthetic-faces-$model"
      else
        run="$DIR/synthetic-faces-$model"
        [ -f "$run/model.pt" ] || "$CSVAE" fit --config "synthetic_faces/$model" --out "$run"
        [ -f "$run/metrics.json" ] || "$CSVAE" evaluate "$run"
        ship "$run" "synthetic-faces-$model" "csvae fit --config synthetic_faces/$model --out $run"
      fi
    done
    "$CSVAE" pretrained figure synthetic-faces-csvae synthetic-faces-ccvae --attribute glasses \
      --out docs/pretrained/synthetic-faces ;;
  celeba)
    EXP=${2:?give the folder of csvae reproduce celeba --out EXP}
    RUNS="celeba-glasses/csvae celeba-glasses/ccvae celeba-facialhair/csvae celeba-glasses-facialhair/csvae
          celeba-smiling/csvae"
    missing=""
    for run in $RUNS; do
      [ -f "$EXP/runs/$run/seed0/metrics.json" ] || missing="$missing $EXP/runs/$run/seed0"
    done
    if [ -n "$missing" ]; then
      echo "not evaluated yet (no metrics.json):$missing; nothing exported" >&2
      exit 1
    fi
    for run in $RUNS; do  # celeba-glasses/csvae -> celeba-glasses-csvae
      limit=""
      [ "${run#*/}" = csvae ] && limit=$CSVAE_ADD_LIMIT
      ship "$EXP/runs/$run/seed0" "${run/\//-}" "" "$limit"
    done
    # the README's opening pictures: real test photos of celeba-20k, glasses added and removed, a transfer
    "$CSVAE" pretrained figure celeba-glasses-csvae celeba-glasses-ccvae --attribute Eyeglasses \
      --out docs/pretrained/celeba-glasses
    echo "README.md: open with docs/pretrained/celeba-glasses/pretrained_edit.png and pretrained_transfer.png" ;;
  *)
    echo "usage: scripts/train_pretrained.sh synthetic [DIR] | celeba EXP" >&2
    exit 2 ;;
esac
"$CSVAE" pretrained table --docs docs/pretrained.md
