//! Times in templates (what `now` gives): a moment in a zone, printed as Go
//! prints a `time.Time`, written in Go's reference-time layouts
//! (`2006-01-02 15:04:05`), and the zones `dateInZone` knows.

use std::fmt;

/// A moment and the zone it is shown in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Time {
    /// Nanoseconds since the Unix epoch.
    pub(crate) unix_nanos: i128,
    /// Seconds east of UTC.
    pub(crate) offset: i32,
    /// The zone's abbreviation (`UTC`, `CST`).
    pub(crate) zone: &'static str,
}

/// Zones without daylight saving time, by their IANA name (the gateway's
/// Wasm has no time-zone database).
pub(super) fn zone_offset(name: &str) -> Option<(i32, &'static str)> {
    const HOUR: i32 = 3600;
    Some(match name {
        "UTC" | "Etc/UTC" | "GMT" | "Etc/GMT" | "Local" | "" => (0, "UTC"),
        "Asia/Shanghai" | "Asia/Chongqing" | "Asia/Harbin" | "PRC" | "Asia/Taipei" => {
            (8 * HOUR, "CST")
        }
        "Asia/Hong_Kong" => (8 * HOUR, "HKT"),
        "Asia/Singapore" | "Asia/Kuala_Lumpur" | "Asia/Manila" => (8 * HOUR, "+08"),
        "Asia/Tokyo" => (9 * HOUR, "JST"),
        "Asia/Seoul" => (9 * HOUR, "KST"),
        "Asia/Kolkata" | "Asia/Calcutta" => (5 * HOUR + 1800, "IST"),
        "Asia/Dubai" => (4 * HOUR, "+04"),
        "Asia/Bangkok" | "Asia/Jakarta" | "Asia/Ho_Chi_Minh" => (7 * HOUR, "+07"),
        _ => return None,
    })
}

/// The civil date and time of a `Time` in its zone.
struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    nanos: u32,
    weekday: usize,
    year_day: u32,
}

impl Time {
    fn civil(self) -> Civil {
        let local = self.unix_nanos + i128::from(self.offset) * 1_000_000_000;
        let seconds = local.div_euclid(1_000_000_000) as i64;
        let nanos = local.rem_euclid(1_000_000_000) as u32;
        let (days, in_day) = (
            seconds.div_euclid(86_400),
            seconds.rem_euclid(86_400) as u32,
        );
        // Howard Hinnant's days-to-civil.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        const BEFORE: [u32; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
        let year_day = BEFORE[month as usize - 1] + day + u32::from(leap && month > 2);
        Civil {
            year,
            month,
            day,
            hour: in_day / 3600,
            minute: in_day / 60 % 60,
            second: in_day % 60,
            nanos,
            weekday: (days + 4).rem_euclid(7) as usize,
            year_day,
        }
    }

    pub(super) fn rfc3339(self) -> String {
        format_time("2006-01-02T15:04:05Z07:00", self)
    }
}

/// As Go prints a `time.Time` (`2006-01-02 15:04:05.999999999 -0700 MST`).
impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_time(
            "2006-01-02 15:04:05.999999999 -0700 MST",
            *self,
        ))
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// Go's `Time.Format`: the layout is the reference time
/// `Mon Jan 2 15:04:05 MST 2006` written as wanted.
pub(crate) fn format_time(layout: &str, time: Time) -> String {
    let c = time.civil();
    let mut out = String::new();
    let mut rest = layout;
    while !rest.is_empty() {
        let Some(token) = TOKENS.iter().find(|t| rest.starts_with(**t)) else {
            let c = rest.chars().next().unwrap_or_default();
            out.push(c);
            rest = &rest[c.len_utf8()..];
            continue;
        };
        out.push_str(&layout_token(token, &c, time));
        rest = &rest[token.len()..];
    }
    out
}

/// The layout's tokens.
// Longest first where one is the prefix of another.
const TOKENS: &[&str] = &[
    "January",
    "Monday",
    "2006",
    "Jan",
    "Mon",
    "MST",
    "Z07:00",
    "-07:00",
    "-0700",
    "Z0700",
    "-07",
    "002",
    "_2",
    "01",
    "02",
    "03",
    "04",
    "05",
    "06",
    "15",
    "PM",
    "pm",
    ".000000000",
    ".999999999",
    ".000000",
    ".999999",
    ".000",
    ".999",
    "1",
    "2",
    "3",
    "4",
    "5",
];

/// One token of a layout, written for this time.
fn layout_token(token: &str, c: &Civil, time: Time) -> String {
    let hour12 = match c.hour % 12 {
        0 => 12,
        h => h,
    };
    let offset = |colon: bool, z: bool| {
        if z && time.offset == 0 {
            return "Z".to_string();
        }
        let sign = if time.offset < 0 { '-' } else { '+' };
        let (h, m) = (time.offset.abs() / 3600, time.offset.abs() / 60 % 60);
        match colon {
            true => format!("{sign}{h:02}:{m:02}"),
            false => format!("{sign}{h:02}{m:02}"),
        }
    };
    match token {
        "January" => MONTHS[c.month as usize - 1].to_string(),
        "Jan" => MONTHS[c.month as usize - 1][..3].to_string(),
        "Monday" => DAYS[c.weekday].to_string(),
        "Mon" => DAYS[c.weekday][..3].to_string(),
        "2006" => format!("{:04}", c.year),
        "06" => format!("{:02}", c.year.rem_euclid(100)),
        "01" => format!("{:02}", c.month),
        "1" => c.month.to_string(),
        "02" => format!("{:02}", c.day),
        "_2" => format!("{:>2}", c.day),
        "2" => c.day.to_string(),
        "002" => format!("{:03}", c.year_day),
        "15" => format!("{:02}", c.hour),
        "03" => format!("{hour12:02}"),
        "3" => hour12.to_string(),
        "04" => format!("{:02}", c.minute),
        "4" => c.minute.to_string(),
        "05" => format!("{:02}", c.second),
        "5" => c.second.to_string(),
        "PM" => if c.hour >= 12 { "PM" } else { "AM" }.to_string(),
        "pm" => if c.hour >= 12 { "pm" } else { "am" }.to_string(),
        "MST" => time.zone.to_string(),
        "Z07:00" => offset(true, true),
        "Z0700" => offset(false, true),
        "-07:00" => offset(true, false),
        "-0700" => offset(false, false),
        "-07" => offset(false, false)[..3].to_string(),
        fraction => {
            let digits = fraction.len() - 1;
            let text = format!("{:09}", c.nanos);
            let text = &text[..digits];
            match fraction.as_bytes()[1] {
                b'9' => {
                    let trimmed = text.trim_end_matches('0');
                    match trimmed.is_empty() {
                        true => String::new(),
                        false => format!(".{trimmed}"),
                    }
                }
                _ => format!(".{text}"),
            }
        }
    }
}
