//! The factory station: sideload one package to many units at once, speaking adb's transport
//! to each unit over TCP (the same [`crate::sideload`] messages, host side), and write one report
//! record per unit. The command line (`recovery-updater station`) draws [`view`] or prints JSON
//! lines; [`report`] writes the CSV / JSON-lines file. Units named by an adb serial, or found
//! with `adb devices` when none are named, go through the host's adb server instead
//! ([`adb_host`]).
//!
//! Each unit runs on its own thread; the caller polls [`Station::snapshot`] to draw.

pub mod adb_host;
pub mod report;
pub mod unit;
pub mod view;

use std::fs::File;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;

pub use adb_host::Target;
pub use unit::BLOCK_SIZE;

/// Where a unit is in its run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Waiting,
    Connecting,
    Sending,
    Passed,
    Failed,
}

impl Phase {
    pub fn done(self) -> bool {
        matches!(self, Phase::Passed | Phase::Failed)
    }
}

/// One unit's state: also its report record once the phase is final.
#[derive(Debug, Clone, Serialize)]
pub struct UnitStatus {
    /// What `--devices` named (HOST:PORT, or an adb serial), or the serial found by discovery.
    pub target: String,
    /// The serial adb shows for it (`HOST:PORT` over TCP).
    pub serial: String,
    /// `ro.product.name` from the unit's banner.
    pub product: String,
    pub phase: Phase,
    /// Package bytes sent (blocks asked twice count twice) and the package size.
    pub sent: u64,
    pub size: u64,
    pub percent: u8,
    pub mb_per_s: f64,
    pub seconds: f64,
    /// 0 when the unit installed the package; its failure code otherwise.
    pub code: u16,
    pub message: String,
}

impl UnitStatus {
    fn new(target: &str, size: u64) -> UnitStatus {
        UnitStatus {
            target: target.to_string(),
            serial: target.to_string(),
            product: String::new(),
            phase: Phase::Waiting,
            sent: 0,
            size,
            percent: 0,
            mb_per_s: 0.0,
            seconds: 0.0,
            code: 0,
            message: String::new(),
        }
    }
}

/// Totals for the summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub passed: usize,
    pub failed: usize,
    pub running: usize,
}

pub fn totals(units: &[UnitStatus]) -> Totals {
    let mut t = Totals::default();
    for u in units {
        match u.phase {
            Phase::Passed => t.passed += 1,
            Phase::Failed => t.failed += 1,
            _ => t.running += 1,
        }
    }
    t
}

/// A running station.
pub struct Station {
    units: Arc<Mutex<Vec<UnitStatus>>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Station {
    /// Starts one thread per target, each sideloading `package` (opened once, shared).
    pub fn start(package: &Path, targets: &[Target]) -> std::io::Result<Station> {
        let file = Arc::new(File::open(package)?);
        let size = file.metadata()?.len();
        let units = Arc::new(Mutex::new(
            targets
                .iter()
                .map(|t| UnitStatus::new(t.name(), size))
                .collect::<Vec<_>>(),
        ));
        let threads = (0..targets.len())
            .map(|i| {
                let (file, units, target) = (file.clone(), units.clone(), targets[i].clone());
                std::thread::spawn(move || {
                    unit::run(&target, &file, size, |s| {
                        if let Ok(mut u) = units.lock() {
                            u[i] = s.clone();
                        }
                    })
                })
            })
            .collect();
        Ok(Station { units, threads })
    }

    /// Every unit's state now.
    pub fn snapshot(&self) -> Vec<UnitStatus> {
        self.units.lock().map(|u| u.clone()).unwrap_or_default()
    }

    pub fn finished(&self) -> bool {
        self.threads.iter().all(|t| t.is_finished())
    }

    /// Calls `tick` with the states every `every` until every unit is done; returns them.
    pub fn wait(self, every: Duration, mut tick: impl FnMut(&[UnitStatus])) -> Vec<UnitStatus> {
        while !self.finished() {
            tick(&self.snapshot());
            std::thread::sleep(every);
        }
        for t in self.threads {
            let _ = t.join();
        }
        let last = self.units.lock().map(|u| u.clone()).unwrap_or_default();
        tick(&last);
        last
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
