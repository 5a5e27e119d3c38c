/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: one writer thread for every jpegrecordsink of the process.
 *
 * A recorded frame is handed over with its arrival time and written a moment later (at most
 * SPOOL_PERIOD_MS), together with every other camera's frames of that moment: a thousand
 * cameras cost one thread and at most ten wake-ups a second, not a thread each and a wake-up per
 * frame (which, measured with 200 cameras at 5 fps, cost more than the writes); while no frame
 * waits, the thread sleeps and costs nothing. The handover never
 * waits for the disk: a sink with more than its share waiting (a slow or stuck disk) has its
 * newest frame dropped and counted, so nothing upstream — the viewers — is ever held up.
 *
 * The thread runs while at least one sink is started (acquire/release), so a process without
 * recording has none, and it is joined when the last sink stops. */
#pragma once

#include <gst/gst.h>

#include <functional>

namespace cr {
namespace record {

/* How long a frame may wait before it is written. */
inline constexpr gint64 SPOOL_PERIOD_MS = 100;

class Spool
{
public:
  /* Writes one frame (called in the writer thread, in the order frames were handed over). */
  using WriteFn = void (*) (gpointer owner, GstBuffer *buffer, GstClockTime wall);

  /* The process's spool, its thread started for one more user. */
  static Spool & acquire ();
  /* One user fewer; the last one ends the thread (after writing what is waiting). */
  static void release ();

  /* Hands @buffer (a reference is taken) over for @owner; false if @owner already has
   * @max_frames or @max_bytes waiting (the frame is not taken). */
  bool push (gpointer owner, WriteFn write, GstBuffer *buffer, GstClockTime wall, guint max_frames,
      gsize max_bytes);
  /* Returns once every frame handed over for @owner so far has been written. */
  void flush (gpointer owner);

private:
  Spool () = default;
};

}  // namespace record
}  // namespace cr
