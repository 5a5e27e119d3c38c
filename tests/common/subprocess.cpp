/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "subprocess.h"

#include <glib/gstdio.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char **environ;

namespace crtest {

Process::Process (const std::vector<std::string> & argv, const Env & env, const std::string & cwd)
{
  /* Everything the child needs is prepared before fork(): after it, only exec-safe calls. */
  Env vars;
  for (char **e = environ; *e; e++) {
    const char *eq = strchr (*e, '=');
    if (eq)
      vars[std::string (*e, eq - *e)] = eq + 1;
  }
  for (const auto & [k, v] : env)
    vars[k] = v;
  std::vector<std::string> env_strings;
  for (const auto & [k, v] : vars)
    env_strings.push_back (k + "=" + v);
  std::vector<char *> envp, args;
  for (auto & s : env_strings)
    envp.push_back (&s[0]);
  envp.push_back (nullptr);
  std::vector<std::string> argv_copy = argv;
  for (auto & a : argv_copy)
    args.push_back (&a[0]);
  args.push_back (nullptr);

  int fds[2];
  if (pipe2 (fds, O_CLOEXEC) != 0)
    return;
  pid_t parent = getpid ();
  pid_t pid = fork ();
  if (pid == 0) {
    setpgid (0, 0);
    /* Even a test that crashes takes its child with it. */
    prctl (PR_SET_PDEATHSIG, SIGKILL);
    if (getppid () != parent)
      _exit (125);
    dup2 (fds[1], 1);
    dup2 (fds[1], 2);
    int devnull = open ("/dev/null", O_RDONLY);
    if (devnull >= 0)
      dup2 (devnull, 0);
    if (!cwd.empty () && chdir (cwd.c_str ()) != 0)
      _exit (126);
    execvpe (args[0], args.data (), envp.data ());
    _exit (127);
  }
  close (fds[1]);
  if (pid < 0) {
    close (fds[0]);
    return;
  }
  /* Also from here, so that a kill() right away cannot miss the group. */
  setpgid (pid, pid);
  pid_ = pid;
  out_fd_ = fds[0];
  reader_ = std::thread ([this] { reader (); });
}

Process::~Process ()
{
  kill ();
  if (g_getenv ("CAMRELAY_TEST_VERBOSE"))
    g_printerr ("---- child output ----\n%s\n----\n", output ().c_str ());
}

void
Process::reader ()
{
  char buf[4096];
  for (;;) {
    struct pollfd p = { out_fd_, POLLIN, 0 };
    int r = poll (&p, 1, 100);
    {
      std::lock_guard<std::mutex> lock (mutex_);
      if (eof_)
        return;
    }
    if (r <= 0)
      continue;
    ssize_t n = read (out_fd_, buf, sizeof (buf));
    std::lock_guard<std::mutex> lock (mutex_);
    if (n > 0) {
      output_.append (buf, n);
    } else if (n == 0 || errno != EINTR) {
      eof_ = true;
      cond_.notify_all ();
      return;
    }
    cond_.notify_all ();
  }
}

/* What the child wrote that the reader had no time to collect (a loaded machine): read without
 * blocking, since an escaped descendant may still hold the pipe open. */
void
Process::drain_output ()
{
  if (out_fd_ < 0)
    return;
  fcntl (out_fd_, F_SETFL, fcntl (out_fd_, F_GETFL) | O_NONBLOCK);
  char buf[4096];
  ssize_t n;
  while ((n = read (out_fd_, buf, sizeof (buf))) > 0 || (n < 0 && errno == EINTR)) {
    std::lock_guard<std::mutex> lock (mutex_);
    if (n > 0)
      output_.append (buf, n);
  }
}

std::string
Process::output () const
{
  std::lock_guard<std::mutex> lock (mutex_);
  return output_;
}

bool
Process::wait_for_output (const std::string & needle, int timeout_ms)
{
  std::unique_lock<std::mutex> lock (mutex_);
  return cond_.wait_for (lock, std::chrono::milliseconds (timeout_ms),
             [&] { return output_.find (needle) != std::string::npos || eof_; }) &&
      output_.find (needle) != std::string::npos;
}

void
Process::send_signal (int signum)
{
  if (pid_ > 0 && !exited_)
    ::kill (pid_, signum);
}

int
Process::wait (int timeout_ms)
{
  if (pid_ <= 0)
    return -1;
  gint64 deadline = g_get_monotonic_time () + timeout_ms * 1000LL;
  while (!exited_) {
    int status;
    pid_t r = waitpid (pid_, &status, WNOHANG);
    if (r == pid_) {
      exited_ = true;
      status_ = WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
      break;
    }
    if (g_get_monotonic_time () >= deadline)
      return -1;
    g_usleep (2000);
  }
  return status_;
}

int
Process::stop (int signum, int timeout_ms)
{
  send_signal (signum);
  int code = wait (timeout_ms);
  if (code < 0)
    kill ();
  return code;
}

void
Process::kill ()
{
  if (pid_ > 0 && !group_killed_) {
    /* Once only: the number must not be signalled again after it may have been reused. */
    group_killed_ = true;
    ::kill (-pid_, SIGKILL);
    if (!exited_) {
      int status;
      waitpid (pid_, &status, 0);
      exited_ = true;
      status_ = 128 + SIGKILL;
    }
  }
  if (reader_.joinable ()) {
    {
      /* Collect what is still in the pipe, without waiting on descendants that escaped. */
      std::unique_lock<std::mutex> lock (mutex_);
      cond_.wait_for (lock, std::chrono::milliseconds (500), [this] { return eof_; });
      eof_ = true;
    }
    reader_.join ();
  }
  drain_output ();
  if (out_fd_ >= 0)
    close (out_fd_);
  out_fd_ = -1;
}

RunResult
run (const std::vector<std::string> & argv, int timeout_ms, const Env & env,
    const std::string & cwd)
{
  Process p (argv, env, cwd);
  RunResult r;
  r.code = p.wait (timeout_ms);
  p.kill ();
  r.output = p.output ();
  return r;
}

Env
gst_child_env ()
{
  const char *preload = g_getenv ("CAMRELAY_CHILD_PRELOAD");
  if (!preload || !*preload)
    return {};
  /* Leak checking stays with our own processes. libproxy (GIO's proxy resolver, which
   * souphttpsrc asks) throws C++ exceptions, which the preloaded runtime cannot forward in a child
   * that is not built with it: such a child resolves no proxy (the tests need none). */
  return { { "LD_PRELOAD", preload }, { "ASAN_OPTIONS", "detect_leaks=0" },
    { "GIO_USE_PROXY_RESOLVER", "dummy" } };
}

bool
installed (const char *program)
{
  g_autofree gchar *path = g_find_program_in_path (program);
  return path != nullptr;
}

/* ---------------------------------------------------------------------------------------------- */

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

static void
remove_tree (const std::string & path)
{
  if (g_file_test (path.c_str (), G_FILE_TEST_IS_DIR) &&
      !g_file_test (path.c_str (), G_FILE_TEST_IS_SYMLINK)) {
    if (GDir *dir = g_dir_open (path.c_str (), 0, nullptr)) {
      while (const gchar *name = g_dir_read_name (dir))
        remove_tree (path + "/" + name);
      g_dir_close (dir);
    }
    g_rmdir (path.c_str ());
  } else {
    g_unlink (path.c_str ());
  }
}

TempDir::TempDir ()
{
  g_autofree gchar *p = g_dir_make_tmp ("camrelay-test-XXXXXX", nullptr);
  path_ = p ? p : "";
}

TempDir::~TempDir ()
{
  if (!path_.empty ())
    remove_tree (path_);
}

std::string
TempDir::file (const std::string & name) const
{
  return path_ + "/" + name;
}

std::string
TempDir::write (const std::string & name, const std::string & text) const
{
  std::string p = file (name);
  g_autofree gchar *dir = g_path_get_dirname (p.c_str ());
  g_mkdir_with_parents (dir, 0755);
  g_file_set_contents (p.c_str (), text.data (), text.size (), nullptr);
  return p;
}

std::string
TempDir::write (const std::string & name, const std::vector<guint8> & data) const
{
  return write (name, std::string (data.begin (), data.end ()));
}

std::vector<guint8>
read_file (const std::string & path)
{
  gchar *data = nullptr;
  gsize len = 0;
  if (!g_file_get_contents (path.c_str (), &data, &len, nullptr))
    return {};
  std::vector<guint8> out (data, data + len);
  g_free (data);
  return out;
}

}  // namespace crtest
