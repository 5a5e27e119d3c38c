/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: the pipelines the config check built, kept for the cameras' first start. */
#include "prebuilt.h"

#include <map>

namespace camrelay {

namespace {

bool keeping = false;
std::map<std::string, GstElement *> kept;

void
drop_all ()
{
  for (auto & [description, pipeline] : kept)
    gst_object_unref (pipeline);
  kept.clear ();
}

}  // namespace

void
prebuilt_keep (bool on)
{
  keeping = on;
  if (!on)
    drop_all ();
}

void
prebuilt_put (const std::string & description, GstElement *pipeline)
{
  if (!keeping) {
    gst_object_unref (pipeline);
    return;
  }
  auto [it, fresh] = kept.emplace (description, pipeline);
  if (!fresh) {
    gst_object_unref (it->second);
    it->second = pipeline;
  }
}

GstElement *
prebuilt_take (const std::string & description)
{
  auto it = kept.find (description);
  if (it == kept.end ())
    return nullptr;
  GstElement *pipeline = it->second;
  kept.erase (it);
  return pipeline;
}

}  // namespace camrelay
