#!/usr/bin/env bash
# Exports under attack (issue 10, item 2): what --export slurm, megatron,
# torchrun and deepspeed print is run by a shell, so a model name or a
# plan path must never become a command there.
#   1. export_hostile writes every export with hostile names and paths put
#      in through the C API (the readers refuse them; the exporters must
#      hold on their own). Each script must parse (`bash -n`), follow its
#      harmless twin line for line (the same lines, only the value
#      differs, so no line was written by anything but the exporter),
#      hold no control character, and, run with srun, scontrol, torchrun
#      and python stubbed, run no command of the value; the Slurm script
#      must hand dml-exec exactly the plan path it was given.
#   2. dml-plan itself, with a name the reader accepts and --out paths the
#      shell would misread unquoted ($(...), spaces, quotes, a newline).
. "$(dirname "$0")/lib.sh"
cd "$scratch"
hostile=$DML_BIN/../tests/integration/planner/export_hostile
mkdir exports stubs
"$hostile" exports || fail "export_hostile failed"

# Stubs record their arguments, NUL-separated, in $STUB_LOG.
for s in srun torchrun python; do
    printf '#!/bin/bash\nprintf "%%s\\0" "$@" >>"$STUB_LOG"\n' >stubs/$s
done
printf '#!/bin/bash\necho node1\n' >stubs/scontrol
chmod +x stubs/*
export SLURM_JOB_NODELIST=node1 SLURM_JOB_ID=1 SLURM_PROCID=0 \
    SLURM_LOCALID=0 SLURM_NTASKS=1

# run_script FILE: run it in a fresh folder with the stubs first on PATH;
# nothing it does may create a file there but the stub log.
run_script() {
    rm -rf run && mkdir run
    (cd run && STUB_LOG=$scratch/run/.log PATH=$scratch/stubs:$PATH \
        bash "$scratch/$1" >/dev/null 2>&1) || fail "$1 failed when run"
    [ -z "$(ls run)" ] || fail "$1 ran a command of the value: $(ls run)"
}

# Shell outputs parse and run no command of the value; their stub logs
# are kept as FILE.args for the checks below.
n=0
for f in exports/*.out; do
    case $f in *-ref.out|exports/deepspeed-*) continue ;; esac
    bash -n "$f" 2>err || fail "$f does not parse: $(cat err)"
    run_script "$f"
    cp run/.log "${f%.out}.args" 2>/dev/null || : >"${f%.out}.args"
    n=$((n + 1))
done
[ "$n" -ge 60 ] || fail "only $n scripts checked"
# Every output follows its harmless twin line for line (only the value
# differs: no line was written by anything but the exporter) and holds no
# control character; DeepSpeed's is JSON; the Slurm script of the MLP
# hands dml-exec exactly the plan path it was given.
python3 - exports <<'PY' || fail "an export is not what its exporter writes"
import glob, json, os, sys
bad = []
outs = [f for f in sorted(glob.glob(os.path.join(sys.argv[1], "*.out")))
        if not f.endswith("-ref.out")]
for out in outs:
    base, tag = out[:-4].rsplit("-", 1)
    if base.endswith("-path"):
        ref, token = base[:-5] + "-ref.out", b"ref-plan.json"
    else:
        ref, token = base + "-ref.out", b"ok-name"
    a = open(ref, "rb").read().split(b"\n")
    b = open(out, "rb").read().split(b"\n")
    if len(a) != len(b):
        bad.append("%s: %d lines, its template %d" % (out, len(b), len(a)))
        continue
    for i, (r, l) in enumerate(zip(a, b)):
        if any(c < 0x20 or c == 0x7f for c in l) or b"\xc2\x9b" in l:
            bad.append("%s:%d: a control character: %r" % (out, i + 1, l))
        if token in r:
            pre, post = r.split(token, 1)
            ok = l.startswith(pre) and l.endswith(post) and \
                len(l) >= len(pre) + len(post)
        else:
            ok = l == r
        if not ok:
            bad.append("%s:%d: not the exporter's line:\n  %r\nlike\n  %r"
                       % (out, i + 1, l, r))
    if "/deepspeed-" in out:
        try:
            json.load(open(out))
        except ValueError as e:
            bad.append("%s: not JSON: %s" % (out, e))
    if "-path-" in out:
        args = open(out[:-4] + ".args", "rb").read().split(b"\0")
        want = open(out[:-4] + ".want", "rb").read()
        got = args[args.index(b"--plan") + 1] if b"--plan" in args else None
        if got != want:
            bad.append("%s: dml-exec gets %r, not %r" % (out, got, want))
for line in bad[:10]:
    print(line)
sys.exit(1 if bad else 0)
PY

# dml-plan end to end: a name the reader accepts with every character the
# rule allows, and --out paths a shell would misread unquoted.
cat >model.json <<'EOF'
{"schema_version": 1, "type": "mlp", "name": "Mlp_1.0+fmnist-x",
 "input": 784, "hidden": [32], "output": 10, "dtype": "fp32"}
EOF
i=0
for p in 'plan $(touch pwned).json' 'a b.json' "it's.json" $'new\nline.json' \
         '`touch pwned`.json' '-x.json' 'semi;touch pwned;.json'; do
    i=$((i + 1))
    mkdir -p "cli$i"
    plan --model model.json --cluster cpu-node --nodes 1 --global-batch 256 \
        --config dp=2,threads=1 --out "$scratch/cli$i/$p" --export slurm \
        --export-out "cli$i/slurm.sh" --db "$scratch/cli.db" >/dev/null ||
        fail "dml-plan --out '$p'"
    [ -f "cli$i/$p" ] || fail "no plan file at '$p'"
    bash -n "cli$i/slurm.sh" || fail "the Slurm script for '$p' does not parse"
    grep -q '^#SBATCH --job-name=dml-Mlp_1.0+fmnist-x$' "cli$i/slurm.sh" ||
        fail "job name"
    run_script "cli$i/slurm.sh"
    python3 - run/.log "$scratch/cli$i/$p" <<'PY' || fail "dml-exec does not get '$p'"
import sys
args = open(sys.argv[1], "rb").read().split(b"\0")
i = args.index(b"--plan")
assert args[i + 1] == sys.argv[2].encode(), (args[i + 1], sys.argv[2])
PY
done
echo "export_shell: $n exported scripts and $i dml-plan --out paths checked"
