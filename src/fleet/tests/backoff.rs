use std::time::Duration;

use crate::fleet::backoff::*;
use crate::fleet::http::Head;
use crate::fleet::FleetError;

fn status(s: u16) -> FleetError {
    FleetError::Status {
        method: "GET",
        url: "u".into(),
        status: s,
        retry_after: None,
    }
}

#[test]
fn what_is_transient() {
    for s in [429, 409, 500, 502, 503, 599] {
        assert!(transient(&status(s)), "{s}");
    }
    for s in [400, 401, 403, 404, 410] {
        assert!(!transient(&status(s)), "{s}");
    }
    assert!(transient(&FleetError::Unreachable {
        host: "h".into(),
        source: std::io::Error::other("x")
    }));
    assert!(!transient(&FleetError::PinMismatch {
        host: "h".into(),
        seen: "s".into(),
        pins: 1
    }));
}

#[test]
fn delay_grows_is_capped_and_jittered() {
    assert_eq!(delay(1, 0.5), BASE);
    assert_eq!(delay(2, 0.5), BASE * 2);
    assert_eq!(delay(3, 0.5), BASE * 4);
    assert_eq!(delay(40, 0.5), MAX);
    assert_eq!(delay(u32::MAX, 0.5), MAX);
    assert_eq!(delay(1, 0.0), BASE.mul_f64(0.75));
    assert_eq!(delay(1, 1.0), BASE.mul_f64(1.25));
    // Out-of-range jitter is clamped, never a zero or huge pause.
    assert_eq!(delay(1, -3.0), BASE.mul_f64(0.75));
    assert!(delay(40, 9.0) <= MAX.mul_f64(1.25));
    let j = random_jitter();
    assert!((0.0..=1.0).contains(&j));
    assert!(delay(1, j) >= Duration::from_secs(22));
}

fn head(retry_after: &str) -> Head {
    Head {
        status: 503,
        headers: vec![("Retry-After".into(), retry_after.into())],
    }
}

#[test]
fn retry_after_in_seconds_and_as_a_date() {
    assert_eq!(retry_after(&head("120"), 0), Some(120));
    assert_eq!(retry_after(&head(" 7 "), 0), Some(7));
    // RFC 9110's example date is 784111777 in Unix seconds.
    let date = "Sun, 06 Nov 1994 08:49:37 GMT";
    assert_eq!(retry_after(&head(date), 784_111_777 - 90), Some(90));
    // A date already past means "now".
    assert_eq!(retry_after(&head(date), 784_111_777 + 5), Some(0));
    let leap = "Thu, 29 Feb 2024 00:00:00 GMT";
    assert_eq!(retry_after(&head(leap), 1_709_164_800), Some(0));
    assert_eq!(retry_after(&head(leap), 1_709_164_800 - 1), Some(1));
    for bad in [
        "soon",
        "-5",
        "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 25:00:00 GMT",
    ] {
        assert_eq!(retry_after(&head(bad), 0), None, "{bad}");
    }
    let none = Head {
        status: 503,
        headers: vec![],
    };
    assert_eq!(retry_after(&none, 0), None);
}

#[test]
fn the_server_s_retry_after_beats_the_back_off() {
    let asked = |secs| FleetError::Status {
        method: "GET",
        url: "u".into(),
        status: 429,
        retry_after: Some(secs),
    };
    assert_eq!(pause_after(&asked(600), 1, 0.0), Duration::from_secs(600));
    // Bounded both ways: never a busy loop, never longer than the longest pause.
    assert_eq!(pause_after(&asked(0), 1, 0.0), Duration::from_secs(1));
    assert_eq!(pause_after(&asked(1 << 40), 1, 0.0), MAX);
    // Without it: the back-off for transient errors, the normal interval otherwise.
    assert_eq!(pause_after(&status(503), 2, 0.5), delay(2, 0.5));
    assert_eq!(pause_after(&status(404), 2, 0.5), DEFAULT_SLEEP);
}
