/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Entry points of the benchmark load generator's modes (loadgen.cpp is the
 * client side; serve.cpp the trivial ceiling server; selftest.cpp the
 * parser checks). */
#pragma once

#include <cstdint>
#include <string>

namespace bench {

struct ServeOptions
{
  std::string host = "127.0.0.1";
  int port = 3001;
  std::string boundary = "camrelayframe";
  /* SO_SNDBUF of each viewer socket; 0 keeps the kernel's autotuning,
   * which lets a slow viewer's kernel queue grow to megabytes. */
  int sndbuf = 0;
  bool verbose = false;
};

/* Runs the trivial MJPEG server until SIGINT or SIGTERM. */
int run_serve (const ServeOptions & opts);

/* Checks the wire code (handshake, masking, tag, chunked and multipart
 * readers fed with every split); returns 0 when all pass. */
int run_selftest ();

/* Raises RLIMIT_NOFILE to the hard limit; returns the new soft limit. */
uint64_t raise_nofile_limit ();

}  // namespace bench
