/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: one analysis thread for every jpegmotion (see crmotionworker.h). */
#include "crmotionworker.h"

#include "crsharedthread.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <thread>

namespace cr {
namespace motion {

namespace {

void run ();

struct State
{
  std::mutex lock;
  std::condition_variable wake;     /* the worker: work, a tick, or stop */
  std::condition_variable finished; /* forget(): the client that ran is done */
  std::deque<Client *> ready;
  std::set<Client *> ticking;
  Client *running = nullptr;
  SharedThread thread{ lock, wake, run };
};

State &
state ()
{
  static State *s = new State (); /* never destroyed: the thread is joined by release () */
  return *s;
}

}  // namespace

/* The loop's way to a client's bookkeeping (under the lock). */
class WorkerAccess
{
public:
  static bool & queued (Client *c);
  static gint64 & tick_at (Client *c);
};

void
Worker::offer (Client *client)
{
  State & s = state ();
  {
    std::lock_guard<std::mutex> guard (s.lock);
    if (client->queued_)
      return;
    client->queued_ = true;
    s.ready.push_back (client);
  }
  s.wake.notify_one ();
}

void
Worker::tick_at (Client *client, gint64 monotonic_us)
{
  State & s = state ();
  {
    std::lock_guard<std::mutex> guard (s.lock);
    client->tick_at_ = monotonic_us;
    if (monotonic_us)
      s.ticking.insert (client);
    else
      s.ticking.erase (client);
  }
  s.wake.notify_one ();
}

void
Worker::forget (Client *client)
{
  State & s = state ();
  std::unique_lock<std::mutex> guard (s.lock);
  s.ready.erase (std::remove (s.ready.begin (), s.ready.end (), client), s.ready.end ());
  s.ticking.erase (client);
  client->queued_ = false;
  client->tick_at_ = 0;
  s.finished.wait (guard, [&s, client] { return s.running != client; });
}

/* Takes the next thing to do under the lock: a due tick first, then the oldest offer. */
static Client *
next_job (State & s, bool *is_tick)
{
  const gint64 now = g_get_monotonic_time ();
  for (Client *c : s.ticking) {
    gint64 & at = WorkerAccess::tick_at (c);
    if (at <= now) {
      at = 0;
      s.ticking.erase (c);
      *is_tick = true;
      return c;
    }
  }
  if (!s.ready.empty ()) {
    Client *c = s.ready.front ();
    s.ready.pop_front ();
    WorkerAccess::queued (c) = false;
    *is_tick = false;
    return c;
  }
  return nullptr;
}

namespace {

void
run ()
{
  State & s = state ();
  std::unique_lock<std::mutex> guard (s.lock);
  while (!s.thread.stopping ()) {
    bool is_tick = false;
    Client *c = next_job (s, &is_tick);
    if (!c) {
      gint64 soonest = G_MAXINT64;
      for (Client *t : s.ticking)
        soonest = std::min (soonest, WorkerAccess::tick_at (t));
      if (soonest == G_MAXINT64)
        s.wake.wait (guard);
      else
        s.wake.wait_for (guard,
            std::chrono::microseconds (std::max<gint64> (0, soonest - g_get_monotonic_time ())));
      continue;
    }
    s.running = c;
    guard.unlock ();
    if (is_tick)
      c->tick ();
    else
      c->work ();
    guard.lock ();
    s.running = nullptr;
    s.finished.notify_all ();
  }
}

}  // namespace

bool &
WorkerAccess::queued (Client *c)
{
  return c->queued_;
}

gint64 &
WorkerAccess::tick_at (Client *c)
{
  return c->tick_at_;
}

Worker &
Worker::acquire ()
{
  static Worker worker;
  state ().thread.acquire ();
  return worker;
}

void
Worker::release ()
{
  state ().thread.release ();
}

}  // namespace motion
}  // namespace cr
