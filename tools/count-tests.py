#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Prints "N passed, M failed" over one or more test runs.

For a meson log directory, GoogleTest cases are counted from meson's JUnit log; a test binary that
failed without reporting a failing case (a crash, a timeout, a sanitizer report at exit) counts as
one more failure, so a dead suite can never look green. A directory holding fuzz-results.txt
contributes one result per fuzzer ("name OK" / "name FAIL").
"""
import json
import os
import sys
import xml.etree.ElementTree as ET


def count_meson(logdir):
    passed = failed = 0
    failing_cases = {}
    try:
        root = ET.parse(os.path.join(logdir, "testlog.junit.xml")).getroot()
        for suite in root.iter("testsuite"):
            name = suite.get("name", "")
            test = name.split(".")[1] if name.count(".") >= 1 else name
            for case in suite.iter("testcase"):
                if case.find("failure") is not None or case.find("error") is not None:
                    failed += 1
                    failing_cases[test] = failing_cases.get(test, 0) + 1
                elif case.find("skipped") is None:
                    passed += 1
    except (OSError, ET.ParseError):
        pass
    try:
        with open(os.path.join(logdir, "testlog.json")) as f:
            for line in f:
                t = json.loads(line)
                if t["result"] not in ("OK", "EXPECTEDFAIL", "SKIP") and not failing_cases.get(t["name"]):
                    failed += 1
    except OSError:
        failed += 1
    return passed, failed


def count_fuzz(path):
    passed = failed = 0
    with open(path) as f:
        for line in f:
            if line.strip().endswith(" OK"):
                passed += 1
            elif line.strip():
                failed += 1
    return passed, failed


total_passed = total_failed = 0
for d in sys.argv[1:] or ["build/meson-logs"]:
    fuzz = os.path.join(d, "fuzz-results.txt")
    p, f = count_fuzz(fuzz) if os.path.exists(fuzz) else count_meson(d)
    total_passed += p
    total_failed += f
print(f"{total_passed} passed, {total_failed} failed")
