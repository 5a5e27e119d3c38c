/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Child processes and files for tests.
 *
 * Every child runs in its own process group and is killed with it when its handle goes (or when
 * the test binary dies), so a failing test leaves nothing behind. Waits are bounded by deadlines.
 */
#pragma once

#include <glib.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace crtest {

using Env = std::map<std::string, std::string>;

class Process
{
public:
  /* Starts @argv (PATH searched) with stdout and stderr collected together and stdin from
   * /dev/null. @env entries are added to (or replace) the test's own environment; @cwd = ""
   * keeps the test's. */
  explicit Process (const std::vector<std::string> & argv, const Env & env = {},
      const std::string & cwd = "");
  /* Kills the process group; with CAMRELAY_TEST_VERBOSE set, prints what the child printed. */
  ~Process ();
  Process (const Process &) = delete;
  Process & operator= (const Process &) = delete;

  int pid () const { return pid_; }
  /* Everything printed so far (collected by a reader thread). */
  std::string output () const;
  /* True once @needle appeared in the output, false after @timeout_ms or when the process
   * ended without printing it. */
  bool wait_for_output (const std::string & needle, int timeout_ms = 20000);
  void send_signal (int signum);
  /* The exit code; -1 if it is still running after @timeout_ms; 128 + N if killed by signal N. */
  int wait (int timeout_ms);
  bool running () { return wait (0) < 0 && pid_ > 0; }
  /* Sends @signum and waits up to @timeout_ms. Returns the exit code as wait() does, or -1 if it
   * was still running (then the process group is killed). */
  int stop (int signum, int timeout_ms = 5000);
  /* Kills the whole process group and reaps the child. */
  void kill ();

private:
  void reader ();
  void drain_output ();

  int pid_ = -1;
  int out_fd_ = -1;
  bool exited_ = false;
  bool group_killed_ = false;
  int status_ = 0;
  mutable std::mutex mutex_;
  std::condition_variable cond_;
  std::string output_;
  bool eof_ = false;
  std::thread reader_;
};

struct RunResult
{
  int code = -1; /* -1: timed out (the process group was killed) */
  std::string output;
};

/* Runs a command to completion. */
RunResult run (const std::vector<std::string> & argv, int timeout_ms = 60000, const Env & env = {},
    const std::string & cwd = "");

/* The environment for a child that is not ours but loads our plugin (gst-launch-1.0 running
 * camrelay elements): in a sanitizer build, tests/meson.build names the sanitizer runtime in
 * CAMRELAY_CHILD_PRELOAD and such a child needs it preloaded (without leak checking: its own exit
 * paths are not ours). Empty otherwise; children that do not load our plugin never get it. */
Env gst_child_env ();

/* True if @program is on PATH. */
bool installed (const char *program);

/* A file of the source tree ($CAMRELAY_SOURCE_ROOT) or of the build tree ($CAMRELAY_BUILD_ROOT),
 * as meson sets them for tests. */
std::string source_path (const std::string & relative);
std::string build_path (const std::string & relative);

/* A fresh directory, removed with everything in it when the object goes. */
class TempDir
{
public:
  TempDir ();
  ~TempDir ();
  TempDir (const TempDir &) = delete;
  TempDir & operator= (const TempDir &) = delete;
  const std::string & path () const { return path_; }
  std::string file (const std::string & name) const;
  /* Writes @name (parent directories made as needed) below the directory; returns its path. */
  std::string write (const std::string & name, const std::string & text) const;
  std::string write (const std::string & name, const std::vector<guint8> & data) const;

private:
  std::string path_;
};

/* The file's bytes; empty if it cannot be read. */
std::vector<guint8> read_file (const std::string & path);

}  // namespace crtest
