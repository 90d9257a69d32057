//! How long to wait before the next poll: the server's sleep when all went well, otherwise an
//! exponential back-off with jitter (so a fleet that lost its server does not come back in one
//! wave), reset by the next success.

use std::time::Duration;

use super::error::FleetError;

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
