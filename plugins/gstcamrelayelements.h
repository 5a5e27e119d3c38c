/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: the elements this plugin registers. */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

GST_ELEMENT_REGISTER_DECLARE (wsjpegsrc);
GST_ELEMENT_REGISTER_DECLARE (jpegvalidate);
GST_ELEMENT_REGISTER_DECLARE (jpegfallback);
GST_ELEMENT_REGISTER_DECLARE (mjpeghttpsink);
GST_ELEMENT_REGISTER_DECLARE (wsjpegsink);
GST_ELEMENT_REGISTER_DECLARE (pulljpegsrc);
GST_ELEMENT_REGISTER_DECLARE (jpegrecordsink);
GST_ELEMENT_REGISTER_DECLARE (h264relaysink);
GST_ELEMENT_REGISTER_DECLARE (jpegmotion);
GST_ELEMENT_REGISTER_DECLARE (stillframesrc);
GST_ELEMENT_REGISTER_DECLARE (stilljpeg);

G_END_DECLS
