#!/usr/bin/env bash
# No function of executor/ is longer than 120 lines (issue 13: the
# training loop was cut into parts a reader follows; this keeps it so).
# A function is counted from its opening brace in column 0 to its closing
# brace in column 0, as the project's formatting writes them. Lists each
# function over the limit with its length; exit 1 when there is one.
#   function_length.sh [DIR...]   (default: the source tree's executor/)
set -euo pipefail
src=${DML_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
[ $# -gt 0 ] || set -- "$src/executor"
python3 - "$@" <<'PY'
import pathlib, sys
LIMIT = 120
over = 0
for d in sys.argv[1:]:
    for f in sorted(pathlib.Path(d).rglob("*.c")):
        lines = f.read_text().split("\n")
        start = None
        for i, line in enumerate(lines):
            if line.startswith("{") and start is None:
                start = i
                j = i - 1  # the line holding the function's name
                while j > 0 and (lines[j].startswith(" ") or "(" not in lines[j]):
                    j -= 1
                name = lines[j].split("(")[0].split()[-1].lstrip("*")
            elif line.startswith("}") and start is not None:
                n = i - start + 1
                if n > LIMIT:
                    print(f"{f}:{start + 1}: {name} is {n} lines (limit {LIMIT})")
                    over += 1
                start = None
print(f"{over} function(s) over {LIMIT} lines")
sys.exit(1 if over else 0)
PY
