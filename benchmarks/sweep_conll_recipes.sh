#!/usr/bin/env bash
# Train several softmax-head recipes on CoNLL-2003 concurrently (used on a GPU machine to pick the
# optimiser settings of configs/conll2003.yaml; see docs/benchmarks.md).
#   DATA=../shared/data/conll2003 OUT=/tmp/sweep T=480 bash benchmarks/sweep_conll_recipes.sh
set -u
DATA=${DATA:-../shared/data/conll2003}
OUT=${OUT:-runs/sweep}
T=${T:-600}
DEVICE=${DEVICE:-cuda}
mkdir -p "$OUT"
common=(--set data.train=$DATA/eng.train --set data.validation=$DATA/eng.testa --set data.test=$DATA/eng.testb
        --set training.progress=false --set training.device=$DEVICE --set training.threads=2
        --set training.epochs=50 --set training.patience=null)
run() {
  name=$1; shift
  timeout "$T" python3 -m birnn_tag train configs/conll2003.yaml "${common[@]}" --set output.dir=/tmp/sweep-runs/$name \
    --set training.optimizer=sgd --set training.lr=0.015 --set training.lr_decay=0.05 "$@" > "$OUT/$name.log" 2>&1
  cp /tmp/sweep-runs/$name/metrics.jsonl "$OUT/$name.jsonl"
}
run A &
run B --set training.lr=0.05 &
run C --set training.optimizer=adam --set training.lr=0.001 --set training.lr_decay=0 &
run D --set training.optimizer=adam --set training.lr=0.002 --set training.lr_decay=0.05 &
run E --set training.batch_size=10 &
run F --set training.optimizer=adam --set training.lr=0.001 --set training.lr_decay=0 --set model.num_layers=2 --set model.hidden_size=256 &
run G --set training.lr=0.03 --set training.batch_size=16 &
wait
for f in "$OUT"/*.jsonl; do
  python3 - "$f" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
best = max(rows, key=lambda r: r["dev_f1"])
print(f"{sys.argv[1]}: {len(rows)} epochs, best dev F1 {100 * best['dev_f1']:.2f} at epoch {best['epoch']}, "
      f"{sum(r['train_seconds'] for r in rows) / len(rows):.1f} s/epoch")
PY
done
