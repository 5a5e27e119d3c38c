/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: one camera's element counters, in fixed slots.
 *
 * /status and /metrics read about forty counters per camera for thousands of cameras, so a counter
 * is an index into an array (its elements::Field's slot, worked out at compile time from
 * elements::FIELDS), filled in one pass over a "stats" structure by quark: no key strings are
 * built, hashed or compared per request. Every guint64 field of a "stats" structure has a slot;
 * jpegrecordsink's have two, one for the sink named "record" and one for "timelapse". */
#pragma once

#include "elementfields.h"

#include <gst/gst.h>

#include <array>

namespace camrelay {

namespace counter_slots {

using elements::Field;

constexpr bool
is_counter (Field f)
{
  return elements::spec (f).source == elements::Source::Stats &&
      elements::spec (f).type == G_TYPE_UINT64;
}

constexpr bool
is_recorder (Field f)
{
  return is_counter (f) && std::string_view (elements::spec (f).owner) == elements::JPEGRECORDSINK;
}

constexpr gsize NONE = G_MAXSIZE;

/* slot[f]: where counter @f lives (its "record" sink's slot for a jpegrecordsink counter), NONE for
 * a field that is no counter; count: the slots of the first kind; recorders: of the second. */
struct Table
{
  std::array<gsize, static_cast<gsize> (Field::COUNT)> slot{};
  gsize count = 0;
  gsize recorders = 0;
};

constexpr Table
make_table ()
{
  Table t;
  for (gsize i = 0; i < t.slot.size (); i++) {
    Field f = static_cast<Field> (i);
    t.slot[i] = is_counter (f) ? t.count++ : NONE;
    if (is_recorder (f))
      t.recorders++;
  }
  return t;
}

inline constexpr Table TABLE = make_table ();

}  // namespace counter_slots

class CameraCounters
{
public:
  /* The slots: every counter, then the "timelapse" sink's jpegrecordsink counters. */
  static constexpr gsize SLOTS = counter_slots::TABLE.count + counter_slots::TABLE.recorders;

  /* A counter of the element that owns @f (a jpegrecordsink one: the "record" sink's). */
  guint64 get (elements::Field f) const
  {
    gsize s = counter_slots::TABLE.slot[static_cast<gsize> (f)];
    return s == counter_slots::NONE ? 0 : values_[s];
  }
  /* A jpegrecordsink counter of the "record" or the "timelapse" sink. */
  guint64 recorder (bool timelapse, elements::Field f) const;

  /* Adds the guint64 fields of @stats, the "stats" structure of an element of factory @owner
   * (@timelapse: the jpegrecordsink named "timelapse"). Fields the program does not list in
   * elementfields.h are left out. */
  void add (const GstStructure *stats, const char *owner, bool timelapse = false);
  CameraCounters & operator+= (const CameraCounters & other);

private:
  std::array<guint64, SLOTS> values_{};
};

/* The quark of @f's name, made once: the program reads fields of "stats" structures by it. */
GQuark field_quark (elements::Field f);

}  // namespace camrelay
