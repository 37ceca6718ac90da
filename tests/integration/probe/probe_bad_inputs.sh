# Bad inputs to dml-probe: exit 2, one clear line, nothing left behind.
. "$(dirname "$0")/lib.sh"
cd "$scratch"
db=$scratch/p.db

expect_exit 2 "$DML_BIN/dml-probe" --topology-xml "$scratch/missing.xml" --db "$db"
one_line; grep -q 'missing.xml' err || fail "names the missing XML file"
[ ! -e "$db" ] || fail "no database created for a missing XML"

expect_exit 2 "$DML_BIN/dml-probe" --synthetic "pack:x core:zz" --db "$db"
one_line; grep -qi 'synthetic' err || fail "says the synthetic string is bad"
[ ! -e "$db" ] || fail "no database created for a bad synthetic string"

echo '<?xml version="1.0"?><topology><object' > "$scratch/broken.xml"
expect_exit 2 "$DML_BIN/dml-probe" --topology-xml "$scratch/broken.xml" --db "$db"
one_line; grep -q 'broken.xml' err || fail "names the malformed XML file"

expect_exit 2 "$DML_BIN/dml-probe" --quick --out "$scratch/no/such/dir/c.json" --db "$db"
one_line; grep -q 'c.json' err || fail "names the unwritable --out"
[ ! -e "$db" ] || fail "no database created for an unwritable --out"
[ -z "$(ls "$scratch" | grep -v -e '^err$' -e '^out$' -e '^broken.xml$')" ] || fail "nothing left behind: $(ls "$scratch")"

printf 'this is not a database\n' > "$scratch/text.db"
cp "$scratch/text.db" "$scratch/text.orig"
expect_exit 2 "$DML_BIN/dml-probe" --quick --db "$scratch/text.db"
one_line; grep -q 'text.db' err || fail "names the file that is not a database"
cmp -s "$scratch/text.db" "$scratch/text.orig" || fail "the non-database file is unchanged"
[ ! -e "$scratch/text.db-wal" ] || fail "no WAL file next to it"

expect_exit 2 "$DML_BIN/dml-probe" --no-such-option
one_line
expect_exit 0 "$DML_BIN/dml-probe" --help
grep -q -- '--quick' out || fail "--help lists --quick"
expect_exit 0 "$DML_BIN/dml-probe" --version
grep -q 'dml-probe' out || fail "--version names the tool"
echo "ok"
