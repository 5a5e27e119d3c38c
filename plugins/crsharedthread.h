/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: the thread of a process-wide service (the motion worker, the recording spool) that
 * runs while the service has users: the first acquire() starts it, the last release() stops it
 * and joins it, so a process that never uses the service has no such thread.
 *
 * The service keeps its own state under its own lock and wakes its thread with its own condition
 * variable; this class shares that lock and adds the count of users, the stop request and the
 * thread itself. */
#pragma once

#include <glib.h>

#include <condition_variable>
#include <mutex>
#include <thread>

namespace cr {

class SharedThread
{
public:
  /* @body is the thread: it returns once stopping() (read under @lock) says so. */
  SharedThread (std::mutex & lock, std::condition_variable & wake, void (*body) ())
    : lock_ (lock), wake_ (wake), body_ (body)
  {}
  SharedThread (const SharedThread &) = delete;
  SharedThread & operator= (const SharedThread &) = delete;

  /* Takes the lock. One more user; the first starts the thread. */
  void acquire ();
  /* Takes the lock, and joins the thread without it. One user fewer; the last one asks the
   * thread to stop (waking it) and returns once it has. */
  void release ();

  /* Under the lock: the last user has gone, the thread is to return. */
  bool stopping () const { return stopping_; }
  /* Under the lock: the thread has been started and not yet stopped. */
  bool running () const { return thread_.joinable (); }

private:
  std::mutex & lock_;
  std::condition_variable & wake_;
  void (*body_) ();
  guint users_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace cr
