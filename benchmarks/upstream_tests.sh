#!/usr/bin/env bash
# lm-eval's and MTEB's own offline tests, without and with mi-tasks, on the installed versions.
#
# Why: mi-tasks patches lm-eval at start-up (mi_tasks_lmeval.pth) and enters its task names into
# MTEB's registry; neither may change what those libraries' own tests see. The tests come from
# each library's sdist (pip download), for exactly the installed version. "Without" turns the
# lm-eval hook off (MI_TASKS_LMEVAL_AUTOLOAD=0) and does not import mi_tasks.mteb; "with" is a
# plain install for lm-eval, and mi_tasks.mteb imported before MTEB's tests run.
# Prints passed/failed counts per side and the tests whose outcome differs. Not part of CI
# (minutes, and it downloads the sdists); run it after touching harness/lm_eval_compat.py or mteb/.
#
# Usage: benchmarks/upstream_tests.sh [PYTHON]   (PYTHON defaults to python)
set -euo pipefail
PY="${1:-python}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false

version() { "$PY" -c "import importlib.metadata as m; print(m.version('$1'))"; }
LM_EVAL="$(version lm_eval)"
MTEB="$(version mteb)"
"$PY" -m pip download -q --no-deps --no-binary :all: -d "$WORK" "lm-eval==$LM_EVAL" "mteb==$MTEB" 2>/dev/null
tar xzf "$WORK"/lm_eval-*.tar.gz -C "$WORK"
tar xzf "$WORK"/mteb-*.tar.gz -C "$WORK"

# Offline files: no model downloads, no hub datasets.
LM_TESTS="test_task_manager.py test_registry.py test_misc.py test_utils.py test_metrics.py test_filters.py
          test_samplers.py test_evaluator_utils.py test_janitor.py test_cache.py"
MTEB_TESTS="test_get_tasks.py test_filter_tasks.py test_languages.py test_similarity_functions.py
            test_data_cleaning.py test_set_seed.py"

# run NAME DIR PRELUDE FILES... : pytest in DIR (outside the checkout, so the installed packages are tested)
run() {
  local name=$1 dir=$2 prelude=$3; shift 3
  (cd "$dir" && "$PY" -c "$prelude
import sys, pytest
sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', '-o', 'addopts=', '-rA', *sys.argv[1:]]))" "$@" \
    > "$WORK/$name.log" 2>&1) || true
  grep -E '^(PASSED|FAILED|ERROR) ' "$WORK/$name.log" | sort > "$WORK/$name.ids" || true
  printf '%-16s %s\n' "$name" "$(tail -n 1 "$WORK/$name.log")"
}

cd "$WORK"/lm_eval-*/tests
LM_FILES=$(for f in $LM_TESTS; do [ -f "$f" ] && echo "$f"; done)
MI_TASKS_LMEVAL_AUTOLOAD=0 run lm_eval-without "$PWD" "" $LM_FILES
run lm_eval-with "$PWD" "" $LM_FILES
cd "$WORK"/mteb-*/tests
MTEB_FILES=$(for f in $MTEB_TESTS; do [ -f "$f" ] && echo "$f"; done)
run mteb-without "$PWD" "" $MTEB_FILES
run mteb-with "$PWD" "import mi_tasks.mteb" $MTEB_FILES

for lib in lm_eval mteb; do
  echo "== $lib: outcomes that differ with mi-tasks (< without, > with)"
  diff "$WORK/$lib-without.ids" "$WORK/$lib-with.ids" || true
done
