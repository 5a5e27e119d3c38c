/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: jpegrecordsink, JPEG frames recorded to Matroska segments with their arrival times. */
#pragma once

#include <gst/base/gstbasesink.h>

G_BEGIN_DECLS

#define CR_TYPE_JPEG_RECORD_SINK (cr_jpeg_record_sink_get_type ())
G_DECLARE_FINAL_TYPE (CrJpegRecordSink, cr_jpeg_record_sink, CR, JPEG_RECORD_SINK, GstBaseSink)

G_END_DECLS
