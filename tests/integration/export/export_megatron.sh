#!/usr/bin/env bash
# Every Megatron-LM launch (--export megatron, torchrun, slurm) of the
# cases of export_numbers.sh through Megatron-LM's own argument parser,
# validate_args, TransformerConfig, micro-batch calculator and learning-
# rate scheduler (megatron_check.py), with the environment the launch
# set. Needs a Megatron-LM checkout in $DML_MEGATRON_LM and a Python with
# torch (CPU is enough) in $DML_FRAMEWORK_PYTHON (default python3):
#   python3.12 -m venv /tmp/fw && /tmp/fw/bin/pip install torch numpy packaging
#   DML_FRAMEWORK_PYTHON=/tmp/fw/bin/python DML_MEGATRON_LM=~/Megatron-LM \
#       ctest -R export_megatron
# Skipped (77) when either is missing: CI installs Debian packages only.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
py=${DML_FRAMEWORK_PYTHON:-python3}
mlm=${DML_MEGATRON_LM:-}
if [ -z "$mlm" ] || [ ! -f "$mlm/megatron/training/arguments.py" ]; then
    echo "export_megatron: skipped: no Megatron-LM checkout in \$DML_MEGATRON_LM"
    exit 77
fi
"$py" -c 'import torch' 2>/dev/null || {
    echo "export_megatron: skipped: $py cannot import torch (\$DML_FRAMEWORK_PYTHON)"
    exit 77
}
CODE=$mlm KINDS="megatron torchrun slurm" make_cases "$scratch/cases" >/dev/null
rc=0
"$py" "$here/megatron_check.py" "$scratch/cases" "$DML_SOURCE_DIR/data" \
    "$mlm" >"$scratch/log" 2>&1 || rc=$?
grep -E '^(megatron_check|[a-z0-9.-]+-dgx-)' "$scratch/log" || true
[ "$rc" -ne 77 ] || exit 77
[ "$rc" -eq 0 ] || fail "Megatron-LM refuses an export (see above)"
