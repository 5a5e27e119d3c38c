#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""An RTSP camera for camrelay's tests, from gst-rtsp-server (Debian: gir1.2-gst-rtsp-server-1.0):
/h264 serves H.264, /h265 H.265, /mjpeg JPEG over RTP (4:2:0, as rtpjpegpay needs), both from
videotestsrc (640x480 at 10 fps unless told otherwise).

usage: rtspserver.py PORT [--fps N] [--size WxH] [--pattern NAME]"""

import argparse
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("port", type=int)
    p.add_argument("--fps", type=int, default=10)
    p.add_argument("--size", default="640x480")
    p.add_argument("--pattern", default="ball")
    a = p.parse_args()
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(a.port))
    width, height = a.size.split("x")
    source = ("videotestsrc is-live=true pattern=%s ! video/x-raw,width=%s,height=%s,"
              "framerate=%d/1,format=I420" % (a.pattern, width, height, a.fps))
    mounts = server.get_mount_points()
    for path, tail in (("/h264", "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=%d "
                                 "! rtph264pay name=pay0 pt=96" % a.fps),
                       ("/h265", "x265enc tune=zerolatency speed-preset=ultrafast key-int-max=%d "
                                 "! rtph265pay name=pay0 pt=96" % a.fps),
                       ("/mjpeg", "jpegenc ! rtpjpegpay name=pay0 pt=26")):
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch("( %s ! %s )" % (source, tail))
        factory.set_shared(True)
        mounts.add_factory(path, factory)
    if server.attach(None) == 0:
        sys.exit("cannot listen on port %d" % a.port)
    print("listening", a.port, flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
