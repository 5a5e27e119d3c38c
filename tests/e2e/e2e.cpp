/* End-to-end test helpers. */
#include "e2e.h"

#include "testjpeg.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <gst/app/gstappsink.h>
#include <gst/gst.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char **environ;

namespace e2e {

/* ---------------------------------------------------------------------------------------------- */
/* Paths and files                                                                                */

std::string
program_path ()
{
  if (const char *p = g_getenv ("CAMRELAY_PROGRAM"))
    return p;
  const char *root = g_getenv ("CAMRELAY_BUILD_ROOT");
  g_autofree gchar *p = g_build_filename (root ? root : ".", "pipeline", "camrelay", nullptr);
  return p;
}

std::string
source_path (const std::string & relative)
{
  const char *root = g_getenv ("CAMRELAY_SOURCE_ROOT");
  g_autofree gchar *p = g_build_filename (root ? root : ".", relative.c_str (), nullptr);
  return p;
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
  g_autofree gchar *p = g_dir_make_tmp ("camrelay-e2e-XXXXXX", nullptr);
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
TempDir::write (const std::string & name, const Bytes & data) const
{
  return write (name, std::string (data.begin (), data.end ()));
}

Bytes
read_file (const std::string & path)
{
  gchar *data = nullptr;
  gsize len = 0;
  if (!g_file_get_contents (path.c_str (), &data, &len, nullptr))
    return {};
  Bytes out (data, data + len);
  g_free (data);
  return out;
}

/* ---------------------------------------------------------------------------------------------- */
/* Child processes                                                                                */

Process::Process (const std::vector<std::string> & argv,
    const std::map<std::string, std::string> & env, const std::string & cwd)
{
  /* Everything the child needs is prepared before fork(): after it, only exec-safe calls. */
  std::map<std::string, std::string> vars;
  for (char **e = environ; *e; e++) {
    const char *eq = strchr (*e, '=');
    if (eq)
      vars[std::string (*e, eq - *e)] = eq + 1;
  }
  for (const auto &[k, v] : env)
    vars[k] = v;
  std::vector<std::string> env_strings;
  for (const auto &[k, v] : vars)
    env_strings.push_back (k + "=" + v);
  std::vector<char *> envp, args;
  for (auto &s : env_strings)
    envp.push_back (&s[0]);
  envp.push_back (nullptr);
  std::vector<std::string> argv_copy = argv;
  for (auto &a : argv_copy)
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
  return cond_.wait_for (lock, std::chrono::milliseconds (timeout_ms),[&] {
        return output_.find (needle) != std::string::npos || eof_;
      }) && output_.find (needle) != std::string::npos;
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

void
Process::kill ()
{
  if (pid_ > 0) {
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
      cond_.wait_for (lock, std::chrono::milliseconds (500),[this] { return eof_; });
      eof_ = true;
    }
    reader_.join ();
  }
  if (out_fd_ >= 0)
    close (out_fd_);
  out_fd_ = -1;
  pid_ = -1;
}

RunResult
run (const std::vector<std::string> & argv, int timeout_ms,
    const std::map<std::string, std::string> & env, const std::string & cwd)
{
  Process p (argv, env, cwd);
  RunResult r;
  r.code = p.wait (timeout_ms);
  p.kill ();
  r.output = p.output ();
  return r;
}

std::map<std::string, std::string>
gst_child_env ()
{
  const char *preload = g_getenv ("CAMRELAY_CHILD_PRELOAD");
  if (!preload || !*preload)
    return {};
  /* Leak checking stays with our own processes. */
  return { { "LD_PRELOAD", preload }, { "ASAN_OPTIONS", "detect_leaks=0" } };
}

bool
installed (const char *program)
{
  g_autofree gchar *path = g_find_program_in_path (program);
  return path != nullptr;
}

static std::vector<std::string>
prepend (const std::string & first, const std::vector<std::string> & rest)
{
  std::vector<std::string> out{ first };
  out.insert (out.end (), rest.begin (), rest.end ());
  return out;
}

static std::map<std::string, std::string>
with_log_defaults (std::map<std::string, std::string> env)
{
  env.emplace ("G_MESSAGES_DEBUG", "camrelay");
  return env;
}

Camrelay::Camrelay (const std::vector<std::string> & args,
    const std::map<std::string, std::string> & env, const std::string & cwd)
  : Process (prepend (program_path (), args), with_log_defaults (env), cwd)
{
}

bool
Camrelay::started (int timeout_ms)
{
  if (!wait_for_output (" listening on ", timeout_ms))
    return false;
  /* "... listening on ADDRESS port N: ..." */
  std::string out = output ();
  gsize at = out.find (" listening on ");
  gsize p = out.find (" port ", at);
  if (p == std::string::npos)
    return false;
  port_ = static_cast<guint> (g_ascii_strtoull (out.c_str () + p + 6, nullptr, 10));
  return port_ != 0;
}

guint
free_port ()
{
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in sa = { };
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  socklen_t len = sizeof (sa);
  guint port = 0;
  if (bind (fd, reinterpret_cast<struct sockaddr *> (&sa), sizeof (sa)) == 0 &&
      getsockname (fd, reinterpret_cast<struct sockaddr *> (&sa), &len) == 0)
    port = ntohs (sa.sin_port);
  close (fd);
  return port;
}

/* ---------------------------------------------------------------------------------------------- */
/* Network clients                                                                                */

int
connect_loopback (guint port, int rcvbuf)
{
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  /* Before connect(), so that the window the server sees is small from the start. */
  if (rcvbuf > 0)
    setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof (rcvbuf));
  struct sockaddr_in sa = { };
  sa.sin_family = AF_INET;
  sa.sin_port = htons (port);
  sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (connect (fd, reinterpret_cast<struct sockaddr *> (&sa), sizeof (sa)) != 0) {
    close (fd);
    return -1;
  }
  int one = 1;
  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof (one));
  return fd;
}

static bool
send_all (int fd, const void *data, gsize len)
{
  const char *p = static_cast<const char *> (data);
  while (len > 0) {
    ssize_t n = send (fd, p, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    p += n;
    len -= n;
  }
  return true;
}

/* Appends what arrives before @deadline_us; false on timeout, end of stream or error. */
static bool
read_some (int fd, std::string & buf, gint64 deadline_us, bool *eof, gsize max = 65536)
{
  gint64 left = deadline_us - g_get_monotonic_time ();
  if (left <= 0)
    return false;
  struct pollfd p = { fd, POLLIN, 0 };
  int r = poll (&p, 1, static_cast<int> ((left + 999) / 1000));
  if (r <= 0)
    return false;
  char tmp[65536];
  ssize_t n = recv (fd, tmp, MIN (max, sizeof (tmp)), 0);
  if (n <= 0) {
    *eof = true;
    return false;
  }
  buf.append (tmp, n);
  return true;
}

static std::string
lower (std::string s)
{
  for (auto &c : s)
    c = g_ascii_tolower (c);
  return s;
}

/* "HTTP/1.1 200 OK\r\nA: b\r\n..." (without the blank line) */
static int
parse_head (const std::string & head, std::map<std::string, std::string> & headers)
{
  int status = 0;
  gsize eol = head.find ("\r\n");
  std::string first = head.substr (0, eol);
  if (first.compare (0, 5, "HTTP/") == 0 && first.size () > 12)
    status = atoi (first.c_str () + 9);
  gsize pos = eol == std::string::npos ? head.size () : eol + 2;
  while (pos < head.size ()) {
    eol = head.find ("\r\n", pos);
    if (eol == std::string::npos)
      eol = head.size ();
    std::string line = head.substr (pos, eol - pos);
    gsize colon = line.find (':');
    if (colon != std::string::npos) {
      std::string value = line.substr (colon + 1);
      gsize start = value.find_first_not_of (" \t");
      headers[lower (line.substr (0, colon))] = start == std::string::npos ? "" :
          value.substr (start);
    }
    pos = eol + 2;
  }
  return status;
}

std::string
HttpResponse::header (const std::string & name) const
{
  auto it = headers.find (lower (name));
  return it == headers.end ()? "" : it->second;
}

HttpResponse
http_get (guint port, const std::string & path, const std::string & extra_headers,
    int timeout_ms)
{
  HttpResponse r;
  int fd = connect_loopback (port);
  if (fd < 0)
    return r;
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string (port) +
      "\r\nConnection: close\r\n" + extra_headers + "\r\n";
  send_all (fd, req.data (), req.size ());

  gint64 deadline = g_get_monotonic_time () + timeout_ms * 1000LL;
  std::string buf;
  bool eof = false;
  gsize head_end;
  while ((head_end = buf.find ("\r\n\r\n")) == std::string::npos) {
    if (!read_some (fd, buf, deadline, &eof)) {
      close (fd);
      return r;
    }
  }
  r.status = parse_head (buf.substr (0, head_end), r.headers);
  std::string body = buf.substr (head_end + 4);
  std::string cl = r.header ("content-length");
  gsize want = cl.empty ()? G_MAXSIZE : g_ascii_strtoull (cl.c_str (), nullptr, 10);
  while (body.size () < want && read_some (fd, body, deadline, &eof)) {
  }
  close (fd);
  r.body.assign (body.begin (), body.end ());
  return r;
}

MjpegViewer::MjpegViewer (guint port, const std::string & path, int rcvbuf, int read_delay_ms)
  : read_delay_ms_ (read_delay_ms)
{
  fd_ = connect_loopback (port, rcvbuf);
  if (fd_ < 0)
    return;
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string (port) +
      "\r\n\r\n";
  send_all (fd_, req.data (), req.size ());
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  gsize head_end;
  while ((head_end = buf_.find ("\r\n\r\n")) == std::string::npos) {
    if (!fill (deadline))
      return;
  }
  status_ = parse_head (buf_.substr (0, head_end), headers_);
  buf_.erase (0, head_end + 4);
  std::string type = header ("content-type");
  gsize b = type.find ("boundary=");
  if (b != std::string::npos) {
    boundary_ = type.substr (b + 9);
    gsize end = boundary_.find (';');
    if (end != std::string::npos)
      boundary_.erase (end);
    if (boundary_.size () >= 2 && boundary_.front () == '"')
      boundary_ = boundary_.substr (1, boundary_.size () - 2);
  }
}

MjpegViewer::~MjpegViewer ()
{
  if (fd_ >= 0)
    close (fd_);
}

std::string
MjpegViewer::header (const std::string & name) const
{
  auto it = headers_.find (lower (name));
  return it == headers_.end ()? "" : it->second;
}

bool
MjpegViewer::fill (gint64 deadline_us)
{
  if (fd_ < 0 || eof_)
    return false;
  bool ok = read_some (fd_, buf_, deadline_us, &eof_, read_delay_ms_ ? 4096 : 65536);
  if (ok && read_delay_ms_)
    g_usleep (read_delay_ms_ * 1000);
  return ok;
}

bool
MjpegViewer::next_part (Bytes & part, int timeout_ms)
{
  if (boundary_.empty () || ended_)
    return false;
  gint64 deadline = g_get_monotonic_time () + timeout_ms * 1000LL;
  const std::string open = "--" + boundary_;
  for (;;) {
    while (buf_.compare (0, 2, "\r\n") == 0)
      buf_.erase (0, 2);
    if (buf_.size () >= open.size () + 2) {
      if (buf_.compare (0, open.size (), open) != 0)
        return false;                   /* not multipart as expected */
      if (buf_.compare (open.size (), 2, "--") == 0) {
        ended_ = true;
        return false;
      }
      gsize head_end = buf_.find ("\r\n\r\n");
      if (head_end != std::string::npos) {
        std::map<std::string, std::string> h;
        parse_head ("X\r\n" + buf_.substr (open.size () + 2, head_end - open.size () - 2), h);
        gsize body = head_end + 4;
        auto cl = h.find ("content-length");
        if (cl != h.end ()) {
          gsize len = g_ascii_strtoull (cl->second.c_str (), nullptr, 10);
          if (buf_.size () >= body + len) {
            part.assign (buf_.begin () + body, buf_.begin () + body + len);
            buf_.erase (0, body + len);
            return true;
          }
        } else {
          gsize next = buf_.find ("\r\n" + open, body);
          if (next != std::string::npos) {
            part.assign (buf_.begin () + body, buf_.begin () + next);
            buf_.erase (0, next);
            return true;
          }
        }
      }
    }
    if (!fill (deadline))
      return false;
  }
}

bool
MjpegViewer::wait_closed (int timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + timeout_ms * 1000LL;
  while (!eof_) {
    if (!fill (deadline) && !eof_)
      return false;
  }
  if (buf_.find ("--" + boundary_ + "--") != std::string::npos)
    ended_ = true;
  return true;
}

WsCamera::WsCamera (guint port, const std::string & path, const std::string & extra_headers)
{
  fd_ = connect_loopback (port);
  if (fd_ < 0)
    return;
  guint8 nonce[16];
  for (auto &b : nonce)
    b = static_cast<guint8> (g_random_int ());
  g_autofree gchar *key = g_base64_encode (nonce, sizeof (nonce));
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string (port) +
      "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
      "\r\nSec-WebSocket-Version: 13\r\n" + extra_headers + "\r\n";
  send_all (fd_, req.data (), req.size ());
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  bool eof = false;
  gsize head_end;
  while ((head_end = pending_.find ("\r\n\r\n")) == std::string::npos) {
    if (!read_some (fd_, pending_, deadline, &eof))
      return;
  }
  std::map<std::string, std::string> headers;
  status_ = parse_head (pending_.substr (0, head_end), headers);
  pending_.erase (0, head_end + 4);
}

WsCamera::~WsCamera ()
{
  if (fd_ >= 0)
    ::close (fd_);
}

std::string
WsCamera::local_address () const
{
  struct sockaddr_in sa = { };
  socklen_t len = sizeof (sa);
  if (fd_ < 0 || getsockname (fd_, reinterpret_cast<struct sockaddr *> (&sa), &len) != 0)
    return "";
  char host[INET_ADDRSTRLEN];
  inet_ntop (AF_INET, &sa.sin_addr, host, sizeof (host));
  return std::string (host) + ":" + std::to_string (ntohs (sa.sin_port));
}

bool
WsCamera::send_frame (guint8 opcode, const guint8 * data, gsize len)
{
  if (fd_ < 0 || status_ != 101)
    return false;
  std::string frame;
  frame += static_cast<char> (0x80 | opcode);
  if (len < 126) {
    frame += static_cast<char> (0x80 | len);
  } else if (len < 65536) {
    frame += static_cast<char> (0x80 | 126);
    frame += static_cast<char> (len >> 8);
    frame += static_cast<char> (len & 0xff);
  } else {
    frame += static_cast<char> (0x80 | 127);
    for (int i = 7; i >= 0; i--)
      frame += static_cast<char> ((static_cast<guint64> (len) >> (8 * i)) & 0xff);
  }
  guint8 mask[4];
  for (auto &m : mask)
    m = static_cast<guint8> (g_random_int ());
  frame.append (reinterpret_cast<const char *> (mask), 4);
  gsize start = frame.size ();
  frame.append (reinterpret_cast<const char *> (data), len);
  for (gsize i = 0; i < len; i++)
    frame[start + i] ^= mask[i % 4];
  return send_all (fd_, frame.data (), frame.size ());
}

bool
WsCamera::send_text (const std::string & text)
{
  return send_frame (0x1, reinterpret_cast<const guint8 *> (text.data ()), text.size ());
}

bool
WsCamera::send_binary (const Bytes & data)
{
  return send_frame (0x2, data.data (), data.size ());
}

int
WsCamera::wait_close (int timeout_ms)
{
  if (fd_ < 0)
    return 0;
  gint64 deadline = g_get_monotonic_time () + timeout_ms * 1000LL;
  bool eof = false;
  for (;;) {
    /* Server frames are not masked. */
    while (pending_.size () >= 2) {
      guint8 b0 = pending_[0], b1 = pending_[1];
      gsize len = b1 & 0x7f, head = 2;
      if (len == 126) {
        if (pending_.size () < 4)
          break;
        len = (static_cast<guint8> (pending_[2]) << 8) | static_cast<guint8> (pending_[3]);
        head = 4;
      } else if (len == 127) {
        if (pending_.size () < 10)
          break;
        len = 0;
        for (int i = 0; i < 8; i++)
          len = (len << 8) | static_cast<guint8> (pending_[2 + i]);
        head = 10;
      }
      if (pending_.size () < head + len)
        break;
      if ((b0 & 0x0f) == 0x8) {
        int code = len >= 2 ? (static_cast<guint8> (pending_[head]) << 8) |
            static_cast<guint8> (pending_[head + 1]) : 1005;
        pending_.erase (0, head + len);
        return code;
      }
      pending_.erase (0, head + len);
    }
    if (!read_some (fd_, pending_, deadline, &eof))
      return eof ? 0 : -1;
  }
}

void
WsCamera::close ()
{
  guint8 code[2] = { 0x03, 0xe8 };
  if (send_frame (0x8, code, 2))
    wait_close (2000);
  ::close (fd_);
  fd_ = -1;
}

/* ---------------------------------------------------------------------------------------------- */
/* Frames and pictures                                                                            */

std::vector<Bytes>
make_frames (int count, int width, int height)
{
  crtest::JpegSpec spec;
  spec.width = width;
  spec.height = height;
  spec.pattern = "ball";
  return crtest::make_jpegs (count, spec);
}

/* Runs @desc (ending in "appsink name=out") and returns the first buffer's bytes. */
static Bytes
first_buffer (const std::string & desc, GstCaps ** caps = nullptr)
{
  g_autoptr (GError) error = nullptr;
  g_autoptr (GstElement) pipeline = gst_parse_launch (desc.c_str (), &error);
  if (!pipeline)
    return {};
  g_autoptr (GstElement) sink = gst_bin_get_by_name (GST_BIN (pipeline), "out");
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  Bytes out;
  if (GstSample *sample = gst_app_sink_try_pull_sample (GST_APP_SINK (sink), 20 * GST_SECOND)) {
    out = crtest::bytes_of (gst_sample_get_buffer (sample));
    if (caps)
      *caps = gst_caps_ref (gst_sample_get_caps (sample));
    gst_sample_unref (sample);
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  return out;
}

Bytes
make_solid_jpeg (guint32 rgb, int width, int height)
{
  g_autofree gchar *desc = g_strdup_printf ("videotestsrc num-buffers=1 pattern=solid-color "
      "foreground-color=0x%08x ! video/x-raw,format=I420,width=%d,height=%d ! jpegenc "
      "quality=90 ! appsink name=out sync=false", 0xff000000u | rgb, width, height);
  return first_buffer (desc);
}

bool
jpeg_size (const Bytes & jpeg, int *width, int *height)
{
  gsize i = 2;
  while (i + 9 < jpeg.size ()) {
    if (jpeg[i] != 0xFF)
      return false;
    guint8 marker = jpeg[i + 1];
    gsize len = (jpeg[i + 2] << 8) | jpeg[i + 3];
    bool sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 &&
        marker != 0xCC;
    if (sof) {
      *height = (jpeg[i + 5] << 8) | jpeg[i + 6];
      *width = (jpeg[i + 7] << 8) | jpeg[i + 8];
      return true;
    }
    i += 2 + len;
  }
  return false;
}

bool
decode_rgb (const std::string & path, Bytes & rgb, int *width, int *height)
{
  g_autofree gchar *quoted = g_strescape (path.c_str (), nullptr);
  std::string desc = std::string ("filesrc location=\"") + quoted + "\" ! decodebin ! "
      "videoconvert ! video/x-raw,format=RGB ! appsink name=out sync=false";
  GstCaps *caps = nullptr;
  Bytes raw = first_buffer (desc, &caps);
  if (raw.empty () || !caps)
    return false;
  GstStructure *s = gst_caps_get_structure (caps, 0);
  gst_structure_get_int (s, "width", width);
  gst_structure_get_int (s, "height", height);
  gst_caps_unref (caps);
  gsize stride = GST_ROUND_UP_4 (*width * 3);
  if (raw.size () < stride * *height)
    return false;
  rgb.clear ();
  for (int y = 0; y < *height; y++)
    rgb.insert (rgb.end (), raw.begin () + y * stride, raw.begin () + y * stride + *width * 3);
  return true;
}

/* ---------------------------------------------------------------------------------------------- */

Json::Json (const std::string & text)
{
  parser_ = json_parser_new ();
  if (json_parser_load_from_data (parser_, text.c_str (), text.size (), nullptr))
    root_ = json_parser_get_root (parser_);
}

Json::~Json ()
{
  g_clear_object (&parser_);
}

JsonObject *
Json::root () const
{
  return root_ && JSON_NODE_HOLDS_OBJECT (root_) ? json_node_get_object (root_) : nullptr;
}

JsonObject *
Json::camera (const std::string & name) const
{
  JsonObject *r = root ();
  if (!r || !json_object_has_member (r, "cameras"))
    return nullptr;
  JsonArray *cams = json_object_get_array_member (r, "cameras");
  for (guint i = 0; cams && i < json_array_get_length (cams); i++) {
    JsonObject *c = json_array_get_object_element (cams, i);
    if (c && g_strcmp0 (json_object_get_string_member (c, "name"), name.c_str ()) == 0)
      return c;
  }
  return nullptr;
}

}  // namespace e2e
