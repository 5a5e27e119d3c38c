/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cr::Backoff, the one schedule of retries behind camera pipelines, pulled cameras, wsjpegsink,
 * MQTT and webhooks: the delays a user sees between tries (1 s, 2 s … 30 s), when they start
 * over, and that jitter only ever shortens them. */
#include "crbackoff.h"

#include <gtest/gtest.h>

#include <set>
#include <vector>

namespace {

std::vector<guint>
take (cr::Backoff & backoff, int n)
{
  std::vector<guint> delays;
  for (int i = 0; i < n; i++)
    delays.push_back (backoff.next_ms ());
  return delays;
}

TEST (Backoff, DoublesFromOneSecondUpToThirty)
{
  cr::Backoff backoff;
  EXPECT_EQ (take (backoff, 8),
      (std::vector<guint>{ 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000 }));
}

TEST (Backoff, ResetStartsOverAtTheInitialDelay)
{
  cr::Backoff backoff;
  take (backoff, 4);
  backoff.reset ();
  EXPECT_EQ (take (backoff, 3), (std::vector<guint>{ 1000, 2000, 4000 }));
}

TEST (Backoff, OnlyARunLongEnoughStartsOver)
{
  cr::BackoffSettings settings;
  settings.reset_after_us = 10 * G_USEC_PER_SEC;
  cr::Backoff backoff (settings);
  EXPECT_EQ (backoff.next_ms_after (0), 1000u);
  EXPECT_EQ (backoff.next_ms_after (3 * G_USEC_PER_SEC), 2000u) << "a short run is a failure";
  EXPECT_EQ (backoff.next_ms_after (9 * G_USEC_PER_SEC), 4000u);
  EXPECT_EQ (backoff.next_ms_after (10 * G_USEC_PER_SEC), 1000u) << "a healthy run starts over";
  EXPECT_EQ (backoff.next_ms_after (0), 2000u);
}

TEST (Backoff, WithoutAResetTimeALongRunDoesNotStartOver)
{
  cr::Backoff backoff;
  take (backoff, 3);
  EXPECT_EQ (backoff.next_ms_after (G_GINT64_CONSTANT (3600) * G_USEC_PER_SEC), 8000u);
}

TEST (Backoff, OtherInitialFactorAndMaximum)
{
  cr::Backoff backoff ({ 50, 1000, 3, 0.0, 0 });
  EXPECT_EQ (take (backoff, 6), (std::vector<guint>{ 50, 150, 450, 1000, 1000, 1000 }));
}

TEST (Backoff, AHugeFactorStopsAtTheMaximumInsteadOfWrapping)
{
  cr::Backoff backoff ({ 3000000, G_MAXUINT, 4000, 0.0, 0 });
  EXPECT_EQ (take (backoff, 4), (std::vector<guint>{ 3000000, G_MAXUINT, G_MAXUINT, G_MAXUINT }));
}

TEST (Backoff, JitterOnlyShortensEachDelayAndSpreadsThem)
{
  const double jitter = 0.25;
  std::set<guint> firsts;
  for (guint32 seed = 1; seed <= 50; seed++) {
    cr::Backoff backoff ({ 1000, 30000, 2, jitter, 0 }, seed);
    guint exact = 1000;
    for (guint delay : take (backoff, 7)) {
      EXPECT_LE (delay, exact) << "seed " << seed;
      EXPECT_GE (delay, exact * (1 - jitter)) << "seed " << seed;
      exact = std::min (exact * 2, 30000u);
    }
    backoff.reset ();
    firsts.insert (backoff.next_ms ());
  }
  /* Fifty clients that failed together come back spread over the first quarter second. */
  EXPECT_GE (firsts.size (), 20u);
  EXPECT_GE (*firsts.rbegin () - *firsts.begin (), 150u);
}

}  // namespace
