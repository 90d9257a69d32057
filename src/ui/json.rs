//! `--json`: one JSON object per line on stdout, for factory lines and scripts. Every run ends
//! with exactly one result line (`"event": "result"`), written from [`Finish`].

use std::io::Write;

use serde::Serialize;
use serde_json::json;

use crate::error::Code;
use crate::install::events::{Event, Finish, Inspection, Sink};
use crate::state::InstallRecord;

pub struct JsonReporter<W: Write + Send> {
    out: W,
    /// Progress events are thinned to one per percent so a log stays small.
    last_permille: Option<(String, u64)>,
}

impl<W: Write + Send> JsonReporter<W> {
    pub fn new(out: W) -> Self {
        JsonReporter {
            out,
            last_permille: None,
        }
    }

    /// Writes any serialisable value as one line. Streamed through a buffer, never built as a
    /// JSON tree: an inspected manifest of ~250k chunk hashes as a tree would not fit the
    /// recovery's memory.
    pub fn line<T: Serialize + ?Sized>(&mut self, value: &T) {
        let mut out = std::io::BufWriter::new(&mut self.out);
        if serde_json::to_writer(&mut out, value).is_ok() {
            let _ = writeln!(out);
        }
        let _ = out.flush();
        drop(out);
        let _ = self.out.flush();
    }
}

/// The result line of a failed run: the code, its name, meaning and fix, and what happened.
fn failure_line(code: Code, message: &str) -> serde_json::Value {
    json!({"event": "result", "result": "failure", "code": code.number(),
        "name": code.name(), "message": message, "meaning": code.meaning(), "fix": code.fix()})
}

/// The result line of an install: the install record (as in last_install.json), tagged.
fn record_line(record: &InstallRecord) -> serde_json::Value {
    let mut v = serde_json::to_value(record).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert("event".into(), "result".into());
    }
    v
}

/// `inspect`'s result line: the tag first, then what it found.
#[derive(Serialize)]
struct InspectionLine<'a> {
    event: &'static str,
    #[serde(flatten)]
    inspection: &'a Inspection<'a>,
}

impl<W: Write + Send> Sink for JsonReporter<W> {
    fn event(&mut self, event: &Event) {
        if let Event::Progress {
            partition,
            done,
            total,
            image_done,
            image_total,
            ..
        } = event
        {
            let pct = (done * 100).checked_div(*total).unwrap_or(100);
            let key = (partition.clone(), pct);
            if image_done != image_total && self.last_permille.as_ref() == Some(&key) {
                return;
            }
            self.last_permille = Some(key);
        }
        self.line(event);
    }

    fn finish(&mut self, result: &Finish<'_>) {
        match *result {
            Finish::Installed { record, .. } => self.line(&record_line(record)),
            Finish::Verified { plan } => self.line(&json!({"event": "result",
                "result": "success", "code": 0, "to_version": plan.to_version,
                "target_slot": plan.target_slot})),
            Finish::Inspected(inspection) => self.line(&InspectionLine {
                event: "result",
                inspection,
            }),
            Finish::Failed { code, message } => self.line(&failure_line(code, message)),
            Finish::Init {
                success,
                action,
                code,
            } => self.line(
                &json!({"event": "init", "success": success, "action": action,
                "code": code}),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(f: impl FnOnce(&mut JsonReporter<&mut Vec<u8>>)) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        f(&mut JsonReporter::new(&mut out));
        let text = String::from_utf8(out).unwrap();
        assert!(text.ends_with('\n'), "{text:?}");
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn a_failure_is_one_result_line_with_its_code() {
        let v = lines(|r| {
            r.finish(&Finish::Failed {
                code: Code::UsageError,
                message: "pass --yes",
            })
        });
        assert_eq!(v.len(), 1);
        assert_eq!(v[0]["event"], "result");
        assert_eq!(v[0]["result"], "failure");
        assert_eq!(v[0]["code"], Code::UsageError.number());
        assert_eq!(v[0]["name"], Code::UsageError.name());
        assert_eq!(v[0]["message"], "pass --yes");
        assert_eq!(v[0]["meaning"], Code::UsageError.meaning());
        assert_eq!(v[0]["fix"], Code::UsageError.fix());
    }

    #[test]
    fn the_init_line_names_the_power_action() {
        let v = lines(|r| {
            r.finish(&Finish::Init {
                success: false,
                action: crate::device::power::PowerAction::Wait,
                code: 9060,
            })
        });
        assert_eq!(
            v,
            vec![json!({"event": "init", "success": false, "action": "wait", "code": 9060})]
        );
    }
}
