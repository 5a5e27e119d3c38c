#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Suite e2e-webrtc: WHEP signalling and WebRTC viewers for real, across two network namespaces
(tests/webrtc/netns.py). The viewers are Debian's python3-aiortc (tests/webrtc/whep_client.py)
and headless Chromium. Needs root (namespaces), iproute2, python3-aiortc, chromium; a missing one
fails the suite, never skips it."""
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import unittest
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from netns import CLIENT_ADDRESS, SERVER_ADDRESS, NetnsPair  # noqa: E402

BUILD = os.environ.get("CAMRELAY_BUILD_ROOT", os.path.join(HERE, "..", "..", "build"))
SOURCE = os.environ.get("CAMRELAY_SOURCE_ROOT", os.path.join(HERE, "..", ".."))
CLIENT = os.path.join(HERE, "whep_client.py")
MANY = os.path.join(HERE, "many_viewers.py")


class Lines:
    """A child process whose stdout lines are read by a thread into a queue."""

    def __init__(self, argv, **kw):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, **kw)
        self.lines = queue.Queue()
        self.all = []
        self.err = []
        threading.Thread(target=self._read, args=(self.proc.stdout, True), daemon=True).start()
        threading.Thread(target=self._read, args=(self.proc.stderr, False), daemon=True).start()

    def _read(self, stream, out):
        for line in stream:
            if out:
                self.lines.put(line.rstrip("\n"))
            else:
                self.err.append(line)

    def expect(self, pred, timeout):
        """The first line (from now on) for which pred holds, or None after timeout seconds."""
        end = time.time() + timeout
        while time.time() < end:
            try:
                line = self.lines.get(timeout=max(0.05, end - time.time()))
            except queue.Empty:
                return None
            self.all.append(line)
            if pred(line):
                return line
        return None

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except Exception:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                pipe.close()
            except Exception:
                pass


def http(method, url, body=None, headers=None, auth=None, timeout=15):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    if auth:
        import base64
        req.add_header("Authorization", "Basic " + base64.b64encode(
            f"{auth[0]}:{auth[1]}".encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def run_client(net, url, seconds, *extra):
    """aiortc in the client namespace; returns its JSON events."""
    argv = net.run_in(net.client) + ["/usr/bin/python3", CLIENT, url, "--seconds", str(seconds),
                                     *extra]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    events = []
    for line in r.stdout.splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            pass
    return events, r


def frames_of(events):
    return [e for e in events if e.get("event") == "frame"]


class WhepEndpointTest(unittest.TestCase):
    """The WHEP endpoint alone (tests/webrtc/whepserve.cpp: x264enc of a 640x480 10 fps test
    picture), with viewer credentials."""

    @classmethod
    def setUpClass(cls):
        cls.net = NetnsPair()
        try:
            cls.serve = Lines(cls.net.run_in(cls.net.server) + [
                os.path.join(BUILD, "tests", "whepserve"), SERVER_ADDRESS, "8080", "/whep/cam",
                "640", "480", "10", "viewer", "pw"])
            line = cls.serve.expect(lambda l: l.startswith("listening"), 20)
            if not line:
                raise RuntimeError("whepserve did not start: " + "".join(cls.serve.err))
        except Exception:
            cls.net.close()
            raise
        cls.base = f"http://{SERVER_ADDRESS}:8080"

    @classmethod
    def tearDownClass(cls):
        cls.serve.stop()
        cls.net.close()
        if cls.serve.proc.returncode != 0:
            raise AssertionError(f"whepserve exited with {cls.serve.proc.returncode}:\n" +
                                 "".join(cls.serve.err[-60:]))

    def curl(self, *args):
        """curl in the client namespace: status line and headers."""
        r = subprocess.run(self.net.run_in(self.net.client) + [
            "curl", "-s", "-o", "/dev/null", "-D", "-", "--max-time", "10", *args],
            capture_output=True, text=True)
        return r.stdout

    def test_signalling_answers(self):
        url = self.base + "/whep/cam"
        sdp = "v=0\r\n"
        # No credentials: 401, like every page; the body is never read.
        self.assertIn(" 401", self.curl("-X", "POST", "-H", "Content-Type: application/sdp",
                                        "--data-binary", sdp, url).splitlines()[0])
        # A wrong type: 415.
        self.assertIn(" 415", self.curl("-u", "viewer:pw", "-X", "POST", "-H",
                                        "Content-Type: text/plain", "--data-binary", sdp,
                                        url).splitlines()[0])
        # Not an offer with H.264: 400.
        self.assertIn(" 400", self.curl("-u", "viewer:pw", "-X", "POST", "-H",
                                        "Content-Type: application/sdp", "--data-binary", sdp,
                                        url).splitlines()[0])
        # An unknown camera: 404.
        self.assertIn(" 404", self.curl("-u", "viewer:pw", "-X", "POST", "-H",
                                        "Content-Type: application/sdp", "--data-binary", sdp,
                                        self.base + "/whep/nope").splitlines()[0])
        # An unknown session: 404.
        self.assertIn(" 404", self.curl("-u", "viewer:pw", "-X", "DELETE",
                                        url + "/0123456789abcdef").splitlines()[0])
        # A CORS preflight carries no credentials and gets its answer.
        head = self.curl("-X", "OPTIONS", "-H", "Origin: http://elsewhere.example",
                         "-H", "Access-Control-Request-Method: POST",
                         "-H", "Access-Control-Request-Headers: authorization, content-type", url)
        self.assertIn(" 204", head.splitlines()[0])
        low = head.lower()
        self.assertIn("access-control-allow-origin: *", low)
        self.assertIn("access-control-allow-methods: options, post", low)
        self.assertIn("authorization", low.split("access-control-allow-headers:")[1].split("\n")[0])
        self.assertIn("accept-post: application/sdp", low)

    def test_viewer_gets_frames_and_delete_ends(self):
        events, r = run_client(self.net, self.base + "/whep/cam", 4, "--user", "viewer",
                               "--password", "pw")
        answer = [e for e in events if e.get("event") == "answer"]
        self.assertTrue(answer, r.stdout + r.stderr)
        self.assertEqual(answer[0]["status"], 201)
        self.assertEqual(answer[0]["content_type"], "application/sdp")
        self.assertRegex(answer[0]["location"], r"^/whep/cam/[0-9a-f]{32}$")
        frames = frames_of(events)
        self.assertGreater(len(frames), 0, r.stdout + r.stderr)
        self.assertEqual((frames[-1]["w"], frames[-1]["h"]), (640, 480))
        span = frames[-1]["t"] - frames[0]["t"]
        rate = (len(frames) - 1) / span if span > 0 else 0
        self.assertGreater(rate, 8, f"{len(frames)} frames in {span:.2f} s")
        self.assertLess(rate, 12, f"{len(frames)} frames in {span:.2f} s")
        deleted = [e for e in events if e.get("event") == "deleted"]
        self.assertEqual(deleted[0]["status"], 200)
        # The session left the encoder's feed.
        self.assertIsNotNone(self.serve.expect(lambda l: l == "subscribers 0", 10),
                             "\n".join(self.serve.all))


CAMERA = os.path.join(HERE, "colour_camera.py")
RELAY_PORT = 8080

# The generated pipeline: jpegfallback's output (live frames, the placeholder while offline) teed
# to the MJPEG sink and to h264relaysink, whose encoder RTSP and WebRTC viewers share.
RELAY_CONFIG = """
[server]
address = 0.0.0.0
port = {port}
{server_extra}
[camera cam]
timeout = 2
placeholder = {placeholder}
{camera_extra}
"""


def is_red(rgb):
    return rgb[0] > 150 and rgb[1] < 80 and rgb[2] < 80


def is_blue(rgb):
    return rgb[2] > 150 and rgb[0] < 80


def is_placeholder(rgb):
    # placeholder.jpg's centre: dark grey-blue text on dark grey (mean about 57, 58, 69).
    return max(rgb) < 110 and abs(rgb[0] - rgb[1]) < 30


class Relay:
    """camrelay in the server namespace with RELAY_CONFIG."""

    def __init__(self, net, tmp, server_extra="", camera_extra=""):
        import shutil
        self.net = net
        placeholder = os.path.join(tmp, "placeholder.jpg")
        shutil.copy(os.path.join(SOURCE, "placeholder.jpg"), placeholder)
        self.conf = os.path.join(tmp, "relay.conf")
        with open(self.conf, "w") as f:
            f.write(RELAY_CONFIG.format(port=RELAY_PORT, placeholder=placeholder,
                                        server_extra=server_extra, camera_extra=camera_extra))
        env = dict(os.environ, G_MESSAGES_DEBUG="camrelay", GST_DEBUG="whep:4")
        self.proc = subprocess.Popen(
            net.run_in(net.server) + [os.path.join(BUILD, "pipeline", "camrelay"),
                                      "--config", self.conf],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        self.log = []
        self._started = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        if not self._started.wait(90) or self.proc.poll() is not None:
            self.stop()
            raise RuntimeError("camrelay did not start:\n" + "".join(self.log[-30:]))

    def _read(self):
        for line in self.proc.stdout:
            self.log.append(line)
            if " listening on " in line:
                self._started.set()
        self._started.set()  # exited: the waiter looks at the exit status

    def status(self):
        r = subprocess.run(self.net.run_in(self.net.server) + [
            "curl", "-s", "--max-time", "5", f"http://127.0.0.1:{RELAY_PORT}/status"],
            capture_output=True, text=True)
        return json.loads(r.stdout)

    def camera_status(self):
        return [c for c in self.status()["cameras"] if c["name"] == "cam"][0]

    def metrics(self):
        return subprocess.run(self.net.run_in(self.net.server) + [
            "curl", "-s", "--max-time", "5", f"http://127.0.0.1:{RELAY_PORT}/metrics"],
            capture_output=True, text=True).stdout

    def stop(self):
        """Ends camrelay as systemd would (SIGTERM) and fails if it did not exit cleanly: under
        the sanitizers a leak or an error report makes the exit status non-zero."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("camrelay did not stop within 30 s of SIGTERM")
        self.proc.stdout.close()
        if self.proc.returncode != 0:
            time.sleep(0.5)  # the reader thread takes the last lines
            raise AssertionError(f"camrelay exited with {self.proc.returncode}:\n" +
                                 "".join(self.log[-60:]))


def start_camera(net, *args):
    return Lines(net.run_in(net.server) + [
        "/usr/bin/python3", CAMERA, f"ws://127.0.0.1:{RELAY_PORT}/ws/cam", *args])


def wait_for(pred, timeout, step=0.2):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


class RelayWebRtcTest(unittest.TestCase):
    """The camrelay program: a pushed camera watched over WebRTC by aiortc."""

    def setUp(self):
        import tempfile
        self.tmp = tempfile.TemporaryDirectory()
        self.net = NetnsPair()
        self.addCleanup(self.net.close)
        self.addCleanup(self.tmp.cleanup)
        self.relay = Relay(self.net, self.tmp.name)
        self.addCleanup(self.relay.stop)
        self.url = f"http://{SERVER_ADDRESS}:{RELAY_PORT}/whep/cam"

    def camera(self, *args):
        cam = start_camera(self.net, *args)
        self.addCleanup(cam.stop)
        self.addCleanup(lambda: cam.proc.poll() is None and cam.proc.kill())
        self.assertIsNotNone(cam.expect(lambda l: l.startswith("{"), 20), "".join(cam.err))
        return cam

    def test_live_frames_then_placeholder_then_delete(self):
        cam = self.camera("--fps", "10", "--size", "640x480")
        client = Lines(self.net.run_in(self.net.client) + [
            "/usr/bin/python3", CLIENT, self.url, "--seconds", "12"])
        self.addCleanup(client.stop)
        frames = []

        def frame():
            line = client.expect(lambda l: '"frame"' in l or '"error"' in l, 30)
            self.assertIsNotNone(line, "no frame; relay log:\n" + "".join(self.relay.log[-20:]))
            e = json.loads(line)
            self.assertEqual(e["event"], "frame", line)
            frames.append(e)
            return e

        # Live: red at the camera's size, at its rate.
        first = frame()
        self.assertEqual((first["w"], first["h"]), (640, 480))
        self.assertTrue(is_red(first["rgb"]), first)
        while frames[-1]["t"] - first["t"] < 3:
            self.assertTrue(is_red(frame()["rgb"]), frames[-1])
        rate = (len(frames) - 1) / (frames[-1]["t"] - first["t"])
        self.assertGreater(rate, 8.5, f"{len(frames)} frames")
        self.assertLess(rate, 11.5, f"{len(frames)} frames")
        st = self.relay.camera_status()["webrtc"]
        self.assertEqual((st["sessions"], st["connected"]), (1, 1), st)
        self.assertGreater(st["bytes_out"], 10000, st)
        # The camera stops: the placeholder comes within the camera's timeout (2 s) and a bit.
        stopped = time.time()
        cam.proc.kill()
        while not is_placeholder(frame()["rgb"]):
            self.assertLess(frames[-1]["t"] - stopped, 6, frames[-1])
        # DELETE (the client's, at its end) ends the session.
        end = client.expect(lambda l: '"deleted"' in l, 30)
        self.assertIsNotNone(end)
        self.assertEqual(json.loads(end)["status"], 200)
        self.assertTrue(wait_for(lambda: self.relay.camera_status()["webrtc"]["sessions"] == 0,
                                 10), self.relay.camera_status()["webrtc"])
        self.assertIn('camrelay_camera_webrtc_sessions_total{camera="cam"} 1', self.relay.metrics())

    def clients(self, n, seconds, *extra):
        out = []
        for _ in range(n):
            c = Lines(self.net.run_in(self.net.client) + [
                "/usr/bin/python3", CLIENT, self.url, "--seconds", str(seconds), *extra])
            self.addCleanup(c.stop)
            out.append(c)
        return out

    def test_many_sessions_share_one_encoder(self):
        self.camera("--fps", "10", "--size", "320x240")
        viewers = self.clients(4, 8)
        for v in viewers:
            line = v.expect(lambda l: '"frame"' in l or '"error"' in l, 40)
            self.assertIsNotNone(line, "".join(v.err))
            e = json.loads(line)
            self.assertEqual((e["event"], e["w"], e["h"]), ("frame", 320, 240), line)
        st = self.relay.camera_status()
        self.assertEqual(st["webrtc"]["sessions"], 4, st["webrtc"])
        self.assertEqual(st["h264"]["consumers"]["webrtc"], 4, st["h264"])
        self.assertTrue(st["h264"]["encoder_running"], st["h264"])
        self.assertEqual(st["h264"]["encoder_starts"], 1, st["h264"])
        # Each keeps getting frames at the camera's rate from the one encoder.
        for v in viewers:
            self.assertIsNotNone(v.expect(lambda l: '"deleted"' in l, 40), "".join(v.err))
            frames = [json.loads(l) for l in v.all if '"frame"' in l]
            span = frames[-1]["t"] - frames[0]["t"]
            self.assertGreater((len(frames) - 1) / span, 8, f"{len(frames)} in {span:.1f} s")
        self.assertTrue(wait_for(lambda: self.relay.camera_status()["webrtc"]["sessions"] == 0,
                                 10))
        self.assertEqual(self.relay.camera_status()["h264"]["encoder_starts"], 1)

    def test_twenty_rtsp_and_twenty_webrtc_viewers_share_one_encoder(self):
        """Issue 18: twenty RTSP and twenty WebRTC viewers of one camera, one encoder. Each
        viewer is a real client decoding every frame (tests/webrtc/many_viewers.py: GStreamer's
        rtspsrc, half TCP and half UDP; aiortc)."""
        self.camera("--fps", "10", "--size", "320x240")
        groups = []
        for kind, url in (("rtsp", f"rtsp://{SERVER_ADDRESS}:8554/cam"), ("whep", self.url)):
            g = Lines(self.net.run_in(self.net.client) + [
                "/usr/bin/python3", MANY, kind, url, "--count", "20"])
            self.addCleanup(g.stop)
            groups.append(g)
        for g in groups:
            line = g.expect(lambda l: '"ready"' in l or '"error"' in l, 90)
            self.assertIsNotNone(line, "".join(g.err[-20:]) + "\n".join(g.all[-5:]))
            self.assertIn('"ready"', line)
        # All forty decode at once: the camera's status shows them on one encoder.
        st = self.relay.camera_status()
        h = st["h264"]
        self.assertEqual((h["rtsp_viewers"], h["consumers"]["webrtc"]), (20, 20), h)
        self.assertEqual(h["consumers"]["rtsp"], 1, h)  # the RTSP viewers' one shared media
        self.assertEqual(st["webrtc"]["sessions"], 20, st["webrtc"])
        self.assertTrue(h["encoder_running"], h)
        self.assertEqual(h["encoder_starts"], 1, h)
        # Each keeps decoding at about the camera's rate while all forty watch.
        time.sleep(3)  # a measuring window, not a wait for a condition
        self.assertEqual(self.relay.camera_status()["h264"]["encoder_starts"], 1)
        for g, kind in zip(groups, ("rtsp", "whep")):
            g.proc.stdin.close()
            line = g.expect(lambda l: '"report"' in l or '"error"' in l, 30)
            self.assertIsNotNone(line, "".join(g.err[-20:]))
            report = json.loads(line)
            self.assertEqual(report["event"], "report", line)
            for i, v in enumerate(report["viewers"]):
                self.assertEqual((v["w"], v["h"]), (320, 240), f"{kind} {i}: {v}")
                rate = v["frames"] / v["seconds"]
                self.assertGreater(rate, 5, f"{kind} viewer {i}: {v}")
            rates = sorted(v["frames"] / v["seconds"] for v in report["viewers"])
            print(f"{kind}: 20 viewers decoding {rates[0]:.1f}-{rates[-1]:.1f} fps",
                  file=sys.stderr)

    def test_bad_offers_are_counted_and_logged_once(self):
        def post(ctype, body):
            r = subprocess.run(self.net.run_in(self.net.client) + [
                "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10",
                "-H", "Content-Type: " + ctype, "--data-binary", body, self.url],
                capture_output=True, text=True)
            return r.stdout
        for _ in range(3):
            self.assertEqual(post("application/sdp", "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\n"),
                             "400")
        self.assertEqual(post("text/plain", "hello"), "415")
        st = self.relay.camera_status()["webrtc"]
        self.assertEqual((st["bad_offers"], st["sessions"]), (4, 0), st)
        self.assertIn('camrelay_camera_webrtc_bad_offers_total{camera="cam"} 4',
                      self.relay.metrics())
        refusals = [l for l in self.relay.log if "an offer from" in l]
        self.assertEqual(len(refusals), 2, "".join(refusals))  # once per cause

    def test_camera_removed_by_reload_ends_its_sessions(self):
        self.camera("--fps", "10", "--size", "320x240")
        (viewer,) = self.clients(1, 60, "--no-delete")
        self.assertIsNotNone(viewer.expect(lambda l: '"frame"' in l, 40), "".join(viewer.err))
        with open(self.relay.conf) as f:
            text = f.read()
        with open(self.relay.conf, "w") as f:
            f.write(text.replace("[camera cam]", "[camera other]"))
        self.relay.proc.send_signal(signal.SIGHUP)
        self.assertTrue(wait_for(lambda: any("ends: the camera was removed" in l
                                             for l in self.relay.log), 20),
                        "".join(self.relay.log[-20:]))
        # Its WHEP URL is gone with it; the new camera has its own.
        r = subprocess.run(self.net.run_in(self.net.client) + [
            "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", "-X",
            "OPTIONS", self.url, self.url.replace("/cam", "/other")],
            capture_output=True, text=True)
        self.assertEqual(r.stdout, "404204")

    def test_vanished_viewer_session_ends(self):
        self.camera("--fps", "10", "--size", "320x240")
        (viewer,) = self.clients(1, 60, "--no-delete")
        self.assertIsNotNone(viewer.expect(lambda l: '"frame"' in l, 40), "".join(viewer.err))
        self.assertEqual(self.relay.camera_status()["webrtc"]["connected"], 1)
        # Gone without a DELETE (a closed laptop): ICE notices, the session ends.
        viewer.proc.kill()
        gone = time.time()
        self.assertTrue(wait_for(lambda: self.relay.camera_status()["webrtc"]["sessions"] == 0,
                                 90), self.relay.camera_status()["webrtc"])
        print(f"vanished viewer's session ended after {time.time() - gone:.1f} s", file=sys.stderr)
        self.assertEqual(self.relay.camera_status()["webrtc"]["failed"], 1)


class RelayMaxViewersTest(unittest.TestCase):
    def test_sessions_over_max_viewers_get_503(self):
        import tempfile
        tmp = tempfile.TemporaryDirectory()
        net = NetnsPair()
        self.addCleanup(net.close)
        self.addCleanup(tmp.cleanup)
        relay = Relay(net, tmp.name, camera_extra="max-viewers = 1")
        self.addCleanup(relay.stop)
        cam = start_camera(net, "--fps", "10", "--size", "320x240")
        self.addCleanup(cam.stop)
        url = f"http://{SERVER_ADDRESS}:{RELAY_PORT}/whep/cam"
        first = Lines(net.run_in(net.client) + ["/usr/bin/python3", CLIENT, url, "--seconds", "20"])
        self.addCleanup(first.stop)
        self.assertIsNotNone(first.expect(lambda l: '"frame"' in l, 40), "".join(first.err))
        events, r = run_client(net, url, 2)
        answer = [e for e in events if e.get("event") == "answer"]
        self.assertTrue(answer, r.stdout + r.stderr)
        self.assertEqual(answer[0]["status"], 503)
        self.assertEqual(relay.camera_status()["webrtc"]["refused"], 1)


class RtspOffTest(unittest.TestCase):
    """rtsp-port = 0 turns RTSP off, and only RTSP: WHEP (and /view's WebRTC) keep the camera's
    H.264 branch."""

    def test_webrtc_plays_without_rtsp(self):
        import tempfile
        tmp = tempfile.TemporaryDirectory()
        net = NetnsPair()
        self.addCleanup(net.close)
        self.addCleanup(tmp.cleanup)
        relay = Relay(net, tmp.name, server_extra="rtsp-port = 0")
        self.addCleanup(relay.stop)
        cam = start_camera(net, "--fps", "10", "--size", "320x240")
        self.addCleanup(cam.stop)
        self.assertIsNotNone(cam.expect(lambda l: l.startswith("{"), 20), "".join(cam.err))
        events, r = run_client(net, f"http://{SERVER_ADDRESS}:{RELAY_PORT}/whep/cam", 3)
        answer = [e for e in events if e.get("event") == "answer"]
        self.assertTrue(answer, r.stdout + r.stderr)
        self.assertEqual(answer[0]["status"], 201, answer[0])
        frames = frames_of(events)
        self.assertGreater(len(frames), 10, r.stdout[-2000:])
        self.assertEqual((frames[-1]["w"], frames[-1]["h"]), (320, 240))
        # Nothing serves RTSP: no listener on the default port 8554 (the other listeners are the
        # HTTP port and libnice's ICE-TCP candidates).
        ss = subprocess.run(net.run_in(net.server) + ["ss", "-Hltn"], capture_output=True,
                            text=True, check=True).stdout
        ports = {line.split()[3].rsplit(":", 1)[1] for line in ss.splitlines() if line.strip()}
        self.assertIn(str(RELAY_PORT), ports, ss)
        self.assertNotIn("8554", ports, ss)
        self.assertEqual(relay.camera_status()["h264"]["rtsp_viewers"], 0)


class RelayNatTest(unittest.TestCase):
    """camrelay behind a 1:1 NAT: viewers reach it at 10.77.0.3, which the server's namespace
    forwards to its own 10.77.0.1 (nft DNAT). webrtc-address announces the outside address and
    webrtc-ports keeps the ICE agents to a published range."""

    def test_announced_address_and_port_range(self):
        import tempfile
        tmp = tempfile.TemporaryDirectory()
        net = NetnsPair()
        self.addCleanup(net.close)
        self.addCleanup(tmp.cleanup)
        outside = "10.77.0.3"
        for rule in (["add", "table", "ip", "crnat"],
                     ["add", "chain", "ip", "crnat", "pre",
                      "{ type nat hook prerouting priority -100; }"],
                     ["add", "rule", "ip", "crnat", "pre", "ip", "daddr", outside, "dnat", "to",
                      SERVER_ADDRESS]):
            subprocess.run(net.run_in(net.server) + ["nft", *rule], check=True)
        subprocess.run(["ip", "-n", net.client, "neigh", "add", outside, "lladdr",
                        net.mac(net.server, net.server_dev), "dev", net.client_dev], check=True)
        relay = Relay(net, tmp.name,
                      server_extra=f"webrtc-ports = 50000-50009\nwebrtc-address = {outside}")
        self.addCleanup(relay.stop)
        cam = start_camera(net, "--fps", "10", "--size", "320x240")
        self.addCleanup(cam.stop)
        events, r = run_client(net, f"http://{outside}:{RELAY_PORT}/whep/cam", 3)
        answer = [e for e in events if e.get("event") == "answer"]
        self.assertTrue(answer and answer[0]["status"] == 201, r.stdout + r.stderr)
        cands = answer[0]["candidates"]
        self.assertTrue(cands, answer[0])
        for c in cands:
            f = c.split()
            self.assertEqual(f[4], outside, c)
            self.assertTrue(50000 <= int(f[5]) <= 50009, c)
        self.assertGreater(len(frames_of(events)), 10, r.stdout[-2000:])


class ConfigTest(unittest.TestCase):
    """[server] WebRTC keys: a bad value is refused with the key named (exit 2), like every key."""

    def check(self, server_lines):
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            conf = os.path.join(d, "c.conf")
            with open(conf, "w") as f:
                f.write("[server]\nport = 0\n" + server_lines + "\n[camera cam]\nplaceholder = " +
                        os.path.join(SOURCE, "placeholder.jpg") + "\n")
            return subprocess.run([os.path.join(BUILD, "pipeline", "camrelay"), "--config", conf,
                                   "--check"], capture_output=True, text=True, timeout=60)

    def test_bad_values_name_their_key(self):
        for line, words in (("webrtc-ports = 60000-50000", "webrtc-ports"),
                            ("webrtc-ports = 50000", "webrtc-ports"),
                            ("webrtc-address = camrelay.lan", "webrtc-address"),
                            ("stun-server = stun.example.net:3478", "stun-server"),
                            ("turn-server = http://turn.example.net", "turn-server")):
            r = self.check(line)
            self.assertEqual(r.returncode, 2, line + r.stdout + r.stderr)
            self.assertIn("[server] " + words, r.stderr, line)
        r = self.check("webrtc-ports = 50000-50100\nwebrtc-address = 203.0.113.7\n"
                       "stun-server = stun://stun.example.net:3478\n"
                       "turn-server = turn://u:p@turn.example.net:3478")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


PROBE = os.path.join(HERE, "view_probe.py")


class ViewWebRtcTest(unittest.TestCase):
    """/view in headless Chromium (the client namespace) plays a camera shown large over WebRTC,
    and falls back to MJPEG when UDP does not get through."""

    def setUp(self):
        import tempfile
        self.tmp = tempfile.TemporaryDirectory()
        self.net = NetnsPair()
        self.addCleanup(self.net.close)
        self.addCleanup(self.tmp.cleanup)
        self.relay = Relay(self.net, self.tmp.name)
        self.addCleanup(self.relay.stop)
        cam = start_camera(self.net, "--fps", "10", "--size", "640x480")
        self.addCleanup(cam.stop)
        self.addCleanup(lambda: cam.proc.poll() is None and cam.proc.kill())
        self.assertIsNotNone(cam.expect(lambda l: l.startswith("{"), 20), "".join(cam.err))

    def probe(self, seconds):
        started = time.time()
        r = subprocess.run(self.net.run_in(self.net.client) + [
            "/usr/bin/python3", PROBE, f"http://{SERVER_ADDRESS}:{RELAY_PORT}/view?camera=cam",
            "--seconds", str(seconds)], capture_output=True, text=True, timeout=seconds + 90)
        samples = [json.loads(l) for l in r.stdout.splitlines() if l.startswith("{")]
        self.assertTrue(samples and "error" not in samples[0], r.stdout + r.stderr)
        return started, samples

    def test_view_plays_over_webrtc(self):
        started, samples = self.probe(10)
        playing = [s for s in samples if s["transport"] == "webrtc"]
        self.assertTrue(playing, json.dumps(samples[-3:]))
        # Within a few seconds of opening the page, and it stays on WebRTC.
        self.assertLess(playing[0]["t"] - started, 15, json.dumps(samples[:6]))
        self.assertEqual(samples[-1]["transport"], "webrtc", json.dumps(samples[-3:]))
        last = playing[-1]
        self.assertEqual((last["w"], last["h"]), (640, 480), last)
        self.assertEqual((last["vw"], last["vh"]), (640, 480), last)
        # Decoded at the camera's rate, measured over the samples.
        span = last["t"] - playing[0]["t"]
        self.assertGreater(span, 3, json.dumps(playing))
        rate = (last["frames"] - playing[0]["frames"]) / span
        self.assertGreater(rate, 8, f"{rate:.1f} fps: {json.dumps(playing)}")
        self.assertLess(rate, 12, f"{rate:.1f} fps: {json.dumps(playing)}")
        # No MJPEG bytes meanwhile: the picture's stream is closed.
        self.assertIsNone(last["img"], last)
        self.assertGreaterEqual(self.relay.camera_status()["webrtc"]["sessions_total"], 1)

    def test_view_falls_back_to_mjpeg_without_udp(self):
        # The client's namespace drops every UDP datagram it would send: ICE cannot connect.
        for rule in (["add", "table", "inet", "crtest"],
                     ["add", "chain", "inet", "crtest", "out",
                      "{ type filter hook output priority 0; }"],
                     ["add", "rule", "inet", "crtest", "out", "meta", "l4proto", "udp", "drop"]):
            subprocess.run(self.net.run_in(self.net.client) + ["nft", *rule], check=True)
        started, samples = self.probe(12)
        fell = [s for s in samples if s["transport"] == "mjpeg"]
        self.assertTrue(fell, json.dumps(samples[-3:]))
        # Within a few seconds of the page being there (the page's own limit is 6 s).
        self.assertLess(fell[0]["t"] - samples[0]["t"], 9, json.dumps(samples))
        self.assertIn("WebRTC", fell[0]["why"])
        self.assertEqual(samples[-1]["transport"], "mjpeg")
        # The MJPEG picture shows (its size known once a frame has been decoded).
        self.assertEqual(samples[-1]["iw"], 640, samples[-1])
        self.assertEqual(samples[-1]["frames"], 0, samples[-1])


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("e2e-webrtc needs root for its network namespaces", file=sys.stderr)
        sys.exit(1)
    unittest.main(verbosity=2)
