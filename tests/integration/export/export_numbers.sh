#!/usr/bin/env bash
# Every export's numbers (issue 12): each transformer preset on both GPU
# presets (and a few chosen plans: a batch ramp, an uneven pipeline, ZeRO
# with a pipeline, bf16 gradients, interleaving), each export kind,
# planned by dml-plan, launched with stubs, and checked against its plan
# and model by check_numbers.py (standard library only; the frameworks'
# own parsers are export_megatron.sh and export_deepspeed.sh).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
# DML_EXPORT_CASES=DIR keeps the cases there (for a look at them)
cases=${DML_EXPORT_CASES:-$scratch/cases}
CODE=$scratch/megatron-lm  # where the launches must start (a stand-in)
mkdir -p "$CODE"
n=$(CODE=$CODE make_cases "$cases")
[ "$n" -ge 100 ] || fail "only $n exports made"
python3 "$here/check_numbers.py" "$cases" "$DML_SOURCE_DIR/data" \
    "$CODE" || fail "an export's numbers are wrong"
