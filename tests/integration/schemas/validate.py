#!/usr/bin/env python3
"""Validate dml's JSON documents against docs/schemas/ (issue 12).

'check' also refuses a schema without a title or with a property that has
no description.

    validate.py SCHEMA_DIR check KIND FILE [KIND FILE ...]
    validate.py SCHEMA_DIR mutate KIND FILE [KIND FILE ...]

KIND is a schema's name without '.schema.json' (plan-report, exec-run...).
'check' exits 1 naming every document that does not validate. 'mutate'
shows that the check can fail: from each (valid) document it removes every
top-level required field in turn, then the fields of MUST_FAIL below, one
at a time, and exits 1 if any such document still validates. It also puts
an unknown key into objects that are closed and expects that to fail.

Works with the jsonschema of Debian 12 (4.10, RefResolver) and newer ones
(4.18+, the 'referencing' registry).
"""
import copy
import glob
import json
import os
import sys

import jsonschema

# Fields a tool always prints, deep in its document: removing any one must
# make the document invalid. A path is keys and list indices; a path that
# the document does not have is skipped (a history section may be empty),
# but each kind must have at least one that applies.
MUST_FAIL = {
    "probe-report": [["db", "probe_run_id"], ["topology", "cores"],
                     ["gemm", "points"], ["p2p", "levels"],
                     ["collectives", "allreduce", 0, "busbw_Bps"],
                     ["hosts", 0, "triad_Bps"]],
    "plan-report": [["plans", 0, "prediction", "step_s"],
                    ["plans", 0, "parallel", "tp"],
                    ["plans", 0, "schedule", "peak_lr"],
                    ["search", "candidates"], ["why_not", "verdict"],
                    ["tuning", 0, "measured_step_s"]],
    "model-list": [["models", 0, "params"]],
    "cluster-list": [["clusters", 0, "mem_bytes"]],
    "exec-run": [["layout", "dp"], ["losses"], ["median_step_s"]],
    "history": [["probe_runs", 0, "triad_Bps"], ["plans", 0, "parallel"],
                ["runs", 0, "measured_step_s"],
                ["calibrations", 0, "interval_pct"]],
    "plan-file": [["parallel", "dp"], ["schedule", "global_batch"],
                  ["model", "name"], ["cluster", "devices"]],
    "cluster-spec": [["node_groups", 0, "device", "mem_bytes"],
                     ["node_groups", 0, "nodes"]],
    "model-spec": [["name"], ["type"]],
}

# Closed objects: an unknown key added here must make the document fail.
MUST_REFUSE_KEY = {
    "model-list": [["models", 0]],
    "cluster-list": [["clusters", 0]],
    "plan-file": [[], ["schedule"]],
    "cluster-spec": [[], ["node_groups", 0, "device"]],
    "model-spec": [[]],
    "probe-report": [["db"]],
}


def load_schemas(folder):
    schemas = {}
    for path in sorted(glob.glob(os.path.join(folder, "*.schema.json"))):
        with open(path) as f:
            s = json.load(f)
        jsonschema.Draft202012Validator.check_schema(s)
        name = os.path.basename(path)[: -len(".schema.json")]
        if s.get("$id") != "urn:dml:schema:" + name:
            sys.exit(f"{path}: $id is not urn:dml:schema:{name}")
        schemas[name] = s
    return schemas


def undescribed(schema):
    """Properties without a description (their own or their $ref's), the
    conditions of if/then left aside: every field says what it is and its
    unit."""
    defs = schema.get("$defs", {})
    missing = []

    def described(node):
        if "description" in node:
            return True
        ref = node.get("$ref", "")
        return ref.startswith("#/$defs/") and \
            "description" in defs.get(ref.split("/")[-1], {})

    def walk(node, path):
        if isinstance(node, dict):
            for k, v in node.get("properties", {}).items():
                if isinstance(v, dict) and not described(v):
                    missing.append(f"{path}/{k}")
            for k, v in node.items():
                if k != "if":
                    walk(v, f"{path}/{k}")
        elif isinstance(node, list):
            for v in node:
                walk(v, path)

    walk(schema, "")
    return missing


def validators(schemas):
    """One validator per kind, each able to resolve the others' $id."""
    by_id = {s["$id"]: s for s in schemas.values()}
    out = {}
    try:
        from referencing import Registry, Resource
        reg = Registry().with_resources(
            [(i, Resource.from_contents(s)) for i, s in by_id.items()])
        for name, s in schemas.items():
            out[name] = jsonschema.Draft202012Validator(s, registry=reg)
    except ImportError:  # jsonschema < 4.18
        # Its RefResolver joins "#/$defs/x" to the current $id with
        # urllib, which leaves a URN's fragments unresolved unless told
        # that the scheme takes relative references.
        import urllib.parse
        if "urn" not in urllib.parse.uses_relative:
            urllib.parse.uses_relative.append("urn")
        for name, s in schemas.items():
            res = jsonschema.RefResolver.from_schema(s, store=by_id)
            out[name] = jsonschema.Draft202012Validator(s, resolver=res)
    return out


def errors(v, doc):
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '(top)'}: "
            f"{e.message[:200]}" for e in v.iter_errors(doc)]


def get_parent(doc, path):
    """The container holding path's last element, or None."""
    cur = doc
    for p in path[:-1]:
        try:
            cur = cur[p]
        except (KeyError, IndexError, TypeError):
            return None
    if isinstance(path[-1], int):
        return cur if isinstance(cur, list) and len(cur) > path[-1] else None
    return cur if isinstance(cur, dict) and path[-1] in cur else None


def get(doc, path):
    cur = doc
    for p in path:
        try:
            cur = cur[p]
        except (KeyError, IndexError, TypeError):
            return None
    return cur


def mutate(kind, v, schema, doc, where):
    """Return the list of mutations that wrongly still validate."""
    missed, tried = [], 0
    for key in schema.get("required", []):
        if key in doc:
            d = copy.deepcopy(doc)
            del d[key]
            tried += 1
            if not errors(v, d):
                missed.append(f"{where}: without '{key}' still valid")
    applied = 0
    for path in MUST_FAIL.get(kind, []):
        d = copy.deepcopy(doc)
        parent = get_parent(d, path)
        if parent is None:
            continue
        del parent[path[-1]]
        applied += 1
        if not errors(v, d):
            missed.append(f"{where}: without {'.'.join(map(str, path))} "
                          f"still valid")
    for path in MUST_REFUSE_KEY.get(kind, []):
        d = copy.deepcopy(doc)
        obj = get(d, path)
        if not isinstance(obj, dict):
            continue
        obj["no_such_field_x"] = 1
        applied += 1
        if not errors(v, d):
            missed.append(f"{where}: an unknown key in "
                          f"'{'.'.join(map(str, path)) or '(top)'}' "
                          f"still valid")
    return missed, tried + applied, applied


def main():
    if len(sys.argv) < 5 or sys.argv[2] not in ("check", "mutate") or \
            len(sys.argv) % 2 == 0:
        sys.exit(__doc__)
    schemas = load_schemas(sys.argv[1])
    vals = validators(schemas)
    pairs = list(zip(sys.argv[3::2], sys.argv[4::2]))
    bad = []
    if sys.argv[2] == "check":
        for name, s in schemas.items():
            bad += [f"{name}.schema.json: {m} has no description"
                    for m in undescribed(s)]
            if not s.get("title"):
                bad.append(f"{name}.schema.json: no title")
    applied_by_kind = {}
    for kind, path in pairs:
        if kind not in vals:
            sys.exit(f"no schema named {kind} in {sys.argv[1]}")
        with open(path) as f:
            doc = json.load(f)
        if sys.argv[2] == "check":
            errs = errors(vals[kind], doc)
            for e in errs[:10]:
                bad.append(f"{path} ({kind}): {e}")
        else:
            if errors(vals[kind], doc):
                bad.append(f"{path} ({kind}): not valid to begin with")
                continue
            missed, tried, applied = mutate(kind, vals[kind], schemas[kind],
                                            doc, path)
            bad += missed
            applied_by_kind[kind] = applied_by_kind.get(kind, 0) + applied
            if tried == 0:
                bad.append(f"{path} ({kind}): no mutation applied")
    for kind, n in applied_by_kind.items():
        if n == 0:
            bad.append(f"{kind}: none of its deep mutations applied to any "
                       "document")
    for b in bad:
        print("FAIL:", b)
    print(f"{sys.argv[2]}: {len(pairs)} documents, {len(bad)} failures")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
