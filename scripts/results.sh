#!/usr/bin/env bash
# Regenerate docs/results.md, and its figures in docs/results/<experiment>/, from the reference runs.
#
#   scripts/results.sh              # run the reference experiments (or resume them), then write the page
#   scripts/results.sh demo         # run (or resume) only these, then write the page from every one there
#   scripts/results.sh --page       # only write the page, from the reference runs as they stand
#
# The reference runs, in $REF (default runs/reference), one folder per experiment:
#   demo    csvae reproduce demo: the swiss roll, synthetic faces and CelebA-Glasses at 32 px (one seed)
#   celeba  csvae reproduce celeba: the paper's CelebA study at 64 px (long; on celeba-20k, found at
#           ../shared/data/celeba-20k or $CSVAE_CELEBA_20K)
# A finished run is not trained again and an unfinished one resumes, so a killed script is run
# again as it was. The page's hand-written text lives in docs/results-notes/<section>.md.
set -euo pipefail
cd "$(dirname "$0")/.."
CSVAE=${CSVAE:-.venv/bin/csvae}
REF=${REF:-runs/reference}
EXPERIMENTS=(demo celeba)
if [ "${1:-}" != "--page" ]; then
  for name in "${@:-${EXPERIMENTS[@]}}"; do
    "$CSVAE" reproduce "$name" --out "$REF/$name"
  done
fi
folders=()
for name in "${EXPERIMENTS[@]}"; do
  if [ -d "$REF/$name" ]; then folders+=("$REF/$name"); else echo "results.sh: no $REF/$name yet (scripts/results.sh $name makes it)" >&2; fi
done
[ ${#folders[@]} -gt 0 ] || { echo "results.sh: no reference run in $REF" >&2; exit 1; }
"$CSVAE" results "${folders[@]}" --out docs/results.md
