/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: the pipelines the config check built, kept for the cameras' first start.
 *
 * Checking the config (check_line) parses every camera's description, as the camera's start does
 * again: with thousands of cameras the second parse was a tenth of the start. While keeping is on
 * (the program's run, not --check), the checked pipeline waits here, keyed by its description,
 * and the camera's first build takes it instead of parsing the line again.
 *
 * Threads: main thread only. */
#pragma once

#include <gst/gst.h>

#include <string>

namespace camrelay {

/* Turns keeping on or off; off drops every pipeline kept (a reload refused or applied, the end
 * of the start: what no camera took is not needed). */
void prebuilt_keep (bool on);
/* Keeps @pipeline (takes the caller's reference, which must not be floating) for @description
 * while keeping is on; otherwise drops it. */
void prebuilt_put (const std::string & description, GstElement *pipeline);
/* The pipeline kept for @description (the caller's reference, not floating), or nullptr. */
GstElement *prebuilt_take (const std::string & description);

}  // namespace camrelay
