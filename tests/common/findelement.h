/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* An element of a pipeline by its factory, wherever it sits in the pipeline's bins. */
#pragma once

#include <gst/gst.h>

namespace crtest {

/* The first element made by @factory inside @bin, at any depth, with a reference; nullptr if
 * there is none. */
GstElement *find_by_factory (GstElement *bin, const char *factory);

}  // namespace crtest
