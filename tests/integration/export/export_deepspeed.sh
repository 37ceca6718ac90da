#!/usr/bin/env bash
# Every DeepSpeed config of the cases of export_numbers.sh through
# DeepSpeed's own DeepSpeedConfig, its pipeline engine's ZeRO rule and its
# learning-rate schedulers (deepspeed_check.py). Needs a Python that
# imports deepspeed (CPU is enough) in $DML_FRAMEWORK_PYTHON (default
# python3):
#   python3.12 -m venv /tmp/fw && /tmp/fw/bin/pip install torch numpy packaging
#   DS_BUILD_OPS=0 /tmp/fw/bin/pip install --no-build-isolation deepspeed
#   DML_FRAMEWORK_PYTHON=/tmp/fw/bin/python ctest -R export_deepspeed
# Skipped (77) when it cannot: CI installs Debian packages only.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
py=${DML_FRAMEWORK_PYTHON:-python3}
"$py" -c 'import deepspeed' >/dev/null 2>&1 || {
    echo "export_deepspeed: skipped: $py cannot import deepspeed (\$DML_FRAMEWORK_PYTHON)"
    exit 77
}
KINDS=deepspeed make_cases "$scratch/cases" >/dev/null
rc=0
"$py" "$here/deepspeed_check.py" "$scratch/cases" "$DML_SOURCE_DIR/data" \
    >"$scratch/log" 2>&1 || rc=$?
grep -E '^(deepspeed_check|[a-z0-9.-]+-dgx-)' "$scratch/log" || true
[ "$rc" -ne 77 ] || exit 77
[ "$rc" -eq 0 ] || fail "DeepSpeed refuses an export (see above)"
