/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: every name it reads from the camrelay elements, in one place.
 *
 * The program reaches the elements only through GStreamer, so its contract with them is held by
 * strings: factory names, the properties it reads back, the fields of their "stats" structures and
 * of the element messages they post. A name an element stops publishing reads as 0 or nothing,
 * without an error. The "contract" suite (tests/elements/test_contract.cpp) therefore runs the real
 * elements and checks each name listed here, with the type the program reads it as: read an
 * element's name only through this file, and list it here first. */
#pragma once

#include <gst/gst.h>

#include <string>

namespace camrelay {
namespace elements {

/* Factories. */

inline constexpr char WSJPEGSRC[] = "wsjpegsrc";
inline constexpr char JPEGVALIDATE[] = "jpegvalidate";
inline constexpr char JPEGFALLBACK[] = "jpegfallback";
inline constexpr char MJPEGHTTPSINK[] = "mjpeghttpsink";
inline constexpr char PULLJPEGSRC[] = "pulljpegsrc";
inline constexpr char JPEGRECORDSINK[] = "jpegrecordsink";
inline constexpr char H264RELAYSINK[] = "h264relaysink";
inline constexpr char JPEGMOTION[] = "jpegmotion";

inline constexpr const char *FACTORIES[] = {
  WSJPEGSRC,
  JPEGVALIDATE,
  JPEGFALLBACK,
  MJPEGHTTPSINK,
  PULLJPEGSRC,
  JPEGRECORDSINK,
  H264RELAYSINK,
  JPEGMOTION,
};

/* Properties the program reads back (g_object_get) or sets on an element it makes itself
 * (g_object_set). The ones it sets through a description are checked against the element's own
 * property by the generated line (see pipelinegen.cpp). */

inline constexpr char STATS[] = "stats";
inline constexpr char BOUND_PORT[] = "bound-port";
inline constexpr char ADDRESS[] = "address";
inline constexpr char PORT[] = "port";
inline constexpr char PATHS[] = "paths";
inline constexpr char SECRET[] = "secret";
inline constexpr char PATH[] = "path";
inline constexpr char SNAPSHOT_PATH[] = "snapshot-path";
inline constexpr char MIN_SIZE[] = "min-size";
inline constexpr char MAX_SIZE[] = "max-size";
inline constexpr char MAX_WIDTH[] = "max-width";
inline constexpr char MAX_HEIGHT[] = "max-height";
inline constexpr char DECODE_CHECK[] = "decode-check";
inline constexpr char ACTIVE[] = "active";
inline constexpr char LOCATION[] = "location";
inline constexpr char KEEP_VIEWERS[] = "keep-viewers";
inline constexpr char SNAPSHOT_WAIT[] = "snapshot-wait";
inline constexpr char STOP_WHEN_IDLE[] = "stop-when-idle";
inline constexpr char OPEN[] = "open";

/* A fundamental GType as a function, like gst_structure_get_type (GST_TYPE_STRUCTURE is a
 * variable, so a constant table names the types through functions). */
template<GType T>
GType
fundamental ()
{
  return T;
}

struct Property
{
  const char *factory;
  const char *name;
  GType (*type) ();   /* the value type the program passes to g_object_get/set */
  GParamFlags access; /* G_PARAM_READABLE or G_PARAM_WRITABLE: what the program does with it */
};

inline constexpr GParamFlags READ = G_PARAM_READABLE;
inline constexpr GParamFlags WRITE = G_PARAM_WRITABLE;

inline constexpr Property PROPERTIES[] = {
  { WSJPEGSRC, STATS, gst_structure_get_type, READ },
  { WSJPEGSRC, BOUND_PORT, fundamental<G_TYPE_UINT>, READ },
  { WSJPEGSRC, ADDRESS, fundamental<G_TYPE_STRING>, READ },
  { WSJPEGSRC, PORT, fundamental<G_TYPE_UINT>, READ },
  { WSJPEGSRC, PATHS, fundamental<G_TYPE_STRING>, READ },
  { WSJPEGSRC, SECRET, fundamental<G_TYPE_STRING>, READ },
  { JPEGVALIDATE, STATS, gst_structure_get_type, READ },
  { JPEGVALIDATE, MIN_SIZE, fundamental<G_TYPE_UINT>, WRITE },
  { JPEGVALIDATE, MAX_SIZE, fundamental<G_TYPE_UINT>, WRITE },
  { JPEGVALIDATE, MAX_WIDTH, fundamental<G_TYPE_UINT>, WRITE },
  { JPEGVALIDATE, MAX_HEIGHT, fundamental<G_TYPE_UINT>, WRITE },
  { JPEGVALIDATE, DECODE_CHECK, fundamental<G_TYPE_BOOLEAN>, WRITE },
  { JPEGFALLBACK, STATS, gst_structure_get_type, READ },
  { MJPEGHTTPSINK, STATS, gst_structure_get_type, READ },
  { MJPEGHTTPSINK, BOUND_PORT, fundamental<G_TYPE_UINT>, READ },
  { MJPEGHTTPSINK, ADDRESS, fundamental<G_TYPE_STRING>, READ },
  { MJPEGHTTPSINK, PORT, fundamental<G_TYPE_UINT>, READ },
  { MJPEGHTTPSINK, PATH, fundamental<G_TYPE_STRING>, READ },
  { MJPEGHTTPSINK, SNAPSHOT_PATH, fundamental<G_TYPE_STRING>, READ },
  { MJPEGHTTPSINK, KEEP_VIEWERS, fundamental<G_TYPE_UINT64>, WRITE },
  { MJPEGHTTPSINK, SNAPSHOT_WAIT, fundamental<G_TYPE_UINT64>, WRITE },
  { WSJPEGSRC, STOP_WHEN_IDLE, fundamental<G_TYPE_BOOLEAN>, WRITE },
  { PULLJPEGSRC, STATS, gst_structure_get_type, READ },
  { PULLJPEGSRC, ACTIVE, fundamental<G_TYPE_BOOLEAN>, WRITE },
  { PULLJPEGSRC, LOCATION, fundamental<G_TYPE_STRING>, READ },
  { JPEGRECORDSINK, STATS, gst_structure_get_type, READ },
  { H264RELAYSINK, STATS, gst_structure_get_type, READ },
  { JPEGRECORDSINK, OPEN, fundamental<G_TYPE_BOOLEAN>, WRITE },
  { JPEGMOTION, STATS, gst_structure_get_type, READ },
};

/* Element messages (their structure names). */

inline constexpr char MSG_CONNECTED[] = "wsjpegsrc-connected";
inline constexpr char MSG_DISCONNECTED[] = "wsjpegsrc-disconnected";
inline constexpr char MSG_SWITCHED[] = "jpegfallback-switched";
inline constexpr char MSG_REJECTED[] = "jpegvalidate-rejected";
inline constexpr char MSG_PULL_STATE[] = "pulljpegsrc-state";
inline constexpr char MSG_WANTED[] = "mjpeghttpsink-wanted";
inline constexpr char MSG_RECORD_STATE[] = "jpegrecordsink-state";
inline constexpr char MSG_MOTION_START[] = "motion-start";
inline constexpr char MSG_MOTION_END[] = "motion-end";

inline constexpr const char *MESSAGES[] = {
  MSG_CONNECTED,
  MSG_DISCONNECTED,
  MSG_SWITCHED,
  MSG_REJECTED,
  MSG_PULL_STATE,
  MSG_WANTED,
  MSG_RECORD_STATE,
  MSG_MOTION_START,
  MSG_MOTION_END,
};

/* The values of pulljpegsrc's "state" the program tells apart. */
inline constexpr char PULL_STREAMING[] = "streaming";
inline constexpr char PULL_RETRYING[] = "retrying";

/* The values of jpegrecordsink's "state" (stats field and message field) the program tells apart.
 */
inline constexpr char RECORD_RECORDING[] = "recording";
inline constexpr char RECORD_PAUSED[] = "paused";

/* The values of jpegfallback's "active" (stats field and message field) the program tells apart. */
inline constexpr char ACTIVE_LIVE[] = "live";
inline constexpr char ACTIVE_PLACEHOLDER[] = "placeholder";

/* Fields of "stats" structures and of messages. */

enum class Field
{
  /* wsjpegsrc stats */
  SrcConnections,
  SrcMessages,
  SrcBytes,
  SrcTextMessages,
  SrcRefusedMessages,
  SrcProtocolErrors,
  SrcInvalidUtf8,
  SrcConnectionsLost,
  SrcUnauthorized,
  SrcTakeovers,
  SrcPings,
  SrcDropped,
  SrcConnected,
  SrcPeer,
  /* jpegvalidate stats: totals, then one counter per rejection reason */
  ValidateAccepted,
  ValidateRejected,
  ValidateBytesAccepted,
  ValidateTrimmed,
  ValidateDhtInserted,
  ValidateTooSmall,
  ValidateTooLarge,
  ValidateNotJpeg,
  ValidateTruncated,
  ValidateMalformed,
  ValidateMerged,
  ValidateDecodeFailed,
  /* jpegfallback stats */
  FallbackSwitches,
  FallbackPlaceholderFrames,
  FallbackTimeOnPlaceholder,
  FallbackActive,
  /* mjpeghttpsink stats */
  SinkViewers,
  SinkViewersTotal,
  SinkViewersRefused,
  SinkViewersStalled,
  SinkPartsSent,
  SinkPartsSkipped,
  SinkBytesSent,
  SinkSnapshots,
  /* messages */
  ConnectedPeer,
  ConnectedPath,
  DisconnectedPeer,
  DisconnectedCode,
  DisconnectedReason,
  SwitchedActive,
  SwitchedReason,
  RejectedReason,
  RejectedDetail,
  RejectedSize,
  RejectedCount,
  RejectedSuppressed,
  /* pulljpegsrc stats, then its message */
  PullLocation,
  PullState,
  PullLastError,
  PullReconnects,
  PullFrames,
  PullBytes,
  PullSnapshots,
  PullDropped,
  PullStateLocation,
  PullStateState,
  PullStateReason,
  /* jpegrecordsink stats, then its message */
  RecordState,
  RecordReason,
  RecordFrames,
  RecordBytes,
  RecordSegments,
  RecordSkipped,
  RecordErrors,
  RecordLastError,
  RecordLastErrorTime,
  RecordFile,
  RecordStateState,
  RecordStateReason,
  RecordStateLocation,
  /* h264relaysink stats */
  H264Consumers,
  H264ConsumersRtsp,
  H264ConsumersWebrtc,
  H264RtspViewers,
  H264EncoderRunning,
  H264EncodeTime,
  H264Bitrate,
  H264EncoderStarts,
  H264FramesEncoded,
  H264BytesEncoded,
  H264BytesOutRtsp,
  H264BytesOutWebrtc,
  /* jpegmotion stats, then its messages */
  MotionMotion,
  MotionArea,
  MotionFrames,
  MotionAnalysed,
  MotionSkipped,
  MotionDecodeErrors,
  MotionLightChanges,
  MotionEvents,
  MotionStartCamera,
  MotionStartTime,
  MotionStartArea,
  MotionEndCamera,
  MotionEndTime,
  MotionEndArea,
  COUNT
};

enum class Source
{
  Stats,   /* owner: the factory whose "stats" property holds the field */
  Message, /* owner: the name of the element message */
};

struct FieldSpec
{
  Field id;
  Source source;
  const char *owner;
  const char *name;
  GType type;
};

inline constexpr FieldSpec FIELDS[] = {
  { Field::SrcConnections, Source::Stats, WSJPEGSRC, "connections", G_TYPE_UINT64 },
  { Field::SrcMessages, Source::Stats, WSJPEGSRC, "messages", G_TYPE_UINT64 },
  { Field::SrcBytes, Source::Stats, WSJPEGSRC, "bytes", G_TYPE_UINT64 },
  { Field::SrcTextMessages, Source::Stats, WSJPEGSRC, "text-messages", G_TYPE_UINT64 },
  { Field::SrcRefusedMessages, Source::Stats, WSJPEGSRC, "refused-messages", G_TYPE_UINT64 },
  { Field::SrcProtocolErrors, Source::Stats, WSJPEGSRC, "protocol-errors", G_TYPE_UINT64 },
  { Field::SrcInvalidUtf8, Source::Stats, WSJPEGSRC, "invalid-utf8", G_TYPE_UINT64 },
  { Field::SrcConnectionsLost, Source::Stats, WSJPEGSRC, "connections-lost", G_TYPE_UINT64 },
  { Field::SrcUnauthorized, Source::Stats, WSJPEGSRC, "unauthorized", G_TYPE_UINT64 },
  { Field::SrcTakeovers, Source::Stats, WSJPEGSRC, "takeovers", G_TYPE_UINT64 },
  { Field::SrcPings, Source::Stats, WSJPEGSRC, "pings", G_TYPE_UINT64 },
  { Field::SrcDropped, Source::Stats, WSJPEGSRC, "dropped", G_TYPE_UINT64 },
  { Field::SrcConnected, Source::Stats, WSJPEGSRC, "connected", G_TYPE_BOOLEAN },
  { Field::SrcPeer, Source::Stats, WSJPEGSRC, "peer", G_TYPE_STRING },

  { Field::ValidateAccepted, Source::Stats, JPEGVALIDATE, "accepted", G_TYPE_UINT64 },
  { Field::ValidateRejected, Source::Stats, JPEGVALIDATE, "rejected", G_TYPE_UINT64 },
  { Field::ValidateBytesAccepted, Source::Stats, JPEGVALIDATE, "bytes-accepted", G_TYPE_UINT64 },
  { Field::ValidateTrimmed, Source::Stats, JPEGVALIDATE, "trimmed", G_TYPE_UINT64 },
  { Field::ValidateDhtInserted, Source::Stats, JPEGVALIDATE, "dht-inserted", G_TYPE_UINT64 },
  { Field::ValidateTooSmall, Source::Stats, JPEGVALIDATE, "too-small", G_TYPE_UINT64 },
  { Field::ValidateTooLarge, Source::Stats, JPEGVALIDATE, "too-large", G_TYPE_UINT64 },
  { Field::ValidateNotJpeg, Source::Stats, JPEGVALIDATE, "not-jpeg", G_TYPE_UINT64 },
  { Field::ValidateTruncated, Source::Stats, JPEGVALIDATE, "truncated", G_TYPE_UINT64 },
  { Field::ValidateMalformed, Source::Stats, JPEGVALIDATE, "malformed", G_TYPE_UINT64 },
  { Field::ValidateMerged, Source::Stats, JPEGVALIDATE, "merged", G_TYPE_UINT64 },
  { Field::ValidateDecodeFailed, Source::Stats, JPEGVALIDATE, "decode-failed", G_TYPE_UINT64 },

  { Field::FallbackSwitches, Source::Stats, JPEGFALLBACK, "switches", G_TYPE_UINT64 },
  { Field::FallbackPlaceholderFrames, Source::Stats, JPEGFALLBACK, "placeholder-frames",
      G_TYPE_UINT64 },
  { Field::FallbackTimeOnPlaceholder, Source::Stats, JPEGFALLBACK, "time-on-placeholder",
      G_TYPE_UINT64 },
  { Field::FallbackActive, Source::Stats, JPEGFALLBACK, "active", G_TYPE_STRING },

  { Field::SinkViewers, Source::Stats, MJPEGHTTPSINK, "viewers", G_TYPE_UINT },
  { Field::SinkViewersTotal, Source::Stats, MJPEGHTTPSINK, "viewers-total", G_TYPE_UINT64 },
  { Field::SinkViewersRefused, Source::Stats, MJPEGHTTPSINK, "viewers-refused", G_TYPE_UINT64 },
  { Field::SinkViewersStalled, Source::Stats, MJPEGHTTPSINK, "viewers-stalled", G_TYPE_UINT64 },
  { Field::SinkPartsSent, Source::Stats, MJPEGHTTPSINK, "parts-sent", G_TYPE_UINT64 },
  { Field::SinkPartsSkipped, Source::Stats, MJPEGHTTPSINK, "parts-skipped", G_TYPE_UINT64 },
  { Field::SinkBytesSent, Source::Stats, MJPEGHTTPSINK, "bytes-sent", G_TYPE_UINT64 },
  { Field::SinkSnapshots, Source::Stats, MJPEGHTTPSINK, "snapshots", G_TYPE_UINT64 },

  { Field::ConnectedPeer, Source::Message, MSG_CONNECTED, "peer", G_TYPE_STRING },
  { Field::ConnectedPath, Source::Message, MSG_CONNECTED, "path", G_TYPE_STRING },
  { Field::DisconnectedPeer, Source::Message, MSG_DISCONNECTED, "peer", G_TYPE_STRING },
  { Field::DisconnectedCode, Source::Message, MSG_DISCONNECTED, "code", G_TYPE_UINT },
  { Field::DisconnectedReason, Source::Message, MSG_DISCONNECTED, "reason", G_TYPE_STRING },
  { Field::SwitchedActive, Source::Message, MSG_SWITCHED, "active", G_TYPE_STRING },
  { Field::SwitchedReason, Source::Message, MSG_SWITCHED, "reason", G_TYPE_STRING },
  { Field::RejectedReason, Source::Message, MSG_REJECTED, "reason", G_TYPE_STRING },
  { Field::RejectedDetail, Source::Message, MSG_REJECTED, "detail", G_TYPE_STRING },
  { Field::RejectedSize, Source::Message, MSG_REJECTED, "size", G_TYPE_UINT64 },
  { Field::RejectedCount, Source::Message, MSG_REJECTED, "count", G_TYPE_UINT64 },
  { Field::RejectedSuppressed, Source::Message, MSG_REJECTED, "suppressed", G_TYPE_UINT64 },

  { Field::PullLocation, Source::Stats, PULLJPEGSRC, "location", G_TYPE_STRING },
  { Field::PullState, Source::Stats, PULLJPEGSRC, "state", G_TYPE_STRING },
  { Field::PullLastError, Source::Stats, PULLJPEGSRC, "last-error", G_TYPE_STRING },
  { Field::PullReconnects, Source::Stats, PULLJPEGSRC, "reconnects", G_TYPE_UINT64 },
  { Field::PullFrames, Source::Stats, PULLJPEGSRC, "frames", G_TYPE_UINT64 },
  { Field::PullBytes, Source::Stats, PULLJPEGSRC, "bytes", G_TYPE_UINT64 },
  { Field::PullSnapshots, Source::Stats, PULLJPEGSRC, "snapshots", G_TYPE_UINT64 },
  { Field::PullDropped, Source::Stats, PULLJPEGSRC, "dropped", G_TYPE_UINT64 },
  { Field::PullStateLocation, Source::Message, MSG_PULL_STATE, "location", G_TYPE_STRING },
  { Field::PullStateState, Source::Message, MSG_PULL_STATE, "state", G_TYPE_STRING },
  { Field::PullStateReason, Source::Message, MSG_PULL_STATE, "reason", G_TYPE_STRING },

  { Field::RecordState, Source::Stats, JPEGRECORDSINK, "state", G_TYPE_STRING },
  { Field::RecordReason, Source::Stats, JPEGRECORDSINK, "reason", G_TYPE_STRING },
  { Field::RecordFrames, Source::Stats, JPEGRECORDSINK, "frames", G_TYPE_UINT64 },
  { Field::RecordBytes, Source::Stats, JPEGRECORDSINK, "bytes", G_TYPE_UINT64 },
  { Field::RecordSegments, Source::Stats, JPEGRECORDSINK, "segments", G_TYPE_UINT64 },
  { Field::RecordSkipped, Source::Stats, JPEGRECORDSINK, "skipped", G_TYPE_UINT64 },
  { Field::RecordErrors, Source::Stats, JPEGRECORDSINK, "errors", G_TYPE_UINT64 },
  { Field::RecordLastError, Source::Stats, JPEGRECORDSINK, "last-error", G_TYPE_STRING },
  { Field::RecordLastErrorTime, Source::Stats, JPEGRECORDSINK, "last-error-time", G_TYPE_INT64 },
  { Field::RecordFile, Source::Stats, JPEGRECORDSINK, "file", G_TYPE_STRING },
  { Field::RecordStateState, Source::Message, MSG_RECORD_STATE, "state", G_TYPE_STRING },
  { Field::RecordStateReason, Source::Message, MSG_RECORD_STATE, "reason", G_TYPE_STRING },
  { Field::RecordStateLocation, Source::Message, MSG_RECORD_STATE, "location", G_TYPE_STRING },

  { Field::H264Consumers, Source::Stats, H264RELAYSINK, "consumers", G_TYPE_UINT },
  { Field::H264ConsumersRtsp, Source::Stats, H264RELAYSINK, "consumers-rtsp", G_TYPE_UINT },
  { Field::H264ConsumersWebrtc, Source::Stats, H264RELAYSINK, "consumers-webrtc", G_TYPE_UINT },
  { Field::H264RtspViewers, Source::Stats, H264RELAYSINK, "rtsp-viewers", G_TYPE_UINT },
  { Field::H264EncoderRunning, Source::Stats, H264RELAYSINK, "encoder-running", G_TYPE_BOOLEAN },
  { Field::H264EncodeTime, Source::Stats, H264RELAYSINK, "encode-time", G_TYPE_UINT },
  { Field::H264Bitrate, Source::Stats, H264RELAYSINK, "bitrate", G_TYPE_UINT },
  { Field::H264EncoderStarts, Source::Stats, H264RELAYSINK, "encoder-starts", G_TYPE_UINT64 },
  { Field::H264FramesEncoded, Source::Stats, H264RELAYSINK, "frames-encoded", G_TYPE_UINT64 },
  { Field::H264BytesEncoded, Source::Stats, H264RELAYSINK, "bytes-encoded", G_TYPE_UINT64 },
  { Field::H264BytesOutRtsp, Source::Stats, H264RELAYSINK, "bytes-out-rtsp", G_TYPE_UINT64 },
  { Field::H264BytesOutWebrtc, Source::Stats, H264RELAYSINK, "bytes-out-webrtc", G_TYPE_UINT64 },
  { Field::MotionMotion, Source::Stats, JPEGMOTION, "motion", G_TYPE_BOOLEAN },
  { Field::MotionArea, Source::Stats, JPEGMOTION, "area", G_TYPE_DOUBLE },
  { Field::MotionFrames, Source::Stats, JPEGMOTION, "frames", G_TYPE_UINT64 },
  { Field::MotionAnalysed, Source::Stats, JPEGMOTION, "analysed", G_TYPE_UINT64 },
  { Field::MotionSkipped, Source::Stats, JPEGMOTION, "skipped", G_TYPE_UINT64 },
  { Field::MotionDecodeErrors, Source::Stats, JPEGMOTION, "decode-errors", G_TYPE_UINT64 },
  { Field::MotionLightChanges, Source::Stats, JPEGMOTION, "light-changes", G_TYPE_UINT64 },
  { Field::MotionEvents, Source::Stats, JPEGMOTION, "events", G_TYPE_UINT64 },
  { Field::MotionStartCamera, Source::Message, MSG_MOTION_START, "camera", G_TYPE_STRING },
  { Field::MotionStartTime, Source::Message, MSG_MOTION_START, "time", G_TYPE_INT64 },
  { Field::MotionStartArea, Source::Message, MSG_MOTION_START, "area", G_TYPE_DOUBLE },
  { Field::MotionEndCamera, Source::Message, MSG_MOTION_END, "camera", G_TYPE_STRING },
  { Field::MotionEndTime, Source::Message, MSG_MOTION_END, "time", G_TYPE_INT64 },
  { Field::MotionEndArea, Source::Message, MSG_MOTION_END, "area", G_TYPE_DOUBLE },
};

constexpr bool
fields_in_order ()
{
  for (gsize i = 0; i < G_N_ELEMENTS (FIELDS); i++) {
    if (FIELDS[i].id != static_cast<Field> (i))
      return false;
  }
  return true;
}

static_assert (G_N_ELEMENTS (FIELDS) == static_cast<gsize> (Field::COUNT),
    "every Field has its entry in FIELDS");
static_assert (fields_in_order (), "FIELDS lists the fields in the order of Field");

/* jpegvalidate's rejection reasons; /status and /metrics always show each, zeros included. */
inline constexpr Field REJECT_REASONS[] = {
  Field::ValidateTooSmall,
  Field::ValidateTooLarge,
  Field::ValidateNotJpeg,
  Field::ValidateTruncated,
  Field::ValidateMalformed,
  Field::ValidateMerged,
  Field::ValidateDecodeFailed,
};

constexpr const FieldSpec &
spec (Field f)
{
  return FIELDS[static_cast<gsize> (f)];
}

/* The field's name in its structure. */
constexpr const char *
name (Field f)
{
  return spec (f).name;
}

/* A stats counter's key in CameraStatus::counters: "FACTORY.FIELD", e.g. "wsjpegsrc.messages". */
inline std::string
counter_key (Field f)
{
  return std::string (spec (f).owner) + "." + spec (f).name;
}

}  // namespace elements
}  // namespace camrelay
