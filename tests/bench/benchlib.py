# SPDX-License-Identifier: LGPL-2.1-or-later
"""Process handling shared by run-bench.py and smoke.py.

Every server is started in a session of its own and stopped by process
group, so that nothing a benchmark started can outlive it (uvicorn worker
threads, a gst-launch child, a shell a user put in CAMRELAY_CMD).
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time

_started = []


def camrelay_argv(port, build):
    """camrelay's command line: CAMRELAY_CMD, a template with {port}, {placeholder}, {root} and
    {build}, default "{build}/pipeline/camrelay --port {port}". It must exec the server itself."""
    import shlex
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    fields = {"port": port, "placeholder": os.path.join(root, "placeholder.jpg"),
              "root": root, "build": build}
    template = os.environ.get("CAMRELAY_CMD", "{build}/pipeline/camrelay --port {port}")
    return [part.format(**fields) for part in shlex.split(template)]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=15.0):
    """True once @port accepts connections; False if @proc died first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def start(argv, log_path=None, env=None):
    out = open(log_path, "wb") if log_path else subprocess.DEVNULL
    proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, env=env,
                            start_new_session=True)
    if log_path:
        out.close()
    _started.append(proc)
    return proc


def stop(proc, grace=3.0):
    """SIGTERM to the process group, SIGKILL after @grace seconds."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            pass
    # Children may linger after the leader exited: the group goes too.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        pass
    if proc in _started:
        _started.remove(proc)


def stop_all():
    for proc in list(_started):
        stop(proc, grace=1.0)


def install_signal_handlers():
    """SIGINT, SIGTERM and SIGHUP unwind like Ctrl-C, so that finally
    blocks run (SIGINT too: a shell's background job starts with it
    ignored)."""
    def raise_interrupt(signum, frame):
        raise KeyboardInterrupt
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, raise_interrupt)


def raise_nofile():
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def run_loadgen(loadgen, args, timeout):
    """Runs the load generator; returns its JSON object or raises."""
    res = subprocess.run([loadgen] + args, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                         timeout=timeout)
    if res.returncode != 0:
        raise RuntimeError("loadgen exited with %d: %s" % (
            res.returncode, res.stderr.decode(errors="replace").strip()))
    return json.loads(res.stdout.decode().strip().splitlines()[-1])


def python_has(*modules):
    """Whether /usr/bin/python3 can import every module."""
    code = "import " + ", ".join(modules)
    return subprocess.run(["/usr/bin/python3", "-c", code],
                          stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0


def log(msg):
    print(msg, file=sys.stderr, flush=True)
