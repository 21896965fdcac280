#!/usr/bin/env bash
# A real search on CoNLL-2003 with the speed-first GloVe recipe (docs/benchmarks.md, "Tuning"):
# TRIALS trials of EPOCHS epochs each (TPE, median pruning) over
# configs/tune/conll2003-glove-fast-space.yaml; then `tune --seeds SEEDS` trains the best config
# and the recipe at the same budget with seeds 1..SEEDS and compares them (paired bootstrap on
# eng.testb); then, for FULL_SEEDS seeds, both at the recipe's own 30 epochs, compared too.
# Run it alone; it resumes where it stopped (the study in OUT/study.db, finished runs kept).
#   OUT=runs/tune-conll2003 TRIALS=12 EPOCHS=10 SEEDS=3 FULL_SEEDS=3 bash benchmarks/tune_conll2003.sh
set -euo pipefail
OUT=${OUT:-runs/tune-conll2003}
TRIALS=${TRIALS:-12}
EPOCHS=${EPOCHS:-10}
SEEDS=${SEEDS:-3}
FULL_SEEDS=${FULL_SEEDS:-3}
BT=${BT:-python3 -m birnn_tag}
RECIPE=configs/conll2003-glove-fast.yaml

lscpu | grep 'Model name'
SECONDS=0
$BT tune "$RECIPE" --space configs/tune/conll2003-glove-fast-space.yaml --trials "$TRIALS" \
  --set training.epochs="$EPOCHS" --seed 1 --out "$OUT" --seeds "$SEEDS"
echo "search and seeds: ${SECONDS} s"

train() {  # config name seed
  local dir="$OUT/full/$2/seed-$3" resume=()
  [[ -f "$dir/report.json" ]] && return
  if [[ -f "$dir/last.pt" ]]; then resume=(--resume); else resume=(--set output.overwrite=true); fi
  SECONDS=0
  $BT train "$1" "${resume[@]}" --set training.epochs=30 --set training.seed="$3" \
    --set output.dir="$dir" --set training.progress=false > "$dir.log" 2>&1
  echo "$2 seed $3, 30 epochs: ${SECONDS} s"
}
(( FULL_SEEDS > 0 )) || exit 0
mkdir -p "$OUT/full/best" "$OUT/full/recipe"
for seed in $(seq 1 "$FULL_SEEDS"); do
  train "$OUT/best.yaml" best "$seed"
  train "$RECIPE" recipe "$seed"
done
$BT compare --a "$OUT"/full/recipe/seed-* --b "$OUT"/full/best/seed-* | tee "$OUT/compare-30-epochs.txt"
