#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Prints "N passed, M failed, K skipped" over one or more test runs, as its last line.

For a meson log directory, every test meson ran (testlog.json) counts: a GoogleTest binary by its
cases in meson's JUnit log, any other test by its result. A GoogleTest binary that failed without
reporting a failing case (a crash, a timeout, a sanitizer report at exit) counts as one more
failure, so a dead suite can never look green. Skips count on their own line of the total, a
GTEST_SKIP case and a meson SKIP (a test exiting 77) alike, and each one is listed above the total
with its reason: a green run must not hide an untested feature. A directory holding
fuzz-results.txt contributes one result per fuzzer ("name OK" / "name FAIL").

Exit status: 1 if anything failed, or, in CI (environment CI=true), if anything was skipped;
0 otherwise.
"""
import json
import os
import sys
import xml.etree.ElementTree as ET


class Count:
    def __init__(self):
        self.passed = self.failed = 0
        self.skipped = []  # "test: case: reason", listed above the total

    def add(self, other):
        self.passed += other.passed
        self.failed += other.failed
        self.skipped += other.skipped


def gtest_cases(junit_root, project_and_test):
    """The GoogleTest cases of one meson test: meson names their JUnit suites
    "<project>.<test>.<GoogleTest suite>"."""
    cases = []
    for suite in junit_root.iter("testsuite"):
        name = suite.get("name", "")
        if name.startswith(project_and_test + "."):
            gsuite = name[len(project_and_test) + 1:]
            cases += [(gsuite + "." + c.get("name", ""), c) for c in suite.iter("testcase")]
    return cases


def skip_reason(element):
    text = (element.get("message") or element.text or "").strip()
    return " ".join(text.split()) if text else "no reason given"


def project_name(junit_root, names):
    """Meson records tests that are not GoogleTest as cases of a suite named after the project;
    GoogleTest suites are "<project>.<test>.<suite>" for a test in @names."""
    for suite in junit_root.iter("testsuite"):
        name = suite.get("name", "")
        if "." not in name:
            return name
        for test in names:
            marker = "." + test + "."
            if marker in name:
                return name[:name.index(marker)]
    return None


def count_meson(logdir):
    count = Count()
    try:
        with open(os.path.join(logdir, "testlog.json")) as f:
            tests = [json.loads(line) for line in f if line.strip()]
    except (OSError, ValueError) as e:
        print(f"count-tests: {logdir}: no readable testlog.json ({e})")
        count.failed += 1
        return count
    try:
        junit = ET.parse(os.path.join(logdir, "testlog.junit.xml")).getroot()
    except (OSError, ET.ParseError):
        junit = ET.Element("testsuites")
    project = project_name(junit, [t["name"] for t in tests])

    for t in tests:
        name, result = t["name"], t["result"]
        cases = gtest_cases(junit, f"{project}.{name}") if project else []
        failing = 0
        for case_name, case in cases:
            skipped = case.find("skipped")
            if case.find("failure") is not None or case.find("error") is not None:
                failing += 1
            elif skipped is not None:
                count.skipped.append(f"{name}: {case_name}: {skip_reason(skipped)}")
            else:
                count.passed += 1
        count.failed += failing
        if result in ("OK", "EXPECTEDFAIL"):
            if not cases:
                count.passed += 1
        elif result == "SKIP":
            if not cases:
                count.skipped.append(f"{name}: exit status 77 (meson SKIP)")
        elif failing == 0:
            count.failed += 1
    return count


def count_fuzz(path):
    count = Count()
    with open(path) as f:
        for line in f:
            if line.strip().endswith(" OK"):
                count.passed += 1
            elif line.strip():
                count.failed += 1
    return count


def main(dirs):
    total = Count()
    for d in dirs or ["build/meson-logs"]:
        fuzz = os.path.join(d, "fuzz-results.txt")
        total.add(count_fuzz(fuzz) if os.path.exists(fuzz) else count_meson(d))
    for s in total.skipped:
        print(f"skipped: {s}")
    in_ci = os.environ.get("CI", "").lower() == "true"
    if total.skipped and in_ci:
        print(f"count-tests: {len(total.skipped)} skipped: a skip fails the run in CI (CI=true)")
    print(f"{total.passed} passed, {total.failed} failed, {len(total.skipped)} skipped")
    return 1 if total.failed or (total.skipped and in_ci) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
