#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""WebKitGTK (the engine of GNOME Web and of Safari's family) showing URL in a window on the X
display in $DISPLAY. Every INTERVAL_MS it saves a snapshot of the visible page as OUT-N.png and
prints "snapshot N", until it has saved COUNT of them.
Usage: webkit_view.py URL OUT INTERVAL_MS COUNT"""
import sys

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("WebKit2", "4.1")
from gi.repository import GLib, Gtk, WebKit2  # noqa: E402

url, out, interval, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
window = Gtk.Window()
window.set_default_size(800, 600)
view = WebKit2.WebView()
window.add(view)
window.show_all()
view.load_uri(url)
taken = 0


def saved(source, result, index):
    view.get_snapshot_finish(result).write_to_png("%s-%d.png" % (out, index))
    print("snapshot", index, flush=True)
    if index + 1 == count:
        Gtk.main_quit()


def snapshot():
    global taken
    view.get_snapshot(WebKit2.SnapshotRegion.VISIBLE, WebKit2.SnapshotOptions.NONE, None,
                      saved, taken)
    taken += 1
    return taken < count


GLib.timeout_add(interval, snapshot)
Gtk.main()
