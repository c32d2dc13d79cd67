#!/usr/bin/python3
"""Parse an OpenMetrics exposition (stdin) with prometheus_client's own
parser and check assertions on it, for tests/ns/test_metrics.sh.

  om_check.py 'EXPR' ...   each EXPR is evaluated with v(name, **labels)
                           (the sample's value, None when absent) and
                           fams (family name -> family); all must be true.
A text the parser refuses (bad syntax, no "# EOF") fails with its error.
"""
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families

text = sys.stdin.read()
try:
    fams = {f.name: f for f in text_string_to_metric_families(text)}
except Exception as e:  # the parser's refusal is the finding
    print("not valid OpenMetrics: %s" % e)
    sys.exit(1)


def v(name, **labels):
    for f in fams.values():
        for s in f.samples:
            if s.name == name and all(s.labels.get(k) == str(x) for k, x in labels.items()):
                return s.value
    return None


ok = True
for expr in sys.argv[1:]:
    try:
        res = eval(expr, {"v": v, "fams": fams})
    except Exception as e:
        res = False
        print("%s: %s" % (expr, e))
    if not res:
        print("false: %s" % expr)
        ok = False
sys.exit(0 if ok else 1)
