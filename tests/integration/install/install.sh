#!/usr/bin/env bash
# cmake --install into a temporary prefix (issue 12): the four tools, the
# presets, the JSON Schemas and the man pages land there; the installed
# dml-plan, run from / with $DML_DATA_DIR unset, finds the installed
# presets (a preset that only the installed copy has is listed, and with
# the source tree's data/ hidden in a mount namespace, where one can be
# made, it still plans); $DML_DATA_DIR still wins; every man page renders
# without a warning.
set -euo pipefail
fail() { echo "FAIL: $*" >&2; exit 1; }

build=$(cd "$DML_BIN/.." && pwd)
src=$DML_SOURCE_DIR
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log" >&2; fail "cmake --install exited $?"; }

for t in dml-probe dml-plan dml-exec dml-history; do
    [ -x "$prefix/bin/$t" ] || fail "bin/$t is not installed"
    [ -f "$prefix/share/man/man1/$t.1" ] || fail "man1/$t.1 is not installed"
done
for f in "$src"/data/models/*.json "$src"/data/clusters/*.json; do
    rel=${f#"$src/data/"}
    cmp -s "$f" "$prefix/share/dml/$rel" || fail "share/dml/$rel is not the preset"
done
for f in "$src"/docs/schemas/*.schema.json; do
    [ -f "$prefix/share/dml/schemas/$(basename "$f")" ] ||
        fail "schema $(basename "$f") is not installed"
done

# A preset only the installed copy has: listing it proves the installed
# folder is read, not the source tree compiled in as the fallback.
sed 's/"name": *"gpt3-125m"/"name": "installed-only"/' \
    "$prefix/share/dml/models/gpt3-125m.json" \
    >"$prefix/share/dml/models/installed-only.json"
out=$(cd / && env -u DML_DATA_DIR -u DML_DB "$prefix/bin/dml-plan" --list-models) ||
    fail "installed dml-plan --list-models exited $?"
grep -q '^installed-only ' <<<"$out" || fail "the installed presets are not the ones listed: $out"
grep -q '^gpt3-175b ' <<<"$out" || fail "gpt3-175b is not listed: $out"
# $DML_DATA_DIR still overrides.
out=$(cd / && DML_DATA_DIR=$src/data "$prefix/bin/dml-plan" --list-models)
! grep -q '^installed-only ' <<<"$out" || fail "\$DML_DATA_DIR did not override the installed presets"

# With the source tree's data/ hidden (a tmpfs over it in a private mount
# namespace), the installed tools plan from the installed presets alone.
if unshare --mount true 2>/dev/null; then
    unshare --mount bash -c '
        set -e
        mount -t tmpfs none "$1/data"
        cd /
        [ ! -e "$1/data/models" ]
        env -u DML_DATA_DIR DML_DB="$2/plan.db" "$3/bin/dml-plan" \
            --model gpt3-175b --cluster dgx-a100-80g --nodes 16 \
            --global-batch 1536 --json >"$2/plan.json"
    ' hide "$src" "$tmp" "$prefix" || fail "the installed dml-plan does not plan with the source tree hidden"
    python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d["plans"], "plans"' \
        "$tmp/plan.json" || fail "no plans from the installed dml-plan"
else
    echo "note: no mount namespace here; the source tree was not hidden"
fi

# Man pages: render without a warning (groff -ww), and with the sections
# a man page has.
for t in dml-probe dml-plan dml-exec dml-history; do
    page=$prefix/share/man/man1/$t.1
    groff -man -Tutf8 -ww -z "$page" 2>"$tmp/warn" || fail "$t.1: groff exited $?"
    [ ! -s "$tmp/warn" ] || { cat "$tmp/warn" >&2; fail "$t.1 renders with warnings"; }
    for s in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" FILES ENVIRONMENT EXAMPLES "SEE ALSO"; do
        grep -q "^\.SH \"\?$s\"\?\$" "$page" || fail "$t.1 has no $s section"
    done
    # every option of --help is in the page
    for opt in $("$prefix/bin/$t" --help | grep -oE -- '--[a-z][a-z-]*' | sort -u); do
        grep -qF -- "${opt//-/\\-}" "$page" || fail "$t.1 does not describe $opt"
    done
done
echo "install: all checks passed"
