/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: one writer thread for every jpegrecordsink (see crrecordspool.h). */
#include "crrecordspool.h"

#include "crsharedthread.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include <pthread.h>

namespace cr {
namespace record {

namespace {

struct Item
{
  gpointer owner;
  Spool::WriteFn write;
  GstBuffer *buffer;
  GstClockTime wall;
};

struct Waiting
{
  guint frames = 0;
  gsize bytes = 0;
};

void run ();

/* Everything under one lock; the thread writes with the lock released. */
struct State
{
  std::mutex lock;
  std::condition_variable wake; /* the writer: stop, or a flush waits for pending frames */
  std::condition_variable done; /* flushers: a batch was written */
  std::deque<Item> pending;
  std::map<gpointer, Waiting> waiting; /* per owner, pending or being written */
  guint flushes = 0; /* flushers waiting: the writer does not sleep while there are any */
  SharedThread thread{ lock, wake, run };
};

State &
state ()
{
  static State *s = new State (); /* never destroyed: the thread is joined by release () */
  return *s;
}

void
run ()
{
  /* Named, so that top -H and the tests can tell it from the streaming threads. */
  pthread_setname_np (pthread_self (), "cr-record-spool");
  State & s = state ();
  std::unique_lock<std::mutex> guard (s.lock);
  for (;;) {
    /* Nothing to write: sleep until a frame comes, so that quiet cameras wake nothing. */
    s.wake.wait (guard, [&s] { return s.thread.stopping () || !s.pending.empty (); });
    /* Then gather what every camera sends within the period: a wake-up per batch, not per
     * frame. */
    s.wake.wait_for (guard, std::chrono::milliseconds (SPOOL_PERIOD_MS),
        [&s] { return s.thread.stopping () || (s.flushes > 0 && !s.pending.empty ()); });
    std::deque<Item> batch;
    batch.swap (s.pending);
    const bool last = s.thread.stopping () && batch.empty ();
    guard.unlock ();
    for (auto & item : batch)
      item.write (item.owner, item.buffer, item.wall);
    guard.lock ();
    for (auto & item : batch) {
      Waiting & w = s.waiting[item.owner];
      w.frames--;
      w.bytes -= gst_buffer_get_size (item.buffer);
      if (w.frames == 0)
        s.waiting.erase (item.owner);
    }
    guard.unlock ();
    for (auto & item : batch)
      gst_buffer_unref (item.buffer);
    guard.lock ();
    s.done.notify_all ();
    if (last)
      return;
  }
}

}  // namespace

Spool &
Spool::acquire ()
{
  static Spool spool;
  state ().thread.acquire ();
  return spool;
}

void
Spool::release ()
{
  state ().thread.release ();
}

bool
Spool::push (gpointer owner, WriteFn write, GstBuffer *buffer, GstClockTime wall, guint max_frames,
    gsize max_bytes)
{
  State & s = state ();
  const gsize size = gst_buffer_get_size (buffer);
  std::lock_guard<std::mutex> guard (s.lock);
  Waiting & w = s.waiting[owner];
  if (w.frames >= max_frames || w.bytes + size > max_bytes) {
    if (w.frames == 0)
      s.waiting.erase (owner);
    return false;
  }
  w.frames++;
  w.bytes += size;
  const bool first = s.pending.empty ();
  s.pending.push_back ({ owner, write, gst_buffer_ref (buffer), wall });
  if (first)
    s.wake.notify_all (); /* the writer sleeps while nothing waits */
  return true;
}

void
Spool::flush (gpointer owner)
{
  State & s = state ();
  std::unique_lock<std::mutex> guard (s.lock);
  if (!s.waiting.count (owner))
    return;
  s.flushes++;
  s.wake.notify_all ();
  s.done.wait (guard, [&s, owner] { return !s.waiting.count (owner) || !s.thread.running (); });
  s.flushes--;
}

}  // namespace record
}  // namespace cr
