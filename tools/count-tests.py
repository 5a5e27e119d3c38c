#!/usr/bin/env python3
"""Prints "N passed, M failed" for a meson test run, counting GoogleTest cases.

Each meson test is a GoogleTest binary; its cases are read from meson's JUnit log. A test binary
that failed without reporting a failing case (a crash, a timeout) counts as one more failure, so a
dead suite can never look green.
"""
import json
import sys
import xml.etree.ElementTree as ET

logdir = sys.argv[1] if len(sys.argv) > 1 else "build/meson-logs"
passed = failed = 0
case_failures = {}
try:
    root = ET.parse(f"{logdir}/testlog.junit.xml").getroot()
    for suite in root.iter("testsuite"):
        name = suite.get("name", "")
        for case in suite.iter("testcase"):
            bad = case.find("failure") is not None or case.find("error") is not None
            if bad:
                failed += 1
                key = name.split(".")[1] if "." in name else name
                case_failures[key] = case_failures.get(key, 0) + 1
            elif case.find("skipped") is None:
                passed += 1
except (OSError, ET.ParseError):
    pass

try:
    with open(f"{logdir}/testlog.json") as f:
        for line in f:
            t = json.loads(line)
            if t["result"] not in ("OK", "EXPECTEDFAIL", "SKIP") and not case_failures.get(t["name"]):
                failed += 1
except OSError:
    failed += 1

print(f"{passed} passed, {failed} failed")
