#include "domain/time.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>

namespace {

using flashgate::domain::format_rfc3339;
using flashgate::domain::parse_duration_ms;
using flashgate::domain::parse_rfc3339;
using flashgate::domain::TimeMs;

// Milliseconds since the epoch of a UTC calendar time, computed independently
// of the code under test.
TimeMs utc_ms(int y, unsigned m, unsigned d, int hh = 0, int mm = 0, int ss = 0, int ms = 0) {
  using namespace std::chrono;
  const sys_days date = year{y} / month{m} / day{d};
  const auto t = date + hours{hh} + minutes{mm} + seconds{ss} + milliseconds{ms};
  return duration_cast<milliseconds>(t.time_since_epoch()).count();
}

// --- parse_rfc3339 ---

TEST(Rfc3339, ParsesUtcWithZ) {
  EXPECT_EQ(parse_rfc3339("1970-01-01T00:00:00Z"), TimeMs{0});
  EXPECT_EQ(parse_rfc3339("2000-01-01T00:00:00Z"), TimeMs{946'684'800'000});
  EXPECT_EQ(parse_rfc3339("2026-11-24T12:00:00Z"), utc_ms(2026, 11, 24, 12));
}

TEST(Rfc3339, AcceptsLowercaseTAndZ) {
  EXPECT_EQ(parse_rfc3339("2026-11-24t12:00:00z"), utc_ms(2026, 11, 24, 12));
}

TEST(Rfc3339, PositiveOffsetIsSubtracted) {
  EXPECT_EQ(parse_rfc3339("2026-11-24T14:00:00+02:00"), utc_ms(2026, 11, 24, 12));
}

TEST(Rfc3339, NegativeOffsetIsAdded) {
  EXPECT_EQ(parse_rfc3339("2026-11-24T06:30:00-05:30"), utc_ms(2026, 11, 24, 12));
}

TEST(Rfc3339, ZeroOffsetEqualsZ) {
  EXPECT_EQ(parse_rfc3339("2026-11-24T12:00:00+00:00"), parse_rfc3339("2026-11-24T12:00:00Z"));
  EXPECT_EQ(parse_rfc3339("2026-11-24T12:00:00-00:00"), parse_rfc3339("2026-11-24T12:00:00Z"));
}

TEST(Rfc3339, OffsetCrossesTheDateLine) {
  EXPECT_EQ(parse_rfc3339("2026-01-01T01:00:00+02:00"), utc_ms(2025, 12, 31, 23));
}

TEST(Rfc3339, FractionOfThreeDigitsIsMilliseconds) {
  EXPECT_EQ(parse_rfc3339("2026-11-24T12:00:00.123Z"), utc_ms(2026, 11, 24, 12, 0, 0, 123));
}

TEST(Rfc3339, ShortFractionIsScaled) {
  EXPECT_EQ(parse_rfc3339("2026-11-24T12:00:00.5Z"), utc_ms(2026, 11, 24, 12, 0, 0, 500));
  EXPECT_EQ(parse_rfc3339("2026-11-24T12:00:00.05Z"), utc_ms(2026, 11, 24, 12, 0, 0, 50));
}

TEST(Rfc3339, LongFractionIsTruncatedToMilliseconds) {
  EXPECT_EQ(parse_rfc3339("2026-11-24T12:00:00.123456789Z"), utc_ms(2026, 11, 24, 12, 0, 0, 123));
}

TEST(Rfc3339, FractionWithOffset) {
  EXPECT_EQ(parse_rfc3339("2026-11-24T13:00:00.250+01:00"), utc_ms(2026, 11, 24, 12, 0, 0, 250));
}

TEST(Rfc3339, LeapDayOfLeapYearsIsAccepted) {
  EXPECT_EQ(parse_rfc3339("2024-02-29T00:00:00Z"), utc_ms(2024, 2, 29));
  EXPECT_EQ(parse_rfc3339("2000-02-29T00:00:00Z"), utc_ms(2000, 2, 29));
}

TEST(Rfc3339, LastDayOfEachMonthIsAccepted) {
  EXPECT_TRUE(parse_rfc3339("2025-01-31T00:00:00Z"));
  EXPECT_TRUE(parse_rfc3339("2025-04-30T00:00:00Z"));
  EXPECT_TRUE(parse_rfc3339("2025-12-31T23:59:59Z"));
}

TEST(Rfc3339, ImpossibleDatesAreRefused) {
  EXPECT_FALSE(parse_rfc3339("2026-02-30T00:00:00Z"));
  EXPECT_FALSE(parse_rfc3339("2025-02-29T00:00:00Z"));  // not a leap year
  EXPECT_FALSE(parse_rfc3339("2100-02-29T00:00:00Z"));  // centuries are not, unless /400
  EXPECT_FALSE(parse_rfc3339("2026-04-31T00:00:00Z"));
  EXPECT_FALSE(parse_rfc3339("2026-13-01T00:00:00Z"));
  EXPECT_FALSE(parse_rfc3339("2026-00-10T00:00:00Z"));
  EXPECT_FALSE(parse_rfc3339("2026-11-00T00:00:00Z"));
  EXPECT_FALSE(parse_rfc3339("2026-11-32T00:00:00Z"));
}

TEST(Rfc3339, ImpossibleTimesAreRefused) {
  EXPECT_FALSE(parse_rfc3339("2026-11-24T24:00:00Z"));
  EXPECT_FALSE(parse_rfc3339("2026-11-24T12:60:00Z"));
  EXPECT_FALSE(parse_rfc3339("2026-11-24T12:00:61Z"));
  EXPECT_FALSE(parse_rfc3339("2026-11-24T12:00:00+24:00"));
  EXPECT_FALSE(parse_rfc3339("2026-11-24T12:00:00+02:60"));
}

TEST(Rfc3339, MissingOffsetIsRefused) {
  EXPECT_FALSE(parse_rfc3339("2026-11-24T12:00:00"));
  EXPECT_FALSE(parse_rfc3339("2026-11-24T12:00:00.123"));
}

TEST(Rfc3339, MalformedOffsetIsRefused) {
  EXPECT_FALSE(parse_rfc3339("2026-11-24T12:00:00+0200"));
  EXPECT_FALSE(parse_rfc3339("2026-11-24T12:00:00+02"));
  EXPECT_FALSE(parse_rfc3339("2026-11-24T12:00:00+2:00"));
  EXPECT_FALSE(parse_rfc3339("2026-11-24T12:00:00UTC"));
}

TEST(Rfc3339, GarbageIsRefused) {
  EXPECT_FALSE(parse_rfc3339(""));
  EXPECT_FALSE(parse_rfc3339("now"));
  EXPECT_FALSE(parse_rfc3339("2026-11-24"));
  EXPECT_FALSE(parse_rfc3339("2026-11-24T12:00Z"));
  EXPECT_FALSE(parse_rfc3339("2026/11/24T12:00:00Z"));
  EXPECT_FALSE(parse_rfc3339("2026-11-24X12:00:00Z"));
  EXPECT_FALSE(parse_rfc3339("20261124T120000Z"));
  EXPECT_FALSE(parse_rfc3339("1764000000"));
  EXPECT_FALSE(parse_rfc3339("2026-1a-24T12:00:00Z"));
  EXPECT_FALSE(parse_rfc3339("-026-11-24T12:00:00Z"));
}

TEST(Rfc3339, TrailingCharactersAreRefused) {
  EXPECT_FALSE(parse_rfc3339("2026-11-24T12:00:00Zjunk"));
  EXPECT_FALSE(parse_rfc3339("2026-11-24T12:00:00Z "));
  EXPECT_FALSE(parse_rfc3339("2026-11-24T12:00:00+02:00:00"));
}

TEST(Rfc3339, EmptyFractionIsRefused) {
  EXPECT_FALSE(parse_rfc3339("2026-11-24T12:00:00.Z"));
}

TEST(Rfc3339, EveryTruncationOfAValidTimeIsRefused) {
  const std::string full = "2026-11-24T12:00:00.123+02:00";
  for (std::size_t n = 0; n < full.size(); ++n) {
    // "...00.1", "...00.12" and "...00.123" are still missing their offset.
    EXPECT_FALSE(parse_rfc3339(full.substr(0, n))) << full.substr(0, n);
  }
  EXPECT_TRUE(parse_rfc3339(full));
}

// --- format_rfc3339 ---

TEST(Rfc3339, FormatsTheEpoch) { EXPECT_EQ(format_rfc3339(0), "1970-01-01T00:00:00.000Z"); }

TEST(Rfc3339, FormatsMillisecondsAndUtc) {
  EXPECT_EQ(format_rfc3339(utc_ms(2026, 11, 24, 12, 0, 0, 123)), "2026-11-24T12:00:00.123Z");
  EXPECT_EQ(format_rfc3339(utc_ms(2024, 2, 29, 23, 59, 59, 999)), "2024-02-29T23:59:59.999Z");
}

TEST(Rfc3339, FormatsTimesBeforeTheEpoch) {
  EXPECT_EQ(format_rfc3339(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(format_rfc3339(-1000), "1969-12-31T23:59:59.000Z");
  EXPECT_EQ(format_rfc3339(-86'400'000), "1969-12-31T00:00:00.000Z");
}

TEST(Rfc3339, FormatThenParseIsTheIdentity) {
  const TimeMs samples[] = {0,
                            1,
                            999,
                            1000,
                            -1,
                            -999,
                            -1001,
                            946'684'800'000,
                            utc_ms(2026, 11, 24, 12, 0, 0, 123),
                            utc_ms(2024, 2, 29, 12, 34, 56, 789),
                            utc_ms(2100, 3, 1),
                            utc_ms(1900, 1, 1, 0, 0, 0, 1),
                            utc_ms(9999, 12, 31, 23, 59, 59, 999)};
  for (TimeMs t : samples) {
    const std::string text = format_rfc3339(t);
    EXPECT_EQ(parse_rfc3339(text), t) << text;
  }
  // A sweep of odd steps through several years hits every month, day and time field.
  for (TimeMs t = utc_ms(2023, 1, 1); t < utc_ms(2027, 1, 1); t += 7'777'777'777 / 97) {
    EXPECT_EQ(parse_rfc3339(format_rfc3339(t)), t) << format_rfc3339(t);
  }
}

TEST(Rfc3339, ParseThenFormatGivesTheCanonicalUtcSpelling) {
  EXPECT_EQ(format_rfc3339(*parse_rfc3339("2026-11-24T14:00:00.5+02:00")), "2026-11-24T12:00:00.500Z");
  EXPECT_EQ(format_rfc3339(*parse_rfc3339("2026-11-24t12:00:00z")), "2026-11-24T12:00:00.000Z");
}

TEST(Rfc3339, FormatsLeapDaysAndTheDayAfter) {
  EXPECT_EQ(format_rfc3339(utc_ms(2000, 2, 29)), "2000-02-29T00:00:00.000Z");     // /400: leap
  EXPECT_EQ(format_rfc3339(utc_ms(2100, 2, 28, 23, 59, 59, 999)), "2100-02-28T23:59:59.999Z");
  EXPECT_EQ(format_rfc3339(utc_ms(2100, 3, 1)), "2100-03-01T00:00:00.000Z");       // /100: not leap
  EXPECT_EQ(format_rfc3339(utc_ms(2024, 12, 31, 23, 59, 59, 999)), "2024-12-31T23:59:59.999Z");  // day 366
  EXPECT_EQ(format_rfc3339(utc_ms(2025, 1, 1)), "2025-01-01T00:00:00.000Z");
}

TEST(Rfc3339, MillisecondsAreAlwaysThreeDigits) {
  const TimeMs second = utc_ms(2026, 11, 24, 12);
  EXPECT_EQ(format_rfc3339(second), "2026-11-24T12:00:00.000Z");
  EXPECT_EQ(format_rfc3339(second + 7), "2026-11-24T12:00:00.007Z");
  EXPECT_EQ(format_rfc3339(second + 45), "2026-11-24T12:00:00.045Z");
  EXPECT_EQ(format_rfc3339(second + 100), "2026-11-24T12:00:00.100Z");
  EXPECT_EQ(format_rfc3339(second + 999), "2026-11-24T12:00:00.999Z");
}

TEST(Rfc3339, FormatsTheFirstAndLastFourDigitYears) {
  EXPECT_EQ(format_rfc3339(utc_ms(0, 1, 1)), "0000-01-01T00:00:00.000Z");
  EXPECT_EQ(format_rfc3339(utc_ms(999, 12, 31, 23, 59, 59, 999)), "0999-12-31T23:59:59.999Z");
  EXPECT_EQ(format_rfc3339(utc_ms(9999, 12, 31, 23, 59, 59, 999)), "9999-12-31T23:59:59.999Z");
}

TEST(Rfc3339, YearsOutsideFourDigitsKeepPrintfsSpelling) {
  EXPECT_EQ(format_rfc3339(utc_ms(10000, 1, 1)), "10000-01-01T00:00:00.000Z");
  EXPECT_EQ(format_rfc3339(utc_ms(-1, 12, 31, 23, 59, 59, 999)), "-001-12-31T23:59:59.999Z");
}

TEST(Rfc3339, ExtremeTimesFormatWithoutOverflow) {
  for (TimeMs t : {std::numeric_limits<TimeMs>::min(), std::numeric_limits<TimeMs>::min() + 1,
                   std::numeric_limits<TimeMs>::max()}) {
    const std::string text = format_rfc3339(t);
    EXPECT_LT(text.size(), flashgate::domain::rfc3339_buffer_size) << text;
    EXPECT_EQ(text.back(), 'Z') << text;
  }
}

// Every field against std::chrono's calendar, across the years printf and the
// fast path share and beyond them on both sides.
TEST(Rfc3339, FormatAgreesWithChronosCalendar) {
  using namespace std::chrono;
  auto expected = [](TimeMs t) {
    const sys_time<milliseconds> tp{milliseconds{t}};
    const auto day = floor<days>(tp);
    const year_month_day ymd{day};
    const hh_mm_ss hms{tp - day};
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                  static_cast<int>(hms.seconds().count()), static_cast<int>(hms.subseconds().count()));
    return std::string(buf);
  };
  const TimeMs from = utc_ms(-30, 1, 1), to = utc_ms(12000, 1, 1);
  for (TimeMs t = from; t < to; t += 9'876'543'211 + 7) EXPECT_EQ(format_rfc3339(t), expected(t)) << t;
  // Both sides of every midnight of a leap and a common year.
  for (TimeMs day = utc_ms(2024, 1, 1); day < utc_ms(2026, 1, 1); day += 86'400'000)
    for (TimeMs t : {day - 1, day, day + 1}) ASSERT_EQ(format_rfc3339(t), expected(t)) << t;
}

TEST(Rfc3339, BufferFormIsTheSameText) {
  char buf[flashgate::domain::rfc3339_buffer_size];
  for (TimeMs t : {TimeMs{0}, TimeMs{-1}, utc_ms(2026, 11, 24, 12, 0, 0, 123), utc_ms(10000, 1, 1)})
    EXPECT_EQ(format_rfc3339(t, buf), format_rfc3339(t));
}

// --- parse_duration_ms ---

TEST(Duration, Milliseconds) { EXPECT_EQ(parse_duration_ms("250ms"), 250); }
TEST(Duration, Seconds) { EXPECT_EQ(parse_duration_ms("2s"), 2000); }
TEST(Duration, Minutes) { EXPECT_EQ(parse_duration_ms("15m"), 900'000); }
TEST(Duration, Hours) { EXPECT_EQ(parse_duration_ms("1h"), 3'600'000); }

TEST(Duration, BareZeroIsZero) {
  EXPECT_EQ(parse_duration_ms("0"), 0);
  EXPECT_EQ(parse_duration_ms("0ms"), 0);
  EXPECT_EQ(parse_duration_ms("0s"), 0);
}

TEST(Duration, ContractExamples) {
  EXPECT_EQ(parse_duration_ms("3600s"), 3'600'000);
  EXPECT_EQ(parse_duration_ms("20ms"), 20);
  EXPECT_EQ(parse_duration_ms("3s"), 3000);
}

TEST(Duration, EmptyIsRefused) { EXPECT_FALSE(parse_duration_ms("")); }
TEST(Duration, NumberWithoutUnitIsRefused) { EXPECT_FALSE(parse_duration_ms("5")); }
TEST(Duration, NegativeIsRefused) {
  EXPECT_FALSE(parse_duration_ms("-1s"));
  EXPECT_FALSE(parse_duration_ms("-250ms"));
}
TEST(Duration, UnknownUnitIsRefused) {
  EXPECT_FALSE(parse_duration_ms("1d"));
  EXPECT_FALSE(parse_duration_ms("1us"));
  EXPECT_FALSE(parse_duration_ms("1sec"));
}
TEST(Duration, FractionIsRefused) {
  EXPECT_FALSE(parse_duration_ms("1.5s"));
  EXPECT_FALSE(parse_duration_ms(".5s"));
}
TEST(Duration, UnitWithoutNumberIsRefused) {
  EXPECT_FALSE(parse_duration_ms("s"));
  EXPECT_FALSE(parse_duration_ms("ms"));
}
TEST(Duration, SpacesAndSignsAreRefused) {
  EXPECT_FALSE(parse_duration_ms(" 1s"));
  EXPECT_FALSE(parse_duration_ms("1s "));
  EXPECT_FALSE(parse_duration_ms("1 s"));
  EXPECT_FALSE(parse_duration_ms("+1s"));
}
TEST(Duration, CompoundIsRefused) { EXPECT_FALSE(parse_duration_ms("1h30m")); }

TEST(Duration, OverflowIsRefusedNotWrapped) {
  EXPECT_FALSE(parse_duration_ms("9223372036854775807h"));
  EXPECT_FALSE(parse_duration_ms("99999999999999999999ms"));
  EXPECT_EQ(parse_duration_ms("9223372036854775807ms"), std::numeric_limits<std::int64_t>::max());
}

}  // namespace
