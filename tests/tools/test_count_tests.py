#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""tools/count-tests.py against meson log directories written here by hand, in the format of
meson 1.0 (Debian 12): testlog.json, one line per test, and testlog.junit.xml, where a GoogleTest
binary's suites are named "<project>.<test>.<suite>" and every other test is a case of the suite
named after the project. Each kind of result a run can hold is here: passing, failing and skipped
GoogleTest cases, a binary that crashed (no cases at all), a binary whose cases passed but which
failed at exit (a sanitizer report), a test exiting 77 (meson SKIP), a timeout, fuzzer results."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools",
                      "count-tests.py")


def gtest_suite(project, test, suite, cases):
    """cases: (name, "pass" | "fail" | "skip")."""
    body = []
    for name, kind in cases:
        if kind == "pass":
            body.append(f'<testcase name="{name}" status="run" classname="{suite}" />')
        elif kind == "fail":
            body.append(f'<testcase name="{name}" status="run" classname="{suite}">'
                        f'<failure message="a.cpp:3&#10;Failed" type="">a.cpp:3\nFailed'
                        f'</failure></testcase>')
        else:
            body.append(f'<testcase name="{name}" status="run" classname="{suite}">'
                        f'<skipped message="a.cpp:4&#10;ffmpeg is not installed">a.cpp:4\n'
                        f'ffmpeg is not installed</skipped></testcase>')
    return (f'<testsuite name="{project}.{test}.{suite}" tests="{len(cases)}">'
            + "".join(body) + "</testsuite>")


def plain_case(project, test, result):
    inner = {"OK": "", "SKIP": "<skipped />", "FAIL": "<failure />", "TIMEOUT": ""}[result]
    return f'<testcase name="{test}" classname="{project}" time="0.1">{inner}</testcase>'


def write_logdir(root, name, results, gtest_suites, plain):
    """results: meson test name -> meson result; gtest_suites: xml strings; plain: (name,
    result) recorded in the project's suite (tests that are not GoogleTest, and GoogleTest
    binaries that left no XML)."""
    d = os.path.join(root, name)
    os.makedirs(d)
    with open(os.path.join(d, "testlog.json"), "w") as f:
        for test, result in results.items():
            f.write(json.dumps({"name": test, "result": result, "returncode": 0,
                                "stdout": "", "duration": 0.1}) + "\n")
    xml = "<?xml version='1.0' encoding='utf-8'?><testsuites>" + "".join(gtest_suites)
    if plain:
        xml += '<testsuite name="camrelay">' + "".join(
            plain_case("camrelay", t, r) for t, r in plain) + "</testsuite>"
    xml += "</testsuites>"
    with open(os.path.join(d, "testlog.junit.xml"), "w") as f:
        f.write(xml)
    return d


def count(dirs, ci=None):
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    p = subprocess.run([sys.executable, SCRIPT] + dirs, env=env, capture_output=True,
                       text=True, timeout=60)
    return p.returncode, p.stdout


class CountTests(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="count-tests-")
        self.root = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def mixed_run(self):
        """Passing, failing and skipped cases, a crash, a failure at exit, a timeout, exit 77."""
        return write_logdir(self.root, "mixed", {
            "unit": "FAIL",      # Pass, Fail, Skip
            "dead": "FAIL",      # crashed before writing its XML: no cases
            "leaky": "FAIL",     # both cases passed, LeakSanitizer failed it at exit
            "allskip": "OK",     # a binary whose only case skipped exits 0
            "format": "OK",
            "scale": "SKIP",     # exit status 77
            "slow": "TIMEOUT",
        }, [
            gtest_suite("camrelay", "unit", "Unit", [("Pass", "pass"), ("Fail", "fail"),
                                                    ("Skip", "skip")]),
            gtest_suite("camrelay", "leaky", "Leaky", [("A", "pass"), ("B", "pass")]),
            gtest_suite("camrelay", "allskip", "Tool", [("NeedsFfmpeg", "skip")]),
        ], [("dead", "FAIL"), ("format", "OK"), ("scale", "SKIP"), ("slow", "TIMEOUT")])

    def test_every_kind_of_result_counts(self):
        code, out = count([self.mixed_run()])
        lines = out.strip().splitlines()
        # passed: Unit.Pass, Leaky.A, Leaky.B, format; failed: Unit.Fail, dead, leaky, slow.
        self.assertEqual(lines[-1], "4 passed, 4 failed, 3 skipped", out)
        self.assertEqual(code, 1, out)

    def test_each_skip_is_listed_with_its_reason(self):
        _, out = count([self.mixed_run()])
        skipped = [line for line in out.splitlines() if line.startswith("skipped: ")]
        self.assertEqual(len(skipped), 3, out)
        self.assertIn("skipped: unit: Unit.Skip: a.cpp:4 ffmpeg is not installed", skipped)
        self.assertIn("skipped: allskip: Tool.NeedsFfmpeg: a.cpp:4 ffmpeg is not installed",
                      skipped)
        self.assertIn("skipped: scale: exit status 77 (meson SKIP)", skipped)

    def skips_only_run(self):
        return write_logdir(self.root, "skips", {"unit": "OK", "scale": "SKIP"}, [
            gtest_suite("camrelay", "unit", "Unit", [("Pass", "pass"), ("Skip", "skip")]),
        ], [("scale", "SKIP")])

    def test_a_skip_fails_the_run_in_ci(self):
        d = self.skips_only_run()
        code, out = count([d], ci="true")
        self.assertEqual(out.strip().splitlines()[-1], "1 passed, 0 failed, 2 skipped", out)
        self.assertEqual(code, 1, out)
        self.assertIn("a skip fails the run in CI", out)

    def test_a_skip_is_shown_but_passes_outside_ci(self):
        code, out = count([self.skips_only_run()])
        self.assertEqual(out.strip().splitlines()[-1], "1 passed, 0 failed, 2 skipped", out)
        self.assertEqual(code, 0, out)

    def test_a_clean_run_passes_in_ci(self):
        d = write_logdir(self.root, "clean", {"unit": "OK", "format": "OK"}, [
            gtest_suite("camrelay", "unit", "Unit", [("A", "pass"), ("B", "pass")]),
        ], [("format", "OK")])
        code, out = count([d], ci="true")
        self.assertEqual(out.strip().splitlines()[-1], "3 passed, 0 failed, 0 skipped", out)
        self.assertEqual(code, 0, out)

    def test_runs_and_fuzzers_add_up(self):
        a = self.skips_only_run()
        fuzz = os.path.join(self.root, "fuzz")
        os.makedirs(fuzz)
        with open(os.path.join(fuzz, "fuzz-results.txt"), "w") as f:
            f.write("fuzz_jpegcheck OK\nfuzz_wsparser FAIL\n")
        code, out = count([a, fuzz])
        self.assertEqual(out.strip().splitlines()[-1], "2 passed, 1 failed, 2 skipped", out)
        self.assertEqual(code, 1, out)

    def test_a_run_without_a_log_is_a_failure(self):
        empty = os.path.join(self.root, "empty")
        os.makedirs(empty)
        code, out = count([empty])
        self.assertEqual(out.strip().splitlines()[-1], "0 passed, 1 failed, 0 skipped", out)
        self.assertEqual(code, 1, out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
