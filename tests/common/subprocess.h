/* Child processes for end-to-end tests: started with a clean environment of our choosing, killed
 * and reaped when the test ends, whatever happens. */
#pragma once

#include <gio/gio.h>

#include <string>
#include <vector>

namespace crtest {

class Child
{
public:
  /* Starts @argv with stdout and stderr captured into one buffer. @loads_camrelay_plugin: the
   * program is not ours but loads our plugin (gst-launch-1.0 running camrelay elements); in
   * sanitizer builds it then needs the sanitizer runtime preloaded. */
  explicit Child (const std::vector<std::string> & argv, bool loads_camrelay_plugin = false);
  ~Child ();
  Child (const Child &) = delete;
  Child & operator= (const Child &) = delete;

  bool running () const;
  /* Sends @signum; waits up to @timeout_ms for exit. Returns the exit status, or -1 if still alive
   * (then it is killed). */
  int stop (int signum, int timeout_ms = 5000);
  /* Waits for exit; -1 on timeout. */
  int wait (int timeout_ms);
  /* Everything printed so far (collected by a reader thread). */
  std::string output () const;
  /* Waits until @needle shows up in the output. */
  bool wait_for_output (const std::string & needle, int timeout_ms = 10000);
  int pid () const;

private:
  GSubprocess *proc_ = nullptr;
  struct Reader;
  Reader *reader_ = nullptr;
};

/* The build's plugin directory and sources, from the environment meson sets for tests. */
std::string source_path (const std::string & relative);
std::string build_path (const std::string & relative);

/* Writes @data to a new file in a fresh temporary directory; returns its path. */
std::string write_temp_file (const std::string & name, const std::vector<guint8> & data);

}  // namespace crtest
