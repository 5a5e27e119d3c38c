/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: one camera's element counters, in fixed slots. */
#include "cameracounters.h"

#include <cstring>
#include <vector>

namespace camrelay {

using elements::Field;

namespace {

/* Each field's quark, interned once (thread-safe static initialisation). */
const std::array<GQuark, static_cast<gsize> (Field::COUNT)> &
quarks ()
{
  static const auto table = [] {
    std::array<GQuark, static_cast<gsize> (Field::COUNT)> q{};
    for (gsize i = 0; i < q.size (); i++)
      q[i] = g_quark_from_static_string (elements::FIELDS[i].name);
    return q;
  }();
  return table;
}

/* The counters one factory's "stats" holds: its quark and its slot. */
struct Counter
{
  GQuark quark;
  gsize slot;
};

const std::vector<Counter> &
counters_of (const char *owner)
{
  static const auto table = [] {
    std::vector<std::pair<const char *, std::vector<Counter>>> t;
    for (const char *factory : elements::FACTORIES) {
      std::vector<Counter> list;
      for (gsize i = 0; i < static_cast<gsize> (Field::COUNT); i++) {
        const auto & spec = elements::FIELDS[i];
        if (counter_slots::is_counter (spec.id) && strcmp (spec.owner, factory) == 0)
          list.push_back ({ quarks ()[i], counter_slots::TABLE.slot[i] });
      }
      t.emplace_back (factory, std::move (list));
    }
    return t;
  }();
  for (const auto & [factory, list] : table) {
    if (strcmp (factory, owner) == 0)
      return list;
  }
  static const std::vector<Counter> none;
  return none;
}

/* Where the "timelapse" sink's copy of a jpegrecordsink counter lives. */
gsize
timelapse_slot (gsize record_slot)
{
  static const gsize first = counter_slots::TABLE.slot[static_cast<gsize> (Field::RecordFrames)];
  return counter_slots::TABLE.count + (record_slot - first);
}

/* The recorder counters are contiguous (Field lists them in a row), so the second set maps by
 * offset. */
constexpr bool
recorders_contiguous ()
{
  gsize first = counter_slots::NONE, n = 0;
  for (gsize i = 0; i < static_cast<gsize> (Field::COUNT); i++) {
    if (!counter_slots::is_recorder (static_cast<Field> (i)))
      continue;
    if (first == counter_slots::NONE)
      first = counter_slots::TABLE.slot[i];
    if (counter_slots::TABLE.slot[i] != first + n++)
      return false;
  }
  return first == counter_slots::TABLE.slot[static_cast<gsize> (Field::RecordFrames)];
}
static_assert (recorders_contiguous (), "jpegrecordsink's counters follow each other in Field");

}  // namespace

GQuark
field_quark (Field f)
{
  return quarks ()[static_cast<gsize> (f)];
}

guint64
CameraCounters::recorder (bool timelapse, Field f) const
{
  gsize s = counter_slots::TABLE.slot[static_cast<gsize> (f)];
  if (s == counter_slots::NONE || !counter_slots::is_recorder (f))
    return 0;
  return values_[timelapse ? timelapse_slot (s) : s];
}

void
CameraCounters::add (const GstStructure *stats, const char *owner, bool timelapse)
{
  if (!stats)
    return;
  const auto & list = counters_of (owner);
  /* By quark: the counters an element lists are few, and its fields come in its own order. */
  for (const Counter & c : list) {
    const GValue *v = gst_structure_id_get_value (stats, c.quark);
    if (!v || !G_VALUE_HOLDS_UINT64 (v))
      continue;
    values_[timelapse ? timelapse_slot (c.slot) : c.slot] += g_value_get_uint64 (v);
  }
}

CameraCounters &
CameraCounters::operator+= (const CameraCounters & other)
{
  for (gsize i = 0; i < SLOTS; i++)
    values_[i] += other.values_[i];
  return *this;
}

}  // namespace camrelay
