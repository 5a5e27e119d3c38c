/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay's command line and configuration checks, run through the real binary. */
#include "e2e.h"
#include "testjpeg.h"

#include "camrelay-config.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace crtest;

namespace {

RunResult
camrelay (const std::vector<std::string> & args, const std::string & cwd = "", const Env & env = {})
{
  std::vector<std::string> argv{ program_path () };
  argv.insert (argv.end (), args.begin (), args.end ());
  return run (argv, 60000, env, cwd);
}

/* A directory holding a placeholder and the config @text; returns the config's path. */
std::string
write_config (const TempDir & dir, const std::string & text)
{
  dir.write ("placeholder.jpg", read_file (source_path ("placeholder.jpg")));
  return dir.write ("camrelay.conf", text);
}

/* camrelay refuses @conf, with and without --check, with exit code 2 and "FILE: @expected". */
void
expect_refused (const TempDir & dir, const std::string & conf, const std::string & expected,
    const char *what)
{
  for (bool check : { true, false }) {
    std::vector<std::string> args{ "--config", conf, "--port", "0" };
    if (check)
      args.push_back ("--check");
    RunResult r = camrelay (args, dir.path ());
    EXPECT_EQ (r.code, 2) << what << (check ? " (--check)" : "") << ":\n" << r.output;
    std::string line = "camrelay: " + conf + ": " + expected;
    EXPECT_NE (r.output.find (line), std::string::npos)
        << what << ": expected\n  " << line << "\nin\n  " << r.output;
    EXPECT_EQ (r.output.find ("listening on"), std::string::npos) << r.output;
  }
}

}  // namespace

TEST (Cli, VersionNamesProgramAndGStreamer)
{
  RunResult r = camrelay ({ "--version" });
  EXPECT_EQ (r.code, 0);
  EXPECT_NE (r.output.find (std::string ("camrelay ") + CAMRELAY_VERSION), std::string::npos)
      << r.output;
  EXPECT_NE (r.output.find ("GStreamer 1."), std::string::npos) << r.output;
}

TEST (Cli, HelpListsTheOptions)
{
  RunResult r = camrelay ({ "--help" });
  EXPECT_EQ (r.code, 0);
  for (const char *opt : { "--config", "--port", "--check", "--print-pipeline", "--version" })
    EXPECT_NE (r.output.find (opt), std::string::npos) << opt << " missing in:\n" << r.output;
}

TEST (Cli, BadCommandLinesExitWithTwo)
{
  for (const auto & args : std::vector<std::vector<std::string>>{ { "--no-such-option" },
           { "--port", "70000" }, { "--port", "ten" }, { "stray" },
           { "--config", "/nonexistent/camrelay.conf", "--check" } }) {
    RunResult r = camrelay (args);
    EXPECT_EQ (r.code, 2) << args[0] << ": " << r.output;
    EXPECT_NE (r.output.find ("camrelay: "), std::string::npos) << r.output;
  }
}

/* No arguments is the legacy contract: one camera on port 3001, ingest on /ws and /, MJPEG on
 * /, placeholder.jpg from the working directory. Checked without taking port 3001. */
TEST (Cli, DefaultIsTheLegacyContract)
{
  TempDir dir;
  dir.write ("placeholder.jpg", read_file (source_path ("placeholder.jpg")));
  RunResult check = camrelay ({ "--check" }, dir.path ());
  ASSERT_EQ (check.code, 0) << check.output;
  EXPECT_NE (check.output.find ("built-in default: configuration OK, 1 camera on 0.0.0.0 port "
                                "3001"),
      std::string::npos)
      << check.output;
  EXPECT_NE (check.output.find ("ingest /ws /, stream /,"), std::string::npos) << check.output;

  RunResult print = camrelay ({ "--print-pipeline" }, dir.path ());
  ASSERT_EQ (print.code, 0) << print.output;
  /* Element defaults are the legacy values, so the line needs no port, path or size. The H.264
   * branch serves rtsp://HOST:8554/default. */
  std::string expected = "gst-launch-1.0 wsjpegsrc ! jpegvalidate ! jpegfallback placeholder=" +
      dir.file ("placeholder.jpg") +
      " ! tee name=h264tee ! multipartmux ! mjpeghttpsink snapshot-path=/snapshot.jpg h264tee. ! "
      "h264relaysink name=h264 rtsp-port=8554 rtsp-path=/default";
  EXPECT_NE (print.output.find (expected), std::string::npos) << print.output;
  EXPECT_EQ (std::count (print.output.begin (), print.output.end (), '\n'), 1) << print.output;
}

/* rtsp-port = 0 turns RTSP off, not the H.264 branch that WebRTC viewers share: h264relaysink
 * stays, without an RTSP server. */
TEST (Cli, RtspPortZeroKeepsTheH264Branch)
{
  TempDir dir;
  std::string conf = write_config (dir,
      "[server]\nport = 0\nrtsp-port = 0\n[camera cam]\nplaceholder = placeholder.jpg\n");
  RunResult print = camrelay ({ "--config", conf, "--print-pipeline" }, dir.path ());
  ASSERT_EQ (print.code, 0) << print.output;
  EXPECT_NE (print.output.find (" h264tee. ! h264relaysink name=h264"), std::string::npos)
      << print.output;
  EXPECT_EQ (print.output.find ("rtsp-port="), std::string::npos) << print.output;
}

/* The data directory is the test's own (CAMRELAY_DATADIR), so whatever is installed on the
 * machine cannot change the verdict. */
TEST (Cli, DefaultWithoutPlaceholderIsRefused)
{
  TempDir dir, datadir;
  RunResult r = camrelay ({ "--check" }, dir.path (), { { "CAMRELAY_DATADIR", datadir.path () } });
  EXPECT_EQ (r.code, 2) << r.output;
  EXPECT_NE (r.output.find ("built-in default: [camera default] placeholder: cannot find "
                            "placeholder.jpg (looked in " +
                 dir.path () + " " + datadir.path () + ")"),
      std::string::npos)
      << r.output;
}

/* An installed placeholder (the data directory's) serves the default camera. */
TEST (Cli, DefaultUsesTheInstalledPlaceholder)
{
  TempDir dir, datadir;
  datadir.write ("placeholder.jpg", read_file (source_path ("placeholder.jpg")));
  RunResult r =
      camrelay ({ "--print-pipeline" }, dir.path (), { { "CAMRELAY_DATADIR", datadir.path () } });
  ASSERT_EQ (r.code, 0) << r.output;
  EXPECT_NE (r.output.find ("jpegfallback placeholder=" + datadir.file ("placeholder.jpg")),
      std::string::npos)
      << r.output;
}

/* As the README runs them: from the source tree, where placeholder.jpg is. */
TEST (Cli, ShippedConfigsPassCheck)
{
  std::string root = source_path ("");
  for (const char *name : { "configs/default.conf", "configs/three-cameras.conf",
           "configs/home.conf", "configs/origin.conf", "configs/edge.conf" }) {
    std::string file = source_path (name);
    RunResult r = camrelay ({ "--config", file, "--check" }, root);
    EXPECT_EQ (r.code, 0) << name << ":\n" << r.output;
    EXPECT_NE (r.output.find (file + ": configuration OK"), std::string::npos) << r.output;
  }
  RunResult three =
      camrelay ({ "--config", source_path ("configs/three-cameras.conf"), "--print-pipeline" },
          root);
  ASSERT_EQ (three.code, 0);
  EXPECT_EQ (std::count (three.output.begin (), three.output.end (), '\n'), 3) << three.output;
  for (const char *part : { "paths=/ws/front", "path=/stream/front",
           "snapshot-path=/snapshot/front.jpg", "paths=/ws/garden", "timeout=15000000000",
           "paths=/ ", "path=/stream/garage", "max-viewers=20" })
    EXPECT_NE (three.output.find (part), std::string::npos) << part << " in\n" << three.output;
}

TEST (Cli, PortOptionOverridesTheFile)
{
  TempDir dir;
  std::string conf = write_config (dir, "[server]\nport = 8080\n[camera a]\n");
  RunResult r = camrelay ({ "--config", conf, "--port", "9091", "--print-pipeline" });
  ASSERT_EQ (r.code, 0) << r.output;
  EXPECT_NE (r.output.find ("wsjpegsrc port=9091 paths=/ws/a"), std::string::npos) << r.output;
  EXPECT_NE (r.output.find ("mjpeghttpsink port=9091 path=/stream/a"), std::string::npos)
      << r.output;
}

TEST (Cli, PrintedPipelineQuotesForTheShell)
{
  TempDir dir;
  dir.write ("pictures dir/offline's.jpg", read_file (source_path ("placeholder.jpg")));
  std::string conf = dir.write ("camrelay.conf",
      "[camera a]\nplaceholder = pictures dir/offline's.jpg\nsecret = a b\n");
  RunResult r = camrelay ({ "--config", conf, "--print-pipeline" });
  ASSERT_EQ (r.code, 0) << r.output;
  /* Parsing the line back as a shell would gives the gst-launch arguments, quoted for it. */
  std::string line = r.output.substr (0, r.output.find ('\n'));
  gint argc = 0;
  g_auto (GStrv) argv = nullptr;
  ASSERT_TRUE (g_shell_parse_argv (line.c_str (), &argc, &argv, nullptr)) << line;
  std::vector<std::string> args (argv, argv + argc);
  auto has = [&] (const std::string & a) {
    return std::find (args.begin (), args.end (), a) != args.end ();
  };
  EXPECT_TRUE (has ("placeholder=\"" + dir.file ("pictures dir/offline's.jpg") + "\"")) << line;
  EXPECT_TRUE (has ("secret=\"a b\"")) << line;
}

struct BadConfig
{
  const char *what;
  const char *text;
  const char *expected; /* after "FILE: " */
};

class ConfigErrors : public ::testing::TestWithParam<BadConfig>
{};

TEST_P (ConfigErrors, RefusedWithFileSectionAndKey)
{
  const BadConfig & c = GetParam ();
  TempDir dir;
  std::string conf = write_config (dir, c.text);
  expect_refused (dir, conf, c.expected, c.what);
}

INSTANTIATE_TEST_SUITE_P (Cli, ConfigErrors,
    ::testing::Values (BadConfig{ "unknown camera key", "[camera a]\nstream = /x\n",
                           "[camera a] stream: unknown key" },
        BadConfig{ "unknown server key", "[server]\nlisten = 1\n", "[server] listen: unknown key" },
        BadConfig{ "unknown section", "[cameras a]\n", "[cameras a] unknown section" },
        BadConfig{ "bad camera name", "[camera front door]\n", "[camera front door] camera names" },
        BadConfig{ "bad timeout", "[camera a]\ntimeout = soon\n",
            "[camera a] timeout: expected a number of seconds" },
        BadConfig{ "negative timeout", "[camera a]\ntimeout = -1\n",
            "[camera a] timeout: expected a number of seconds" },
        BadConfig{ "bad port", "[server]\nport = 70000\n",
            "[server] port: expected a whole number from 0 to 65535, got \"70000\"" },
        BadConfig{ "bad address", "[server]\naddress = everywhere\n",
            "[server] address: \"everywhere\" is not an IP address" },
        BadConfig{ "bad boolean", "[camera a]\ndecode-check = maybe\n",
            "[camera a] decode-check: expected true or false" },
        BadConfig{ "fps out of range", "[camera a]\nplaceholder-fps = 0\n",
            "[camera a] placeholder-fps: expected a whole number from 1 to 30" },
        BadConfig{ "relative path", "[camera a]\nstream-path = stream\n",
            "[camera a] stream-path: \"stream\" must start with /" },
        BadConfig{ "min above max", "[camera a]\nmin-size = 100\nmax-size = 50\n",
            "[camera a] min-size: is larger than max-size" },
        BadConfig{ "same stream path",
            "[camera a]\nstream-path = /live\n"
            "[camera b]\nstream-path = /live\n",
            "[camera b] stream-path: /live is already used by [camera a] stream-path" },
        BadConfig{ "snapshot on a stream", "[camera a]\n[camera b]\nsnapshot-path = /stream/a\n",
            "[camera b] snapshot-path: /stream/a is already used by [camera a] stream-path" },
        BadConfig{ "same ingest path",
            "[camera a]\ningest-paths = /\n"
            "[camera b]\ningest-paths = /ws/b, /\n",
            "[camera b] ingest-paths: / is already used by [camera a] ingest-paths" },
        BadConfig{ "derived path taken", "[camera a]\nstream-path = /stream/b\n[camera b]\n",
            "[camera b] stream-path: /stream/b is already used by [camera a] stream-path" },
        BadConfig{ "page path taken", "[camera a]\nstream-path = /status\n",
            "[camera a] stream-path: /status is already used by the program's own page" },
        BadConfig{ "missing placeholder", "[camera a]\nplaceholder = nothere.jpg\n",
            "[camera a] placeholder: cannot find nothere.jpg (looked in" },
        BadConfig{ "placeholder not a JPEG", "[camera a]\nplaceholder = camrelay.conf\n",
            "[camera a] placeholder: " },
        BadConfig{ "credentials half set", "[server]\nviewer-user = me\n",
            "[server] viewer-password: viewer-user and viewer-password go together" },
        BadConfig{ "tls half set", "[server]\ntls-key = /k.pem\n",
            "[server] tls-certificate: tls-certificate and tls-key go together" },
        BadConfig{ "pipeline with other keys",
            "[camera a]\ntimeout = 3\npipeline = wsjpegsrc ! fakesink\n",
            "[camera a] timeout: has no effect with pipeline=" },
        BadConfig{ "pipeline with an unknown element",
            "[camera a]\npipeline = wsjpegsrc ! nosuchelement ! fakesink\n",
            "[camera a] pipeline: GStreamer cannot build this pipeline: " },
        BadConfig{ "pipeline with its own port",
            "[camera a]\npipeline = wsjpegsrc port=1234 ! fakesink\n",
            "[camera a] pipeline: leave port= out of wsjpegsrc" },
        BadConfig{ "pipeline paths clash",
            "[camera a]\n[camera b]\npipeline = wsjpegsrc paths=/ws/a ! fakesink\n",
            "[camera b] pipeline: /ws/a is already used by [camera a] ingest-paths" },
        BadConfig{ "not a key file", "this is not a config\n", "" }));

/* A picture jpegfallback cannot show is refused up front, with jpegvalidate's own reason. */
struct BrokenPlaceholder
{
  const char *what;
  std::vector<guint8> (*contents) ();
  const char *reason;
};

class BrokenPlaceholders : public ::testing::TestWithParam<BrokenPlaceholder>
{};

TEST_P (BrokenPlaceholders, RefusedWithTheValidatorsReason)
{
  const BrokenPlaceholder & p = GetParam ();
  TempDir dir;
  dir.write ("offline.jpg", p.contents ());
  std::string conf = write_config (dir, "[camera a]\nplaceholder = offline.jpg\n");
  expect_refused (dir, conf,
      "[camera a] placeholder: " + dir.file ("offline.jpg") + " is not a usable JPEG: " + p.reason +
          " (",
      p.what);
}

INSTANTIATE_TEST_SUITE_P (Cli, BrokenPlaceholders,
    ::testing::Values (BrokenPlaceholder{ "truncated JPEG",
                           [] {
                             std::vector<guint8> jpeg = read_file (source_path ("placeholder.jpg"));
                             jpeg.resize (jpeg.size () / 2);
                             return jpeg;
                           },
                           "truncated" },
        BrokenPlaceholder{ "PNG named .jpg",
            [] {
              /* A 1x1 PNG, as any image editor would write it. */
              static const guint8 png[] = {
                0x89,
                0x50,
                0x4e,
                0x47,
                0x0d,
                0x0a,
                0x1a,
                0x0a,
                0x00,
                0x00,
                0x00,
                0x0d,
                0x49,
                0x48,
                0x44,
                0x52,
                0x00,
                0x00,
                0x00,
                0x01,
                0x00,
                0x00,
                0x00,
                0x01,
                0x08,
                0x06,
                0x00,
                0x00,
                0x00,
                0x1f,
                0x15,
                0xc4,
                0x89,
                0x00,
                0x00,
                0x00,
                0x0d,
                0x49,
                0x44,
                0x41,
                0x54,
                0x78,
                0x9c,
                0x63,
                0xf8,
                0xcf,
                0xc0,
                0xf0,
                0x1f,
                0x00,
                0x05,
                0x00,
                0x01,
                0xff,
                0x56,
                0xc7,
                0x2f,
                0x0d,
                0x00,
                0x00,
                0x00,
                0x00,
                0x49,
                0x45,
                0x4e,
                0x44,
                0xae,
                0x42,
                0x60,
                0x82,
              };
              return std::vector<guint8> (png, png + sizeof (png));
            },
            "not-jpeg" },
        BrokenPlaceholder{ "JPEG with its end cut off by a few bytes",
            [] {
              std::vector<guint8> jpeg = read_file (source_path ("placeholder.jpg"));
              jpeg.resize (jpeg.size () - 3);
              return jpeg;
            },
            "truncated" }));

/* A placeholder smaller than jpegvalidate's min-size for camera frames is still a picture. */
TEST (Cli, SmallPlaceholderPassesCheck)
{
  TempDir dir;
  std::vector<guint8> small = make_solid_jpeg (0x202020, 64, 48);
  ASSERT_LT (small.size (), 5001u);
  dir.write ("small.jpg", small);
  std::string conf = write_config (dir, "[camera a]\nplaceholder = small.jpg\n");
  RunResult r = camrelay ({ "--config", conf, "--port", "0", "--check" }, dir.path ());
  EXPECT_EQ (r.code, 0) << r.output;
}

TEST (Cli, PortInUseExitsWithOne)
{
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in sa = {};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  socklen_t len = sizeof (sa);
  ASSERT_EQ (bind (fd, reinterpret_cast<struct sockaddr *> (&sa), sizeof (sa)), 0);
  ASSERT_EQ (listen (fd, 1), 0);
  ASSERT_EQ (getsockname (fd, reinterpret_cast<struct sockaddr *> (&sa), &len), 0);
  std::string port = std::to_string (ntohs (sa.sin_port));

  TempDir dir;
  std::string conf = write_config (dir, "[server]\naddress = 127.0.0.1\n");
  RunResult r = camrelay ({ "--config", conf, "--port", port });
  close (fd);
  EXPECT_EQ (r.code, 1) << r.output;
  EXPECT_NE (r.output.find ("camrelay: cannot listen on 127.0.0.1 port " + port), std::string::npos)
      << r.output;
  EXPECT_NE (r.output.find ("in use"), std::string::npos) << r.output;
}

/* The shipped systemd unit, with its install paths filled in as meson does (the binary is the
 * build's), in a directory of its own. */
static std::string
shipped_unit (const TempDir & dir)
{
  std::vector<guint8> raw = read_file (source_path ("configs/camrelay.service"));
  std::string text (raw.begin (), raw.end ());
  g_autofree gchar *bindir = g_path_get_dirname (program_path ().c_str ());
  for (const auto & [from, to] : { std::pair<std::string, std::string>{ "@bindir@", bindir },
           std::pair<std::string, std::string>{ "@sysconfdir@", dir.path () } }) {
    for (gsize at = text.find (from); at != std::string::npos; at = text.find (from, at))
      text.replace (at, from.size (), to);
  }
  dir.write ("camrelay/default.conf", read_file (source_path ("configs/default.conf")));
  return dir.write ("camrelay.service", text);
}

/* systemd takes the unit without a complaint, and a local camera (the README's
 * source = v4l2:///dev/video0) is reachable as installed: /dev/video* is not hidden. */
TEST (Cli, ShippedUnitVerifiesAndReachesVideoDevices)
{
  ASSERT_TRUE (installed ("systemd-analyze"));
  TempDir dir;
  std::string unit = shipped_unit (dir);
  RunResult verify = run ({ "systemd-analyze", "verify", "--man=no", unit });
  EXPECT_EQ (verify.code, 0) << verify.output;
  EXPECT_EQ (verify.output, "") << "systemd-analyze verify complains about the unit";

  RunResult security =
      run ({ "systemd-analyze", "security", "--offline=true", "--no-pager", unit });
  EXPECT_EQ (security.code, 0) << security.output;
  auto line = [&] (const std::string & key) {
    gsize at = security.output.find (key);
    if (at == std::string::npos)
      return std::string ("(no line for ") + key + ")";
    return security.output.substr (at, security.output.find ('\n', at) - at);
  };
  EXPECT_EQ (line ("PrivateDevices=").find ("has no access to hardware devices"), std::string::npos)
      << line ("PrivateDevices=");
  EXPECT_NE (line ("DeviceAllow=").find ("char-video4linux:rw"), std::string::npos)
      << line ("DeviceAllow=");
  /* The rest of what PrivateDevices=yes gave stays: no other device, no device nodes made. */
  EXPECT_NE (line ("CapabilityBoundingSet=~CAP_MKNOD").find ("cannot create device nodes"),
      std::string::npos)
      << line ("CapabilityBoundingSet=~CAP_MKNOD");
}
