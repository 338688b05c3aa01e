#!/usr/bin/env bash
# The real-model runs behind docs/real-model.md: multilingual-e5-small (model=e5_small) on the
# real UD, PAN-X and xSID files of ../shared/data (en, de). `bash benchmarks/real_model.sh
# <step>`, steps: recipe (the lr x epochs sweep on dev), settings (cross and multi, every
# task), masked (gradient / max / random masked curves up to 36 heads, and the English and
# German rankings they store), retrained (POS en -> de, k = 0..12 step 2), guided (the same
# cell with pruning.mode=guided), report (into
# docs/real-model/), or all of them in turn.
# TASKS="POS NER" limits settings and masked to some tasks. Each step is a Hydra multirun under multirun/real-model/<step>/; the cache (XLPRUNE_CACHE)
# keeps the converted model, rankings and finished jobs, so a stopped step goes on.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-$(cd .. && pwd)/shared/data}
OUT=${OUT:-multirun/real-model}
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 WANDB_SILENT=true
PY=${PY:-.venv/bin/python}
POS=(+experiment=e5_pos "data.root=$DATA/ud" 'data.pattern.train="{lang}_*-ud-dev.conllu"'
     data.pattern.dev=null 'data.pattern.test="{lang}_*-ud-test.conllu"')
NER=(+experiment=e5_ner "data.root=$DATA/panx" data.pattern.dev=null
     'data.pattern.test="dev-{lang}.tsv"')
SF=(+experiment=e5_sf "data.root=$DATA/xsid" 'data.pattern.train="{lang}.valid.conll"'
    data.pattern.dev=null)
run() {  # run <dir> <overrides...>
  local dir=$1; shift
  "$PY" -m xlprune "$@" logger=csv hydra.sweep.dir="$OUT/$dir" -m
}
case "${1:-}" in
  recipe)
    run recipe-pos "${POS[@]}" setting=cross 'optim.lr=1e-4,3e-4,5e-4'
    run recipe-ner "${NER[@]}" setting=cross 'optim.lr=1e-4,3e-4,5e-4'
    run recipe-sf "${SF[@]}" setting=cross 'optim.lr=1e-4,3e-4,5e-4' 'trainer.max_epochs=3,6' \
      batch_size=32
    "$0" recipe-sf-b8 ;;
  recipe-sf-b8)  # 270 training sentences: smaller batches, more epochs
    run recipe-sf-b8 "${SF[@]}" setting=cross 'optim.lr=1e-4,3e-4,5e-4' trainer.max_epochs=10 \
      batch_size=8 ;;
  settings)  # (a) unpruned, cross- and multi-lingual (each experiment sweeps setting)
    for task in ${TASKS:-POS NER SF}; do
      declare -n args=$task
      run "settings-${task,,}" "${args[@]}"
    done ;;
  masked)  # (b, c) masked curves up to 36 heads on the source's own dev set: gradient, max,
    # random from English, and gradient from German; a one-source cross-lingual mask job
    # stores its ranking (the report's Spearman of the English and German rankings)
    for task in ${TASKS:-POS NER SF}; do
      declare -n args=$task
      run "masked-${task,,}" "${args[@]}" setting=cross pruning.mode=mask pruning.max_k=36 \
        'targets=[en]' ranking=gradient,max,random
      run "masked-${task,,}-de" "${args[@]}" setting=cross pruning.mode=mask \
        pruning.max_k=36 'source=[de]' 'targets=[de]'
    done ;;
  retrained)  # (d) POS en -> de cross-lingual, k heads removed before fine-tuning
    run retrained-pos "${POS[@]}" setting=cross 'pruning.count=0,2,4,6,8,10,12' ;;
  guided)  # pruning.mode=guided on the retrained cell: 3 fine-tunes instead of 13
    run guided-pos "${POS[@]}" setting=cross pruning.mode=guided pruning.max_k=12 ;;
  report)
    "$PY" -m xlprune.report "$OUT"/settings-* "$OUT"/masked-* "$OUT"/retrained-* \
      --out docs/real-model ;;
  all)
    for step in recipe settings masked retrained guided report; do "$0" "$step"; done ;;
  *) echo "usage: $0 recipe|settings|masked|retrained|guided|report|all" >&2; exit 2 ;;
esac
