#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Saves the whole screen of X display DISPLAY (Xvfb) as a PNG.  Usage: x11shot.py DISPLAY OUT"""
import sys

from PIL import ImageGrab

ImageGrab.grab(xdisplay=sys.argv[1]).save(sys.argv[2])
