#!/usr/bin/python3
# json_schema_check.py SCHEMA [--lines] < OUTPUT
#
# Validate what `ipsec-xdp -j ...` printed against SCHEMA (a file of
# schemas/, draft 2020-12; relative $refs resolve in its folder): one JSON
# document, or with --lines one document per non-empty line (monitor -j).
# Exit 0 if valid, 1 with every violation on stderr, 2 if the input is not
# JSON at all.  Run with Debian's /usr/bin/python3 (python3-jsonschema).
import json
import pathlib
import sys

import jsonschema


def validator(path):
    # every schema of the folder by its $id: a $ref to a sibling resolves
    # there, never on the network
    store = {}
    for f in path.resolve().parent.glob("*.schema.json"):
        s = json.loads(f.read_text())
        jsonschema.Draft202012Validator.check_schema(s)
        store[s["$id"]] = s
    schema = json.loads(path.read_text())

    def offline(uri):
        raise jsonschema.RefResolutionError(f"{uri}: not a schema of {path.parent}")

    resolver = jsonschema.RefResolver.from_schema(
        schema, store=store, handlers={"http": offline, "https": offline})
    return jsonschema.Draft202012Validator(schema, resolver=resolver)


def main():
    if len(sys.argv) < 2:
        print("usage: json_schema_check.py SCHEMA [--lines] < OUTPUT", file=sys.stderr)
        return 2
    v = validator(pathlib.Path(sys.argv[1]))
    text = sys.stdin.read()
    try:
        docs = ([json.loads(l) for l in text.splitlines() if l.strip()]
                if "--lines" in sys.argv[2:] else [json.loads(text)])
    except json.JSONDecodeError as e:
        print(f"not JSON: {e}: {text[:200]!r}", file=sys.stderr)
        return 2
    if not docs:
        print("no JSON document", file=sys.stderr)
        return 2
    bad = 0
    for n, d in enumerate(docs, 1):
        for err in v.iter_errors(d):
            where = "/".join(str(p) for p in err.absolute_path) or "(top)"
            print(f"document {n}: {where}: {err.message}", file=sys.stderr)
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
