/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: a process-wide service's thread, run while it has users (see crsharedthread.h). */
#include "crsharedthread.h"

namespace cr {

void
SharedThread::acquire ()
{
  std::lock_guard<std::mutex> guard (lock_);
  if (users_++ == 0) {
    stopping_ = false;
    thread_ = std::thread (body_);
  }
}

void
SharedThread::release ()
{
  std::thread ending;
  {
    std::lock_guard<std::mutex> guard (lock_);
    if (users_ == 0 || --users_ > 0)
      return;
    stopping_ = true;
    ending = std::move (thread_);
  }
  wake_.notify_all ();
  if (ending.joinable ())
    ending.join ();
}

}  // namespace cr
