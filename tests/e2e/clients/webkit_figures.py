#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""WebKitGTK showing URL (camrelay's /view) in a window on the X display in $DISPLAY. Every 250 ms
it reads the page's camera figures (their data-camera names, in page order) and prints
"cameras: NAME,NAME..." whenever that list changes, until it is killed.
Usage: webkit_figures.py URL"""
import sys

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("WebKit2", "4.1")
from gi.repository import GLib, Gtk, WebKit2  # noqa: E402

SCRIPT = ("Array.from(document.querySelectorAll('figure[data-camera]'))"
          ".map(f => f.dataset.camera).join(',')")
window = Gtk.Window()
window.set_default_size(800, 600)
view = WebKit2.WebView()
window.add(view)
window.show_all()
view.load_uri(sys.argv[1])
last = None


def done(source, result):
    global last
    try:
        names = view.evaluate_javascript_finish(result).to_string()
    except GLib.Error:
        return
    if names != last:
        last = names
        print("cameras:", names, flush=True)


def look():
    view.evaluate_javascript(SCRIPT, -1, None, None, None, done)
    return True


GLib.timeout_add(250, look)
Gtk.main()
