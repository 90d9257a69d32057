//! The station's screen: one row per unit (serial, product, phase, percent, MB/s, result code),
//! then the totals and the report path. Plain text, redrawn in place by the command line.

use super::{totals, Phase, UnitStatus};

/// The table as lines of text.
pub fn render(units: &[UnitStatus], report: Option<&str>) -> String {
    let mut s = format!(
        "{:<22} {:<14} {:<10} {:>4} {:>7} {:>5}\n",
        "SERIAL", "PRODUCT", "PHASE", "%", "MB/s", "CODE"
    );
    for u in units {
        let phase = match u.phase {
            Phase::Waiting => "waiting",
            Phase::Connecting => "connecting",
            Phase::Sending => "sending",
            Phase::Passed => "passed",
            Phase::Failed => "FAILED",
        };
        let code = if u.phase.done() {
            u.code.to_string()
        } else {
            "-".into()
        };
        s.push_str(&format!(
            "{:<22} {:<14} {:<10} {:>4} {:>7.1} {:>5}\n",
            clip(&u.serial, 22),
            clip(&u.product, 14),
            phase,
            u.percent,
            u.mb_per_s,
            code
        ));
    }
    let t = totals(units);
    s.push_str(&format!(
        "passed {}  failed {}  running {}",
        t.passed, t.failed, t.running
    ));
    if let Some(r) = report {
        s.push_str(&format!("  report {r}"));
    }
    s.push('\n');
    s
}

fn clip(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}
