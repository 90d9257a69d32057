//! How long to wait before the next poll: the server's sleep when all went well, otherwise an
//! exponential back-off with jitter (so a fleet that lost its server does not come back in one
//! wave), reset by the next success.

use std::time::Duration;

use super::error::FleetError;
use super::http::Head;

/// The first pause after an error.
pub const BASE: Duration = Duration::from_secs(30);
/// The longest pause.
pub const MAX: Duration = Duration::from_secs(3600);
/// When the server names no sleep.
pub const DEFAULT_SLEEP: Duration = Duration::from_secs(300);

/// Whether an error is the server or network asking us to come back later (429, 409, 5xx, no
/// network, a broken download); everything else is retried at the normal interval.
pub fn transient(e: &FleetError) -> bool {
    match e {
        FleetError::Status { status, .. } => {
            *status == 429 || *status == 409 || (500..600).contains(status)
        }
        FleetError::Unreachable { .. } | FleetError::Download { .. } => true,
        _ => false,
    }
}

/// The pause after `failures` transient errors in a row (1 for the first), `jitter` in 0..1
/// spreading it over 75%..125%.
pub fn delay(failures: u32, jitter: f64) -> Duration {
    let exp = BASE.saturating_mul(1u32 << failures.saturating_sub(1).min(16));
    let capped = exp.min(MAX);
    let factor = 0.75 + 0.5 * jitter.clamp(0.0, 1.0);
    capped.mul_f64(factor)
}

/// A jitter value from the system's random source (0.5 when it is unavailable).
pub fn random_jitter() -> f64 {
    use rand_core::RngCore;
    let mut b = [0u8; 4];
    if rand_core::OsRng.try_fill_bytes(&mut b).is_err() {
        return 0.5;
    }
    f64::from(u32::from_le_bytes(b)) / f64::from(u32::MAX)
}

/// The pause before the next poll after `e`, the `failures`-th transient error in a row. A server
/// that names its own pause (Retry-After on a 429 or 503) is obeyed, within 1 s..[`MAX`], and
/// never answered sooner than it asked; otherwise [`delay`].
pub fn pause_after(e: &FleetError, failures: u32, jitter: f64) -> Duration {
    if let FleetError::Status {
        retry_after: Some(secs),
        ..
    } = e
    {
        return Duration::from_secs(*secs).clamp(Duration::from_secs(1), MAX);
    }
    if transient(e) {
        delay(failures, jitter)
    } else {
        DEFAULT_SLEEP
    }
}

/// Retry-After of an answer, in seconds from `now` (Unix seconds): RFC 9110 allows
/// delay-seconds or an HTTP-date (IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT"); a date in the
/// past is 0. Anything else is ignored.
pub fn retry_after(head: &Head, now: u64) -> Option<u64> {
    let v = head.header("retry-after")?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(secs);
    }
    http_date(v).map(|t| t.saturating_sub(now))
}

/// An IMF-fixdate as Unix seconds.
fn http_date(v: &str) -> Option<u64> {
    let f: Vec<&str> = v.split_ascii_whitespace().collect();
    let [_, day, mon, year, time, "GMT"] = f[..] else {
        return None;
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let m = MONTHS.iter().position(|x| *x == mon)? as u64 + 1;
    let (d, y): (u64, u64) = (day.parse().ok()?, year.parse().ok()?);
    let t: Vec<u64> = time
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, mi, s] = t[..] else { return None };
    if !(1..=31).contains(&d) || y < 1970 || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    Some(days_from_civil(y, m, d) * 86_400 + h * 3600 + mi * 60 + s)
}

/// Days since 1970-01-01 of a Gregorian date (Howard Hinnant's days_from_civil, for y >= 1970).
fn days_from_civil(y: u64, m: u64, d: u64) -> u64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}
