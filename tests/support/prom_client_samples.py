#!/usr/bin/env python3
"""Prints the samples of a Prometheus text-format file as parsed by Python's
prometheus_client (an independent parser), one JSON object per line:
{"name": ..., "labels": [[name, value], ...], "value": repr(float)}.

The value is Python's repr of the float ("nan", "inf", "-inf", "1e-05", ...), which
round-trips exactly and which Rust's f64 parser reads back. Labels keep written order.
Usage: prom_client_samples.py FILE
"""
import json
import sys

from prometheus_client.parser import text_string_to_metric_families


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as f:
        text = f.read()
    out = sys.stdout
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.write(json.dumps({
                "name": s.name,
                "labels": [[k, v] for k, v in s.labels.items()],
                "value": repr(float(s.value)),
            }))
            out.write("\n")


if __name__ == "__main__":
    main()
