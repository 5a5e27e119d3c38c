/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: one analysis thread for every jpegmotion of the process.
 *
 * A streaming thread never decodes for motion: it leaves its newest frame in the element's slot
 * and offers the element here; this thread takes the elements in the order they were offered
 * and analyses each one's newest frame. A frame that arrives while the previous one still waits
 * replaces it (counted as skipped), so a thread that cannot keep up with every camera analyses
 * fewer frames, and the live path costs a reference and a lock either way. Elements in motion
 * also ask for a tick at a given time (the end of the hold), which comes even when their camera
 * has stopped sending.
 *
 * The thread runs while at least one element is started (acquire/release), like the recording
 * spool (crrecordspool.h): a process without motion detection has none. */
#pragma once

#include <glib.h>

namespace cr {
namespace motion {

class WorkerAccess;

class Client
{
public:
  virtual ~Client () = default;
  /* In the worker thread: analyse the newest frame. */
  virtual void work () = 0;
  /* In the worker thread: the time asked for with Worker::tick_at has come. */
  virtual void tick () = 0;

private:
  friend class Worker;
  friend class WorkerAccess;
  bool queued_ = false;
  gint64 tick_at_ = 0; /* monotonic µs, 0 = none */
};

class Worker
{
public:
  /* The process's worker, its thread started for one more user. */
  static Worker & acquire ();
  /* One user fewer; the last one ends the thread. */
  static void release ();

  /* @client has a new frame: work() is called once for it, soon. */
  void offer (Client *client);
  /* tick() is called for @client at @monotonic_us (or soon after); 0 cancels. */
  void tick_at (Client *client, gint64 monotonic_us);
  /* @client is gone: forgotten, and not running in the worker when this returns. */
  void forget (Client *client);

private:
  Worker () = default;
};

}  // namespace motion
}  // namespace cr
