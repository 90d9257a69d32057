//! The station's report: one record per unit, CSV (with a header row) or JSON lines, chosen by
//! the file name's extension. The file is created before any unit starts, so a report that cannot
//! be written stops the station before it flashes anything (9156).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::UnitStatus;

#[derive(Debug, thiserror::Error)]
#[error("report {path}: {reason}")]
pub struct ReportError {
    pub path: PathBuf,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    JsonLines,
}

/// An open report file.
pub struct Report {
    path: PathBuf,
    format: Format,
    file: File,
}

pub const CSV_HEADER: &str =
    "serial,target,product,result,code,percent,bytes_sent,seconds,mb_per_s,message";

impl Report {
    pub fn create(path: &Path) -> Result<Report, ReportError> {
        let err = |reason: String| ReportError {
            path: path.to_path_buf(),
            reason,
        };
        let format = match path.extension().and_then(|e| e.to_str()) {
            Some("csv") => Format::Csv,
            Some("jsonl") => Format::JsonLines,
            _ => return Err(err("the name must end in .csv or .jsonl".into())),
        };
        let file = File::create(path).map_err(|e| err(e.to_string()))?;
        Ok(Report {
            path: path.to_path_buf(),
            format,
            file,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes every record and syncs the file.
    pub fn write(&mut self, units: &[UnitStatus]) -> Result<(), ReportError> {
        let text = render(self.format, units);
        let mut w = BufWriter::new(&mut self.file);
        w.write_all(text.as_bytes())
            .and_then(|()| w.flush())
            .map_err(|e| ReportError {
                path: self.path.clone(),
                reason: e.to_string(),
            })?;
        drop(w);
        let _ = self.file.sync_all();
        Ok(())
    }
}

/// The report's text.
pub fn render(format: Format, units: &[UnitStatus]) -> String {
    let mut s = String::new();
    match format {
        Format::Csv => {
            s.push_str(CSV_HEADER);
            s.push('\n');
            for u in units {
                let result = if u.code == 0 && u.phase == super::Phase::Passed {
                    "passed"
                } else {
                    "failed"
                };
                let fields = [
                    csv(&u.serial),
                    csv(&u.target),
                    csv(&u.product),
                    result.to_string(),
                    u.code.to_string(),
                    u.percent.to_string(),
                    u.sent.to_string(),
                    format!("{:.2}", u.seconds),
                    format!("{:.1}", u.mb_per_s),
                    csv(&u.message),
                ];
                s.push_str(&fields.join(","));
                s.push('\n');
            }
        }
        Format::JsonLines => {
            for u in units {
                s.push_str(&serde_json::to_string(u).unwrap_or_default());
                s.push('\n');
            }
        }
    }
    s
}

/// One CSV field (RFC 4180): quoted when it holds a comma, quote or line break.
fn csv(v: &str) -> String {
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_string()
    }
}
