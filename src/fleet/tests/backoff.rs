use std::time::Duration;

use crate::fleet::backoff::*;
use crate::fleet::FleetError;

fn status(s: u16) -> FleetError {
    FleetError::Status {
        method: "GET",
        url: "u".into(),
        status: s,
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
