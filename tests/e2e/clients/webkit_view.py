#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""WebKitGTK (the engine of GNOME Web and of Safari's family) showing URL in a window on the X
display in $DISPLAY; after each of the given delays (ms from the load) it saves a snapshot of the
visible page as OUT-N.png and prints "snapshot N", then quits.
Usage: webkit_view.py URL OUT DELAY_MS..."""
import sys

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("WebKit2", "4.1")
from gi.repository import GLib, Gtk, WebKit2  # noqa: E402

url, out, delays = sys.argv[1], sys.argv[2], [int(d) for d in sys.argv[3:]]
window = Gtk.Window()
window.set_default_size(800, 600)
view = WebKit2.WebView()
window.add(view)
window.show_all()
view.load_uri(url)
pending = len(delays)


def saved(source, result, index):
    global pending
    view.get_snapshot_finish(result).write_to_png("%s-%d.png" % (out, index))
    print("snapshot", index, flush=True)
    pending -= 1
    if pending == 0:
        Gtk.main_quit()


def snapshot(index):
    view.get_snapshot(WebKit2.SnapshotRegion.VISIBLE, WebKit2.SnapshotOptions.NONE, None,
                      saved, index)
    return False


for i, delay in enumerate(delays):
    GLib.timeout_add(delay, snapshot, i)
GLib.timeout_add(max(delays) + 20000, Gtk.main_quit)
Gtk.main()
