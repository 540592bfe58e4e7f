//! Time as the domain sees it: whole seconds since the Unix epoch, passed in by
//! the edges (the core never reads a clock), printed as RFC 3339 in UTC.

use std::fmt;

/// A point in time, in seconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

pub const HOUR: i64 = 3600;
pub const DAY: i64 = 86_400;

impl Timestamp {
    pub fn plus_secs(self, secs: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(secs))
    }

    pub fn minus_secs(self, secs: i64) -> Timestamp {
        Timestamp(self.0.saturating_sub(secs))
    }

    /// Parses `YYYY-MM-DD` (midnight UTC) or an RFC 3339 date-time
    /// (`YYYY-MM-DDTHH:MM:SS` with `Z` or a `±HH:MM` offset, optional fraction).
    pub fn parse(text: &str) -> Option<Timestamp> {
        let t = text.trim();
        let b = t.as_bytes();
        if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let year: i64 = t.get(0..4)?.parse().ok()?;
        let month: u32 = t.get(5..7)?.parse().ok()?;
        let day: u32 = t.get(8..10)?.parse().ok()?;
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        let mut secs = days_from_civil(year, month, day) * DAY;
        if b.len() == 10 {
            return Some(Timestamp(secs));
        }
        if !matches!(b[10], b'T' | b't' | b' ') || b.len() < 19 || b[13] != b':' || b[16] != b':' {
            return None;
        }
        let hh: i64 = t.get(11..13)?.parse().ok()?;
        let mm: i64 = t.get(14..16)?.parse().ok()?;
        let ss: i64 = t.get(17..19)?.parse().ok()?;
        if hh > 23 || mm > 59 || ss > 60 {
            return None;
        }
        secs += hh * HOUR + mm * 60 + ss;
        let mut rest = t.get(19..)?;
        if let Some(frac) = rest.strip_prefix('.') {
            let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return None;
            }
            rest = frac.get(digits..)?;
        }
        let offset = match rest {
            "Z" | "z" => 0,
            _ => {
                let rb = rest.as_bytes();
                if rb.len() != 6 || rb[3] != b':' {
                    return None;
                }
                let sign = match rb[0] {
                    b'+' => 1,
                    b'-' => -1,
                    _ => return None,
                };
                let oh: i64 = rest.get(1..3)?.parse().ok()?;
                let om: i64 = rest.get(4..6)?.parse().ok()?;
                sign * (oh * HOUR + om * 60)
            }
        };
        Some(Timestamp(secs - offset))
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC, e.g. `2026-11-22T08:53:37Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0.div_euclid(DAY);
        let secs = self.0.rem_euclid(DAY);
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            secs / HOUR,
            (secs % HOUR) / 60,
            secs % 60
        )
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

// Howard Hinnant's civil-date algorithms: exact for the whole proleptic
// Gregorian calendar, no tables, no allocation.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_round_trip() {
        let cases = [
            (0, "1970-01-01T00:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (1_795_337_617, "2026-11-22T08:53:37Z"),
            (-86_400, "1969-12-31T00:00:00Z"),
        ];
        for (secs, text) in cases {
            assert_eq!(Timestamp(secs).to_string(), text);
            assert_eq!(Timestamp::parse(text), Some(Timestamp(secs)), "{text}");
        }
    }

    #[test]
    fn parses_dates_offsets_and_fractions() {
        assert_eq!(Timestamp::parse("1970-01-02"), Some(Timestamp(86_400)));
        assert_eq!(
            Timestamp::parse("1970-01-01T01:00:00+01:00"),
            Some(Timestamp(0))
        );
        assert_eq!(
            Timestamp::parse("1970-01-01T00:00:00.250Z"),
            Some(Timestamp(0))
        );
    }

    #[test]
    fn rejects_nonsense() {
        for bad in [
            "",
            "yesterday",
            "2026-13-01",
            "2026-02-30",
            "2026-01-01T25:00:00Z",
            "2026-01-01T00:00:00",
        ] {
            assert_eq!(Timestamp::parse(bad), None, "{bad}");
        }
    }
}
