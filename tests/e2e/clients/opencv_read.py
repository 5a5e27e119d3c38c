#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""OpenCV (cv2.VideoCapture with its FFmpeg backend, as Frigate and most scripts use it) reading
a camrelay stream: prints one line per frame, "frame N WIDTH HEIGHT R G B SECONDS", the colour at
the centre and the time since the first frame, then exits 0; exits 1 if the stream cannot be
opened or a read fails.  Usage: opencv_read.py URL FRAMES"""
import sys
import time

import cv2

capture = cv2.VideoCapture(sys.argv[1], cv2.CAP_FFMPEG)
if not capture.isOpened():
    print("cannot open", sys.argv[1])
    sys.exit(1)
start = None
for i in range(int(sys.argv[2])):
    ok, image = capture.read()
    if not ok:
        print("read failed at frame", i)
        sys.exit(1)
    now = time.monotonic()
    start = start or now
    height, width = image.shape[:2]
    b, g, r = (int(v) for v in image[height // 2, width // 2])
    print("frame %d %d %d %d %d %d %.3f" % (i, width, height, r, g, b, now - start), flush=True)
