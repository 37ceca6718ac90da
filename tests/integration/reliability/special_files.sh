#!/usr/bin/env bash
# Special files (issue 10, items 3 and 4), the rules of common/file.h:
#
# Inputs: every file a tool reads, made a FIFO (no writer ever comes), is
# refused at once: exit 2, exactly one line on stderr naming the file and
# saying "not a regular file". Each command runs under `timeout 20`, so a
# reader that opens before it checks fails the test instead of hanging it.
#   dml-plan --model, --cluster; dml-exec --plan, --init-weights, --data
#   (training and test IDX files); dml-probe --topology-xml; --db, and the
#   database's -journal (SQLite opens that itself); dml-exec --resume with a
#   FIFO as the manifest or a shard (reported and skipped, as every broken
#   checkpoint is: the run starts over), or as another rank's state file.
#
# Outputs: dml-plan --out and --export-out, dml-exec --save-weights and
# dml-probe --out with a character device as the target (as root a
# private node with /dev/null's numbers 1,3 made by mknod in the test's
# folder; otherwise a symbolic link to /dev/null) succeed and leave the
# node a node (the link a link). A FIFO with a reader gets the file and
# stays a FIFO; a link to a plan file is followed, not replaced;
# /dev/fd/N writes to the descriptor (a pipe, or a file that keeps what it
# had); a directory is refused with one line.
#
# FIFOs cannot live in git: they are made here, in a temporary folder
# removed on exit (with any reader still waiting) whatever the outcome.
set -uo pipefail
plan_tiny=$DML_FIXTURES/exec/plan-tiny.json
plan_fmnist=$DML_FIXTURES/exec/plan-fmnist-small.json
work=$(mktemp -d)
readers=()
trap 'for p in "${readers[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$work"' EXIT
cd "$work"
db=$work/dml.db
failures=0
fail() { echo "FAIL $*"; failures=$((failures + 1)); }
# T CMD...: CMD killed after 20 s ($limit s when set: the measuring probe
# is slow on a loaded machine, and its test is not about hanging).
T() { timeout "${limit:-20}" "$@"; }
plan_args=(--model gpt3-125m --cluster dgx-a100-80g --global-batch 512
           --db "$db")
exec_args=(--data synthetic --steps 2 --db "$db")

# refused NAME FILE PREFIX CMD...: exit 2 (not 124: no hang), exactly one
# line on stderr, starting with PREFIX, naming FILE, saying "not a
# regular file".
refused() {
    local name=$1 file=$2 prefix=$3
    shift 3
    local rc=0
    T "$@" >out.txt 2>err.txt || rc=$?
    if [ $rc -eq 124 ]; then
        fail "$name: hung (killed after 20 s)"
    elif [ $rc -ne 2 ]; then
        fail "$name: exit status $rc, expected 2: $(head -c 600 err.txt)"
    elif [ "$(grep -cv '^[[:space:]]*$' err.txt)" -ne 1 ] ||
        ! grep -q "^$prefix" err.txt; then
        fail "$name: expected one '$prefix' line on stderr: $(head -c 600 err.txt)"
    elif ! grep -F -- "$file" err.txt | grep -qF "not a regular file"; then
        fail "$name: the error does not say '$file: not a regular file': $(cat err.txt)"
    else
        echo "ok   $name: $(cat err.txt)"
    fi
}

# succeeds NAME CMD...: exit 0 within the timeout.
succeeds() {
    local name=$1
    shift
    local rc=0
    T "$@" >out.txt 2>err.txt || rc=$?
    if [ $rc -ne 0 ]; then
        fail "$name: exit status $rc: $(head -c 600 err.txt)"
        return 1
    fi
    echo "ok   $name"
}

# still TYPE PATH NAME: PATH is still of TYPE (test -TYPE: p, c, h).
still() {
    [ "-$1" "$2" ] || fail "$3: $2 is no longer what it was: $(ls -l "$2")"
}

# ---- inputs ---------------------------------------------------------------

# A database with a run, so that every tool gets past opening it.
"$DML_BIN/dml-exec" --plan "$plan_tiny" "${exec_args[@]}" >/dev/null 2>&1 ||
    { echo "FAIL: the reference run failed"; exit 1; }

mkfifo spec.json
refused "dml-plan --model FIFO" spec.json dml-plan: \
    "$DML_BIN/dml-plan" --model "$work/spec.json" --cluster dgx-a100-80g \
    --global-batch 512 --db "$db"
refused "dml-plan --cluster FIFO" spec.json dml-plan: \
    "$DML_BIN/dml-plan" --model gpt3-125m --cluster "$work/spec.json" \
    --global-batch 512 --db "$db"
refused "dml-exec --plan FIFO" spec.json dml-exec: \
    "$DML_BIN/dml-exec" --plan spec.json "${exec_args[@]}"
refused "dml-exec --init-weights FIFO" spec.json dml-exec: \
    "$DML_BIN/dml-exec" --plan "$plan_tiny" --init-weights spec.json \
    "${exec_args[@]}"
refused "dml-probe --topology-xml FIFO" spec.json dml-probe: \
    "$DML_BIN/dml-probe" --topology-xml spec.json --quiet --db "$db"

# --data: the training images, then the test labels, a FIFO among the
# real files.
for f in train-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz; do
    rm -rf data && cp -r "$DML_FIXTURES/exec/fmnist-small" data
    rm data/$f && mkfifo data/$f
    refused "dml-exec --data (FIFO $f)" "data/$f" dml-exec: \
        "$DML_BIN/dml-exec" --plan "$plan_fmnist" --data data --steps 2 \
        --db "$db"
done

refused "dml-history --db FIFO" spec.json dml-history: \
    "$DML_BIN/dml-history" --db spec.json
cp "$db" side.db
mkfifo side.db-journal
refused "dml-history (FIFO as the database's -journal)" side.db-journal \
    dml-history: "$DML_BIN/dml-history" --db side.db
refused "dml-plan (FIFO as the database's -journal)" side.db-journal \
    dml-plan: "$DML_BIN/dml-plan" --model gpt3-125m --cluster dgx-a100-80g \
    --global-batch 512 --db side.db

# --resume: a FIFO as the manifest, then as the shard, of the only
# checkpoint. Like any broken checkpoint it is reported (naming the file)
# and skipped, and the run starts over (exit 0), or, should nothing
# usable be refused as a whole, exit 2; never a hang.
"$DML_BIN/dml-exec" --plan "$plan_tiny" --data synthetic --steps 5 \
    --checkpoint-dir ck0 --checkpoint-every 5 --db "$db" >/dev/null 2>&1 ||
    { echo "FAIL: the checkpointing run failed"; exit 1; }
for f in manifest.json rank-00000.bin; do
    rm -rf ck && cp -r ck0 ck
    rm ck/step-00000005/$f && mkfifo ck/step-00000005/$f
    rc=0
    T "$DML_BIN/dml-exec" --plan "$plan_tiny" --data synthetic --steps 6 \
        --checkpoint-dir ck --resume --db "$db" >out.txt 2>err.txt || rc=$?
    name="dml-exec --resume (FIFO $f)"
    if [ $rc -eq 124 ]; then
        fail "$name: hung (killed after 20 s)"
    elif [ $rc -ne 0 ] && [ $rc -ne 2 ]; then
        fail "$name: exit status $rc: $(head -c 600 err.txt)"
    elif ! grep -F "ck/step-00000005/$f" err.txt | grep -qF "not a regular file"; then
        fail "$name: no line saying '$f: not a regular file': $(head -c 600 err.txt)"
    else
        echo "ok   $name (exit $rc)"
    fi
    still p ck/step-00000005/$f "$name"
done
# Another rank's state file (ranks/rank-N, read when a run starts and on
# --resume to find dead runs) a FIFO: skipped, the run goes on.
rm -rf ck && cp -r ck0 ck && mkfifo ck/ranks/rank-00007
succeeds "dml-exec --resume (FIFO as a rank state file)" \
    "$DML_BIN/dml-exec" --plan "$plan_tiny" --data synthetic --steps 6 \
    --checkpoint-dir ck --resume --db "$db"

# ---- outputs --------------------------------------------------------------

# The character device: a private /dev/null (1,3) as root where the
# folder allows opening device nodes, else a link to the real one.
node=$work/null
if mknod "$node" c 1 3 2>/dev/null && (: >"$node") 2>/dev/null; then
    kind=c what="a device node (1,3)"
else
    rm -f "$node"
    ln -s /dev/null "$node"
    kind=h what="a link to /dev/null"
fi
echo "(the device: $what)"
succeeds "dml-plan --out device" \
    "$DML_BIN/dml-plan" "${plan_args[@]}" --out "$node"
still $kind "$node" "dml-plan --out device"
succeeds "dml-plan --export-out device" \
    "$DML_BIN/dml-plan" "${plan_args[@]}" --export slurm --export-out "$node"
still $kind "$node" "dml-plan --export-out device"
succeeds "dml-exec --save-weights device" \
    "$DML_BIN/dml-exec" --plan "$plan_tiny" --save-weights "$node" \
    "${exec_args[@]}"
still $kind "$node" "dml-exec --save-weights device"
limit=180 succeeds "dml-probe --out device" \
    "$DML_BIN/dml-probe" --quick --quiet --out "$node" --db "$db"
still $kind "$node" "dml-probe --out device"
[ -c /dev/null ] || fail "/dev/null is no longer a character device"

# A FIFO with a reader: the reader gets the whole file.
mkfifo out.fifo
for opt in --out --export-out; do
    extra=()
    [ $opt = --export-out ] && extra=(--export slurm)
    timeout 20 cat out.fifo >got.txt &
    readers+=($!)
    if succeeds "dml-plan $opt FIFO" \
        "$DML_BIN/dml-plan" "${plan_args[@]}" "${extra[@]}" $opt out.fifo; then
        wait "${readers[-1]}"
        grep -q -e '"schema_version"' -e '#SBATCH' got.txt ||
            fail "dml-plan $opt FIFO: the reader got $(wc -c <got.txt) bytes"
    fi
    still p out.fifo "dml-plan $opt FIFO"
done
timeout 20 cat out.fifo >got.bin &
readers+=($!)
if succeeds "dml-exec --save-weights FIFO" \
    "$DML_BIN/dml-exec" --plan "$plan_tiny" --save-weights out.fifo \
    "${exec_args[@]}"; then
    wait "${readers[-1]}"
    head -n 1 got.bin | grep -q '"kind":"dml-weights"' ||
        fail "dml-exec --save-weights FIFO: the reader got $(wc -c <got.bin) bytes"
fi
still p out.fifo "dml-exec --save-weights FIFO"

# A link to a plan file (relative, in a subfolder): the file is replaced,
# the link stays.
mkdir sub && echo old >sub/plan.json && ln -s sub/plan.json link.json
succeeds "dml-plan --out link" "$DML_BIN/dml-plan" "${plan_args[@]}" \
    --out link.json
still h link.json "dml-plan --out link"
grep -q '"schema_version"' sub/plan.json ||
    fail "dml-plan --out link: the file it points to was not written"

# /dev/fd/N: a pipe (`--out /dev/stdout | jq`), and a file opened for
# appending by the shell, which keeps what it had.
rc=0
T "$DML_BIN/dml-plan" "${plan_args[@]}" --out /dev/fd/3 3>&1 >/dev/null \
    2>err.txt | cat >piped.json || rc=$?
if [ $rc -ne 0 ] || ! grep -q '"schema_version"' piped.json; then
    fail "dml-plan --out /dev/fd/3 (a pipe): exit $rc, $(wc -c <piped.json) bytes: $(head -c 300 err.txt)"
else
    echo "ok   dml-plan --out /dev/fd/3 (a pipe)"
fi
echo earlier >log.txt
succeeds "dml-plan --out /dev/fd/3 (a file, appended)" \
    "$DML_BIN/dml-plan" "${plan_args[@]}" --out /dev/fd/3 3>>log.txt
{ [ "$(head -n 1 log.txt)" = earlier ] && grep -q '"schema_version"' log.txt; } ||
    fail "dml-plan --out /dev/fd/3: log.txt lost its first line or got no plan"

# A directory: refused with one line, before anything is done.
mkdir outdir
rc=0
T "$DML_BIN/dml-plan" "${plan_args[@]}" --out outdir >out.txt 2>err.txt || rc=$?
if [ $rc -ne 2 ] || [ "$(grep -cv '^[[:space:]]*$' err.txt)" -ne 1 ] ||
    ! grep -q "outdir: is a directory" err.txt; then
    fail "dml-plan --out DIR: exit $rc: $(head -c 300 err.txt)"
else
    echo "ok   dml-plan --out DIR: $(cat err.txt)"
fi
[ -d outdir ] || fail "dml-plan --out DIR: the directory is gone"

# No temporary file left anywhere.
left=$(find "$work" -name '*.tmp.*' | head -5)
[ -z "$left" ] || fail "temporary files left behind: $left"

if [ $failures -ne 0 ]; then
    echo "$failures failures"
    exit 1
fi
echo "special files: all refused or written in place"
