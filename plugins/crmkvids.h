/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: the Matroska (EBML) element IDs of recorded segments, with their length marker bits
 * as they stand in a file: one list for the writer (crmkvwriter.cpp, jpegrecordsink) and the
 * reader (pipeline/crmkvreader.cpp, the recordings API), so that both speak the same format.
 * See matroska.org's specification (RFC 9559) for each. */
#pragma once

#include <glib.h>

namespace cr {
namespace record {
namespace mkv {

inline constexpr guint32 ID_EBML = 0x1A45DFA3;
inline constexpr guint32 ID_EBML_VERSION = 0x4286;
inline constexpr guint32 ID_EBML_READ_VERSION = 0x42F7;
inline constexpr guint32 ID_EBML_MAX_ID_LENGTH = 0x42F2;
inline constexpr guint32 ID_EBML_MAX_SIZE_LENGTH = 0x42F3;
inline constexpr guint32 ID_DOCTYPE = 0x4282;
inline constexpr guint32 ID_DOCTYPE_VERSION = 0x4287;
inline constexpr guint32 ID_DOCTYPE_READ_VERSION = 0x4285;
inline constexpr guint32 ID_SEGMENT = 0x18538067;
inline constexpr guint32 ID_SEEKHEAD = 0x114D9B74;
inline constexpr guint32 ID_SEEK = 0x4DBB;
inline constexpr guint32 ID_SEEK_ID = 0x53AB;
inline constexpr guint32 ID_SEEK_POSITION = 0x53AC;
inline constexpr guint32 ID_INFO = 0x1549A966;
inline constexpr guint32 ID_TIMESTAMP_SCALE = 0x2AD7B1;
inline constexpr guint32 ID_DURATION = 0x4489;
inline constexpr guint32 ID_DATE_UTC = 0x4461;
inline constexpr guint32 ID_MUXING_APP = 0x4D80;
inline constexpr guint32 ID_WRITING_APP = 0x5741;
inline constexpr guint32 ID_TRACKS = 0x1654AE6B;
inline constexpr guint32 ID_TRACK_ENTRY = 0xAE;
inline constexpr guint32 ID_TRACK_NUMBER = 0xD7;
inline constexpr guint32 ID_TRACK_UID = 0x73C5;
inline constexpr guint32 ID_TRACK_TYPE = 0x83;
inline constexpr guint32 ID_FLAG_LACING = 0x9C;
inline constexpr guint32 ID_CODEC_ID = 0x86;
inline constexpr guint32 ID_VIDEO = 0xE0;
inline constexpr guint32 ID_PIXEL_WIDTH = 0xB0;
inline constexpr guint32 ID_PIXEL_HEIGHT = 0xBA;
inline constexpr guint32 ID_CLUSTER = 0x1F43B675;
inline constexpr guint32 ID_CLUSTER_TIMESTAMP = 0xE7;
inline constexpr guint32 ID_SIMPLE_BLOCK = 0xA3;
inline constexpr guint32 ID_CUES = 0x1C53BB6B;
inline constexpr guint32 ID_CUE_POINT = 0xBB;
inline constexpr guint32 ID_CUE_TIME = 0xB3;
inline constexpr guint32 ID_CUE_TRACK_POSITIONS = 0xB7;
inline constexpr guint32 ID_CUE_TRACK = 0xF7;
inline constexpr guint32 ID_CUE_CLUSTER_POSITION = 0xF1;
inline constexpr guint8 ID_VOID = 0xEC;
inline constexpr guint32 ID_ATTACHMENTS = 0x1941A469;
inline constexpr guint32 ID_CHAPTERS = 0x1043A770;
inline constexpr guint32 ID_TAGS = 0x1254C367;

}  // namespace mkv
}  // namespace record
}  // namespace cr
