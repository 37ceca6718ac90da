# Database files dml must not write to, or must explain (issue 10, low):
#  - another application's SQLite database (its tables, no dml schema;
#    also one whose user_version looks like a dml version): exit 2, one
#    line, the file byte for byte as it was (it used to be switched to WAL,
#    or given dml's tables, before being refused or used);
#  - an empty SQLite database (no tables) is dml's to use;
#  - a database with a corrupt page: exit 1, one line, nothing written (a
#    write that never touched the bad page used to succeed);
#  - a WAL database on a read-only mount: dml-history reads it; dml-plan
#    says the folder is not writable (both used to fail with "unable to
#    open database file");
#  - a full disk: "no space left on device", naming the database (it said
#    "database or disk is full" or "disk I/O error").
# The mounts (bind read-only, a small tmpfs) need root; without them
# those cases are skipped, and every mount is undone on exit.
set -euo pipefail
scratch=$(mktemp -d /tmp/dml-db-files-XXXXXX)
mounts=()
cleanup() {
    local m
    for m in ${mounts[@]+"${mounts[@]}"}; do umount -l "$m" 2>/dev/null || true; done
    rm -rf "$scratch"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$scratch"
plan=(--model gpt3-125m --cluster dgx-a100-80g --global-batch 512)

# expect CODE WANT CMD...: exit CODE and exactly one line on stderr that
# contains WANT.
expect() {
    local want_code=$1 want=$2 rc=0
    shift 2
    "$@" >out 2>err || rc=$?
    [ "$rc" -eq "$want_code" ] || { cat err >&2; fail "'$*': exit $rc, expected $want_code"; }
    [ "$(grep -c . err)" -eq 1 ] || { cat err >&2; fail "'$*': expected one line on stderr"; }
    grep -qF -- "$want" err || { cat err >&2; fail "'$*': the line does not say '$want'"; }
}

# Another application's files.
sqlite3 other.db "CREATE TABLE notes (x); INSERT INTO notes VALUES ('keep me')"
sqlite3 clash.db "CREATE TABLE runs (x)"
sqlite3 versioned.db "CREATE TABLE notes (x); PRAGMA user_version = 2"
for f in other.db clash.db versioned.db; do
    cp "$f" "$f.orig"
    expect 2 "not a dml database" "$DML_BIN/dml-plan" "${plan[@]}" --db "$f"
    expect 2 "not a dml database" "$DML_BIN/dml-history" --db "$f"
    cmp -s "$f" "$f.orig" || fail "$f was changed by being refused"
    [ ! -e "$f-wal" ] && [ ! -e "$f-shm" ] || fail "$f: WAL files were made"
done

# An SQLite file with no tables is an empty database: dml's to use.
sqlite3 empty.db "CREATE TABLE t (x); DROP TABLE t"
"$DML_BIN/dml-plan" "${plan[@]}" --db empty.db >/dev/null \
    || fail "an empty SQLite database was refused"

# A corrupt page (the hosts table's, which dml-plan never touches).
"$DML_BIN/dml-plan" "${plan[@]}" --db corrupt.db >/dev/null
page=$(sqlite3 corrupt.db "SELECT rootpage FROM sqlite_schema WHERE name = 'hosts'")
size=$(sqlite3 corrupt.db "PRAGMA page_size")
python3 - corrupt.db "$page" "$size" <<'PY'
import sys
path, page, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(path, "r+b") as f:
    f.seek((page - 1) * size)
    f.write(b"\xff" * 16)
PY
cp corrupt.db corrupt.db.orig
expect 1 "database file is corrupt" "$DML_BIN/dml-plan" --model gpt3-350m \
    --cluster dgx-a100-80g --global-batch 512 --db corrupt.db
cmp -s corrupt.db corrupt.db.orig || fail "the corrupt database was written to"
expect 1 "database file is corrupt" "$DML_BIN/dml-history" --db corrupt.db

# Mounts: root only.
mkdir -p ro-src ro
mounts+=("$scratch/ro")
if ! mount --bind "$scratch/ro-src" "$scratch/ro" 2>/dev/null; then
    echo "skipped: read-only mount and full disk (mount not permitted)"
    echo ok
    exit 0
fi
"$DML_BIN/dml-plan" "${plan[@]}" --db ro-src/dml.db >/dev/null
[ "$(head -c 20 ro-src/dml.db | tail -c 2 | od -An -tu1 | tr -s ' ')" = " 2 2" ] \
    || fail "the database is not in WAL mode"
mount -o remount,ro,bind "$scratch/ro"
"$DML_BIN/dml-history" --db ro/dml.db >out 2>err \
    || { cat err >&2; fail "dml-history cannot read a WAL database on a read-only mount"; }
grep -q 'gpt3-125m' out || fail "dml-history on a read-only mount lists no plan"
expect 1 "folder is not writable" "$DML_BIN/dml-plan" "${plan[@]}" --db ro/dml.db

mkdir full
mounts+=("$scratch/full")
# room for one fresh database with its plans, its write-ahead log before
# the first checkpoint included (schema 5's views need more than 256k,
# schema 12's tables more than 384k)
mount -t tmpfs -o size=512k tmpfs "$scratch/full"
"$DML_BIN/dml-plan" "${plan[@]}" --db full/dml.db >/dev/null
dd if=/dev/zero of=full/filler bs=4k 2>/dev/null || true
expect 1 "full/dml.db: " "$DML_BIN/dml-plan" --model gpt3-350m \
    --cluster dgx-a100-80g --global-batch 512 --db full/dml.db
grep -q "no space left on device" err || { cat err >&2; fail "a full disk is not called one"; }
expect 1 "no space left on device" "$DML_BIN/dml-plan" "${plan[@]}" \
    --db full/new.db
echo ok
