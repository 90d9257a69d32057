//! How every run ends, through the real binary: the result travels through the reporter
//! (`Sink::finish`), which writes the one JSON result line with `--json` and the human summary
//! (or the one failure printer's lines) otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{bin, exit_code, keygen, run, text, Fixture};
use recovery_updater::device::SlotMode;
use serde_json::{json, Value};

/// Every stdout line of a `--json` run, parsed.
fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}\n{}", text(out))))
        .collect()
}

/// The one result line, which must be the last line.
fn result_line(out: &Output) -> Value {
    let lines = json_lines(out);
    let results: Vec<&Value> = lines.iter().filter(|v| v["event"] == "result").collect();
    assert_eq!(results.len(), 1, "one result line\n{}", text(out));
    assert_eq!(lines.last(), Some(results[0]), "{}", text(out));
    results[0].clone()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `recovery-updater VERB PACKAGE --device PROFILE ARGS` on the fixture's device.
fn on_device(fx: &Fixture, verb: &str, package: &Path, args: &[&str]) -> Output {
    run(bin()
        .arg(verb)
        .arg(package)
        .arg("--device")
        .arg(&fx.device)
        .args(args))
}

/// A good package signed by a key the device does not trust (9013).
fn untrusted(fx: &Fixture) -> PathBuf {
    let (other, _) = keygen(&fx.dir, "other", "ecdsa-p256");
    fx.pack(&fx.good_spec(), &other, "untrusted.zip")
}

#[test]
fn verify_json_ends_with_the_version_and_slot_it_checked() {
    let fx = Fixture::new(SlotMode::Ab);
    let pkg = fx.good_package();
    let before = fx.snapshot();
    let out = on_device(&fx, "verify", &pkg, &["--json"]);
    assert_eq!(exit_code(&out), 0, "{}", text(&out));
    let plan = json_lines(&out)
        .into_iter()
        .find(|v| v["event"] == "plan")
        .unwrap();
    assert_eq!(
        result_line(&out),
        json!({"event": "result", "result": "success", "code": 0,
            "to_version": "1.1.0", "target_slot": plan["target_slot"]})
    );
    assert!(plan["target_slot"].is_string(), "{plan}");
    assert_eq!(fx.snapshot(), before, "verify writes nothing");
}

#[test]
fn verify_in_text_says_nothing_was_written() {
    let fx = Fixture::new(SlotMode::Ab);
    let pkg = fx.good_package();
    let out = on_device(&fx, "verify", &pkg, &[]);
    assert_eq!(exit_code(&out), 0, "{}", text(&out));
    assert!(out.stdout.is_empty(), "{}", text(&out));
    assert!(
        stderr(&out).ends_with(
            "verified: every check passed and every image hash matches; nothing was written\n"
        ),
        "{}",
        text(&out)
    );
}

#[test]
fn a_failed_verify_in_text_ends_with_the_failure_printer() {
    let fx = Fixture::new(SlotMode::Ab);
    let pkg = untrusted(&fx);
    let out = on_device(&fx, "verify", &pkg, &[]);
    assert_eq!(exit_code(&out), 13, "{}", text(&out));
    let err = stderr(&out);
    let tail: Vec<&str> = err.lines().rev().take(4).collect();
    assert!(
        tail[3].starts_with("error 9013: UNTRUSTED_SIGNING_KEY"),
        "{err}"
    );
    assert!(tail[2].starts_with("  what happened: "), "{err}");
    assert!(tail[1].starts_with("  detail: "), "{err}");
    assert!(tail[0].starts_with("  what to do: "), "{err}");
}

#[test]
fn apply_json_ends_with_the_saved_install_record() {
    let fx = Fixture::new(SlotMode::Ab);
    let (out, last) = fx.apply(&fx.good_package());
    assert_eq!(exit_code(&out), 0, "{}", text(&out));
    assert_eq!(result_line(&out), last);
    let mut saved: Value =
        serde_json::from_slice(&fs::read(fx.state_file("last_install.json")).unwrap()).unwrap();
    saved["event"] = "result".into();
    assert_eq!(last, saved, "the result line is last_install.json, tagged");
}

#[test]
fn apply_in_text_ends_with_the_summary_and_the_log() {
    let fx = Fixture::new(SlotMode::Ab);
    let pkg = fx.good_package();
    let out = on_device(&fx, "apply", &pkg, &["--yes"]);
    assert_eq!(exit_code(&out), 0, "{}", text(&out));
    let err = stderr(&out);
    let log = fx.state_file("last_log");
    assert!(
        err.contains("\n\nSUCCESS: installed 1.1.0 ("),
        "{}",
        text(&out)
    );
    assert!(
        err.ends_with(&format!("boots next\nlog: {}\n", log.display())),
        "{}",
        text(&out)
    );
}

#[test]
fn a_failed_apply_in_text_names_the_code_and_the_log() {
    let fx = Fixture::new(SlotMode::Ab);
    let pkg = untrusted(&fx);
    let out = on_device(&fx, "apply", &pkg, &["--yes"]);
    assert_eq!(exit_code(&out), 13, "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains("\n\nerror 9013: UNTRUSTED_SIGNING_KEY\n"),
        "{err}"
    );
    let log = fx.state_file("last_log");
    assert!(
        err.ends_with(&format!("  log: {}\n", log.display())),
        "{err}"
    );
}

#[test]
fn a_run_that_cannot_load_its_profile_fails_through_the_reporter() {
    let fx = Fixture::new(SlotMode::Ab);
    let missing = fx.dir.join("none.toml");
    let pkg = fx.dir.join("update.zip");
    let out = run(bin()
        .arg("apply")
        .arg(&pkg)
        .arg("--device")
        .arg(&missing)
        .args(["--yes", "--json"]));
    assert_eq!(exit_code(&out), 60, "{}", text(&out));
    let v = result_line(&out);
    assert_eq!(v["result"], "failure");
    assert_eq!(v["code"], 9060);
    assert_eq!(v["name"], "DEVICE_PROFILE_INVALID");
    for field in ["message", "meaning", "fix"] {
        assert!(v[field].as_str().is_some_and(|s| !s.is_empty()), "{v}");
    }
    let out = run(bin().arg("init").arg("--device").arg(&missing));
    assert_eq!(exit_code(&out), 60, "{}", text(&out));
    assert_eq!(
        json_lines(&out),
        vec![json!({"event": "init", "success": false, "action": "wait", "code": 9060})]
    );
    assert!(
        stderr(&out).contains("error 9060: DEVICE_PROFILE_INVALID\n  what happened: "),
        "{}",
        text(&out)
    );
}

#[test]
fn inspect_json_starts_with_the_result_then_what_it_found() {
    let fx = Fixture::new(SlotMode::Ab);
    let pkg = fx.good_package();
    let out = run(bin()
        .arg("inspect")
        .arg(&pkg)
        .arg("--key")
        .arg(&fx.public)
        .arg("--json"));
    assert_eq!(exit_code(&out), 0, "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with(r#"{"event":"result","result":"success","code":0,"package":"#),
        "{stdout}"
    );
    let v = result_line(&out);
    assert_eq!(v["signature"], "verified");
    assert_eq!(v["entries"], "ok");
    assert_eq!(v["manifest"]["version"], "1.1.0");
}
