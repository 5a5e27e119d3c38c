#include "subprocess.h"

#include <glib/gstdio.h>
#include <signal.h>

#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>

namespace crtest {

struct Child::Reader
{
  std::mutex m;
  std::condition_variable cv;
  std::string text;
  std::thread thread;
};

Child::Child (const std::vector<std::string> & argv, bool loads_camrelay_plugin)
{
  std::vector<const gchar *> args;
  for (const auto &a : argv)
    args.push_back (a.c_str ());
  args.push_back (nullptr);
  g_autoptr (GError) error = nullptr;
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (static_cast<GSubprocessFlags>
      (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE));
  /* Leak checking stays with our own processes. */
  const gchar *preload = g_getenv ("CAMRELAY_CHILD_PRELOAD");
  if (preload && *preload && loads_camrelay_plugin) {
    g_subprocess_launcher_setenv (launcher, "LD_PRELOAD", preload, TRUE);
    g_subprocess_launcher_setenv (launcher, "ASAN_OPTIONS", "detect_leaks=0", TRUE);
  }
  proc_ = g_subprocess_launcher_spawnv (launcher, args.data (), &error);
  if (!proc_) {
    g_printerr ("cannot start %s: %s\n", argv[0].c_str (), error->message);
    abort ();
  }
  reader_ = new Reader;
  GInputStream *out = g_subprocess_get_stdout_pipe (proc_);
  reader_->thread = std::thread ([r = reader_, out] {
        char buf[4096];
        for (;;) {
          gssize n = g_input_stream_read (out, buf, sizeof (buf), nullptr, nullptr);
          if (n <= 0)
            break;
          std::lock_guard<std::mutex> g (r->m);
          r->text.append (buf, n);
          r->cv.notify_all ();
        }
      });
}

Child::~Child ()
{
  if (running ())
    stop (SIGKILL, 5000);
  reader_->thread.join ();
  if (g_getenv ("CAMRELAY_TEST_VERBOSE"))
    g_printerr ("---- child output ----\n%s\n----\n", reader_->text.c_str ());
  delete reader_;
  g_object_unref (proc_);
}

bool
Child::running () const
{
  return g_subprocess_get_identifier (proc_) != nullptr;
}

int
Child::pid () const
{
  const gchar *id = g_subprocess_get_identifier (proc_);
  return id ? atoi (id) : -1;
}

int
Child::wait (int timeout_ms)
{
  gint64 end = g_get_monotonic_time () + timeout_ms * 1000LL;
  /* GLib reaps the child from its own worker thread; the identifier goes away when it has. */
  while (running ()) {
    if (g_get_monotonic_time () > end)
      return -1;
    g_usleep (5000);
  }
  if (g_subprocess_get_if_exited (proc_))
    return g_subprocess_get_exit_status (proc_);
  return 128 + g_subprocess_get_term_sig (proc_);
}

int
Child::stop (int signum, int timeout_ms)
{
  if (pid () > 0)
    kill (pid (), signum);
  int status = wait (timeout_ms);
  if (status < 0 && pid () > 0) {
    kill (pid (), SIGKILL);
    wait (5000);
  }
  return status;
}

std::string
Child::output () const
{
  std::lock_guard<std::mutex> g (reader_->m);
  return reader_->text;
}

bool
Child::wait_for_output (const std::string & needle, int timeout_ms)
{
  std::unique_lock<std::mutex> l (reader_->m);
  return reader_->cv.wait_for (l, std::chrono::milliseconds (timeout_ms),[&] {
        return reader_->text.find (needle) != std::string::npos;
      });
}

static std::string
rooted (const char *var, const std::string & relative)
{
  const gchar *root = g_getenv (var);
  g_autofree gchar *path = g_build_filename (root ? root : ".", relative.c_str (), nullptr);
  return path;
}

std::string
source_path (const std::string & relative)
{
  return rooted ("CAMRELAY_SOURCE_ROOT", relative);
}

std::string
build_path (const std::string & relative)
{
  return rooted ("CAMRELAY_BUILD_ROOT", relative);
}

std::string
write_temp_file (const std::string & name, const std::vector<guint8> & data)
{
  g_autofree gchar *dir = g_dir_make_tmp ("camrelay-test-XXXXXX", nullptr);
  g_autofree gchar *path = g_build_filename (dir, name.c_str (), nullptr);
  g_file_set_contents (path, reinterpret_cast<const gchar *> (data.data ()), data.size (),
      nullptr);
  return path;
}

}  // namespace crtest
