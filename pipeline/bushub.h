/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: the messages of every camera pipeline's bus, handed to the main thread through
 * one wake-up.
 *
 * A bus watch per pipeline (gst_bus_add_watch) puts one file descriptor per camera into the main
 * context, and GLib walks the list of all of them twice for every message it dispatches (it takes
 * the source's descriptor out while its callback runs): five thousand cameras made each message
 * cost two walks of five thousand, and the state changes of their start kept the main thread busy
 * for a minute (docs/PERFORMANCE.md, "Threads and 5,000 idle cameras"). Here a sync handler on
 * each bus keeps only the kinds a camera acts on (error, warning, end of stream, element
 * messages), queues them for the main thread and drops the rest (state changes, stream-start,
 * latency, new-clock …) where they are posted.
 *
 * Threads: watch() and unwatch() in the main thread; the handler runs in the main thread. */
#pragma once

#include <gst/gst.h>

#include <functional>
#include <memory>

namespace camrelay {

class BusWatch;

/* Main thread. @handler hears @bus's messages of the kinds above, in the main thread, in the
 * order they were posted, until the returned watch is dropped (unwatch()). The first error is
 * also kept by the watch (bus_first_error), where the caller of a failed
 * gst_element_set_state() finds its cause: the bus need not queue anything (a bus without
 * descriptors, enable-async=false, drops whatever its sync handler does not). */
std::shared_ptr<BusWatch> bus_watch (GstBus *bus, std::function<void (GstMessage *)> handler);

/* Any thread: the first error posted on the watched bus (transfer full), or nullptr. */
GstMessage *bus_first_error (const std::shared_ptr<BusWatch> & watch);

/* Main thread. No message reaches the handler from now on, queued ones included. */
void bus_unwatch (std::shared_ptr<BusWatch> & watch);

}  // namespace camrelay
