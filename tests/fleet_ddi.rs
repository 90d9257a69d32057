//! The fleet agent through the real binary against the in-test DDI server
//! (tests/common/ddi.rs: std TcpListener + rustls, certificate by openssl): refusals, cancel,
//! no space, resume after a kill, and the whole A/B life up to the confirmed success.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::bootsim::{boot_misc, running_from};
use common::*;

/// Appends a `[fleet]` section for `server` to the fixture's profile; returns the cache dir.
fn fleet_profile(fx: &Fixture, server: &DdiServer, pins: &[&str], extra: &str) -> PathBuf {
    let cache = fx.dir.join("cache");
    fs::write(fx.dir.join("token"), "secret-token\n").unwrap();
    let pins: Vec<String> = pins.iter().map(|p| format!("{p:?}")).collect();
    let mut text = fs::read_to_string(&fx.device).unwrap();
    text.push_str(&format!(
        "\n[fleet]\nserver = \"{}\"\ntenant = \"DEFAULT\"\ncontroller_id = \"dev-1\"\n\
         token_file = \"{}\"\npins = [{}]\ncache_dir = \"{}\"\nreboot = \"never\"\n{extra}\n",
        server.url(),
        fx.dir.join("token").display(),
        pins.join(", "),
        cache.display()
    ));
    fs::write(&fx.device, text).unwrap();
    cache
}

fn agent_cmd(fx: &Fixture) -> Command {
    let mut c = bin();
    c.args(["agent", "--once", "--device"])
        .arg(&fx.device)
        .env("RECOVERY_UPDATER_NO_REBOOT", "1");
    c
}

fn agent_once(fx: &Fixture) -> Output {
    run(&mut agent_cmd(fx))
}

fn cache_files(cache: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(cache)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("package"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn pin_mismatch_is_refused_with_its_code_and_nothing_is_downloaded() {
    let fx = Fixture::new(recovery_updater::device::SlotMode::Ab);
    let server = DdiServer::start(&fx.dir);
    let other = make_cert(&fx.dir, "other");
    let pkg = fx.good_package();
    server.offer(Some(Offer::forced(1, &pkg)));
    let cache = fleet_profile(&fx, &server, &[&other.pin], "");
    let before = fx.snapshot();
    let out = agent_once(&fx);
    assert_eq!(exit_code(&out), 132, "{}", text(&out));
    assert!(text(&out).contains("9132"), "{}", text(&out));
    // The handshake failed: not one request reached the server, nothing was downloaded.
    assert!(server.requests().is_empty(), "{:?}", server.requests());
    assert!(cache_files(&cache).is_empty());
    assert_eq!(fx.snapshot(), before);
}

#[test]
fn a_backup_pin_is_accepted_and_the_poll_sends_config_data() {
    let fx = Fixture::new(recovery_updater::device::SlotMode::Ab);
    let server = DdiServer::start(&fx.dir);
    let other = make_cert(&fx.dir, "other");
    fleet_profile(&fx, &server, &[&other.pin, &server.cert.pin], "");
    let out = agent_once(&fx);
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Idle"));
    let cd = server.config_data();
    assert_eq!(cd.len(), 1);
    assert_eq!(cd[0]["mode"], "merge");
    assert_eq!(cd[0]["data"]["product"], "demo-phone");
    assert!(cd[0]["data"]["hw_revision"].is_string(), "{cd:?}");
    assert_eq!(server.auth()[0], "TargetToken secret-token");
}

#[test]
fn a_private_ca_alone_is_trusted_and_another_ca_is_refused() {
    let fx = Fixture::new(recovery_updater::device::SlotMode::Ab);
    let (cert, ca) = make_ca_signed_cert(&fx.dir, "fleet");
    let server = DdiServer::start_with(cert);
    let ca_line = format!("ca_file = \"{}\"", ca.display());
    fleet_profile(&fx, &server, &[], &ca_line);
    let out = agent_once(&fx);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(server.config_data().len(), 1, "{:?}", server.requests());

    // The same server, and a profile that trusts a different CA: the handshake fails (9133)
    // before one request is made.
    let fx2 = Fixture::new(recovery_updater::device::SlotMode::Ab);
    let (_, other_ca) = make_ca_signed_cert(&fx2.dir, "other");
    let before = server.requests().len();
    let other_line = format!("ca_file = \"{}\"", other_ca.display());
    fleet_profile(&fx2, &server, &[], &other_line);
    let out = agent_once(&fx2);
    assert_eq!(exit_code(&out), 133, "{}", text(&out));
    assert!(text(&out).contains("9133"), "{}", text(&out));
    assert_eq!(server.requests().len(), before, "{:?}", server.requests());
}

#[test]
fn plain_http_server_is_refused_without_allow_http() {
    let fx = Fixture::new(recovery_updater::device::SlotMode::Ab);
    let server = DdiServer::start(&fx.dir);
    fleet_profile(&fx, &server, &[&server.cert.pin], "");
    let text_p = fs::read_to_string(&fx.device)
        .unwrap()
        .replace("server = \"https://", "server = \"http://");
    fs::write(&fx.device, text_p).unwrap();
    let out = agent_once(&fx);
    assert_eq!(exit_code(&out), 134, "{}", text(&out));
    assert!(server.requests().is_empty());
}

#[test]
fn hash_ok_but_signature_bad_reports_9012_and_writes_nothing() {
    let fx = Fixture::new(recovery_updater::device::SlotMode::Ab);
    let server = DdiServer::start(&fx.dir);
    let good = fx.good_package();
    let bad = fx.dir.join("tampered.zip");
    // The signed manifest changed after signing: the server's hash is of this file, so the
    // download checks out; only our signature check can refuse it.
    rewrite(&good, &bad, |entries| {
        let m = entries.iter_mut().find(|e| e.name == MANIFEST).unwrap();
        let t = String::from_utf8(m.data.clone()).unwrap();
        m.data = t.replacen("1.1.0", "1.1.9", 1).into_bytes();
    });
    server.offer(Some(Offer::forced(5, &bad)));
    let cache = fleet_profile(&fx, &server, &[&server.cert.pin], "");
    let before = fx.snapshot();
    let out = agent_once(&fx);
    assert_eq!(exit_code(&out), 12, "{}", text(&out));
    let (exec, finished, details) = server.last_feedback();
    assert_eq!((exec.as_str(), finished.as_str()), ("closed", "failure"));
    assert!(details.contains("E9012"), "{details}");
    assert_eq!(fx.snapshot(), before, "a partition was touched");
    assert!(
        cache_files(&cache).is_empty(),
        "the bad package stays cached"
    );
}

#[test]
fn no_space_for_the_download_reports_9023() {
    let fx = Fixture::new(recovery_updater::device::SlotMode::Ab);
    let server = DdiServer::start(&fx.dir);
    let pkg = fx.good_package();
    server.offer(Some(Offer {
        size: Some(1 << 55),
        ..Offer::forced(3, &pkg)
    }));
    let cache = fleet_profile(&fx, &server, &[&server.cert.pin], "");
    let out = agent_once(&fx);
    assert_eq!(exit_code(&out), 23, "{}", text(&out));
    let (exec, finished, details) = server.last_feedback();
    assert_eq!((exec.as_str(), finished.as_str()), ("closed", "failure"));
    assert!(details.contains("E9023"), "{details}");
    assert!(!server.requests().iter().any(|r| r.contains("/download/")));
    assert!(cache_files(&cache).is_empty());
}

#[test]
fn cancel_before_the_install_ends_canceled_and_touches_nothing() {
    let fx = Fixture::new(recovery_updater::device::SlotMode::Ab);
    let server = DdiServer::start(&fx.dir);
    let pkg = fx.good_package();
    // Downloaded, but the maintenance window is closed: the install waits.
    server.offer(Some(Offer {
        window: Some("unavailable"),
        ..Offer::forced(7, &pkg)
    }));
    let cache = fleet_profile(&fx, &server, &[&server.cert.pin], "");
    let before = fx.snapshot();
    let out = agent_once(&fx);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(cache_files(&cache), ["package.json", "package.zip"]);
    let (exec, _, _) = server.last_feedback();
    assert_eq!(exec, "downloaded");
    server.cancel(8, 7);
    let out = agent_once(&fx);
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Canceled"));
    let fb = server.feedback();
    let (path, v) = fb.last().unwrap();
    assert!(path.ends_with("/cancelAction/8/feedback"), "{path}");
    assert_eq!(v["status"]["execution"], "closed");
    assert_eq!(v["status"]["result"]["finished"], "success");
    assert!(cache_files(&cache).is_empty());
    assert_eq!(fx.snapshot(), before, "a partition was touched");
}

#[test]
fn download_skip_downloads_nothing() {
    let fx = Fixture::new(recovery_updater::device::SlotMode::Ab);
    let server = DdiServer::start(&fx.dir);
    let pkg = fx.good_package();
    server.offer(Some(Offer {
        download: "skip",
        ..Offer::forced(9, &pkg)
    }));
    let cache = fleet_profile(&fx, &server, &[&server.cert.pin], "");
    let out = agent_once(&fx);
    assert!(out.status.success(), "{}", text(&out));
    assert!(cache_files(&cache).is_empty());
    assert!(!server.requests().iter().any(|r| r.contains("/download/")));
}

/// Waits (bounded) until `cond` holds.
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "gave up waiting: {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_killed_download_resumes_with_a_range_request() {
    let fx = Fixture::new(recovery_updater::device::SlotMode::Ab);
    let server = DdiServer::start(&fx.dir);
    let pkg = fx.good_package();
    let size = fs::metadata(&pkg).unwrap().len();
    let half = size / 2;
    server.offer(Some(Offer {
        update: "skip",
        ..Offer::forced(11, &pkg)
    }));
    server.stall_after(Some(half));
    let cache = fleet_profile(&fx, &server, &[&server.cert.pin], "");
    let mut child = agent_cmd(&fx)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let part = cache.join("package.part");
    wait_until("half the package in the cache", || {
        fs::metadata(&part).is_ok_and(|m| m.len() >= half)
    });
    child.kill().unwrap();
    child.wait().unwrap();
    server.stall_after(None);
    let out = agent_once(&fx);
    assert!(out.status.success(), "{}", text(&out));
    let ranged: Vec<String> = server
        .requests()
        .into_iter()
        .filter(|r| r.contains("/download/"))
        .collect();
    assert_eq!(ranged.len(), 2, "{ranged:?}");
    assert_eq!(
        ranged[1],
        format!("GET /download/update.zip range=bytes={half}-")
    );
    assert_eq!(
        fs::read(cache.join("package.zip")).unwrap(),
        fs::read(&pkg).unwrap()
    );
}

fn closed(server: &DdiServer) -> Vec<serde_json::Value> {
    server
        .feedback()
        .into_iter()
        .map(|(_, v)| v)
        .filter(|v| v["status"]["execution"] == "closed")
        .collect()
}

fn slot_a(fx: &Fixture) -> Vec<u8> {
    fs::read(fx.part("system_a.img")).unwrap()
}

/// Installs action 21 into slot b while running from a; returns the server and the cache.
fn installed_into_b(fx: &Fixture, extra: &str) -> (DdiServer, PathBuf) {
    running_from(fx, recovery_updater::device::Slot::A);
    let server = DdiServer::start(&fx.dir);
    let pkg = fx.good_package();
    server.offer(Some(Offer::forced(21, &pkg)));
    let cache = fleet_profile(fx, &server, &[&server.cert.pin], extra);
    let out = agent_once(fx);
    assert!(out.status.success(), "{}", text(&out));
    let (exec, finished, details) = server.last_feedback();
    assert_eq!((exec.as_str(), finished.as_str()), ("proceeding", "none"));
    assert!(details.contains("Installed into slot b"), "{details}");
    assert!(
        server
            .feedback()
            .iter()
            .any(|(_, v)| v["status"]["details"][0] == "Downloaded 100%"
                && v["status"]["result"]["progress"] == serde_json::json!({"cnt": 100, "of": 100})),
        "{:?}",
        server.feedback()
    );
    // The package is in slot b now: the cache is empty again.
    assert!(cache_files(&cache).is_empty());
    (server, cache)
}

#[test]
fn one_device_end_to_end_success_only_after_the_new_slot_booted_and_was_confirmed() {
    let fx = Fixture::new(recovery_updater::device::SlotMode::Ab);
    let a = slot_a(&fx);
    let (server, _) = installed_into_b(
        &fx,
        "health_check = { command = [\"true\"], timeout_s = 10 }",
    );
    assert_eq!(slot_a(&fx), a, "the running slot was written");
    // Still running from a (no reboot yet): no final word.
    let out = agent_once(&fx);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        closed(&server).is_empty(),
        "success reported before the new slot booted"
    );
    // The simulated reboot: the bootloader starts b, the booted-slot fact changes.
    assert_eq!(boot_misc(&fx), Some(recovery_updater::device::Slot::B));
    let out = agent_once(&fx);
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Succeeded"));
    let c = closed(&server);
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!(c[0]["status"]["result"]["finished"], "success");
    let rec: serde_json::Value =
        serde_json::from_slice(&fs::read(fx.state_file("last_install.json")).unwrap()).unwrap();
    assert_eq!(rec["state"], "confirmed");
    // Confirmed: b keeps booting.
    for _ in 0..7 {
        assert_eq!(boot_misc(&fx), Some(recovery_updater::device::Slot::B));
    }
}

#[test]
fn a_failed_health_check_marks_the_new_slot_bad_and_reports_failure() {
    let fx = Fixture::new(recovery_updater::device::SlotMode::Ab);
    let (server, _) = installed_into_b(
        &fx,
        "health_check = { command = [\"false\"], timeout_s = 10 }",
    );
    assert_eq!(boot_misc(&fx), Some(recovery_updater::device::Slot::B));
    let out = agent_once(&fx);
    // Reported as the fallback it is (9121), with the health check's code as the reason.
    assert_eq!(exit_code(&out), 121, "{}", text(&out));
    let c = closed(&server);
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!(c[0]["status"]["result"]["finished"], "failure");
    let details = &c[0]["status"]["details"];
    assert!(details[0]
        .as_str()
        .unwrap()
        .starts_with("E9121 NEW_SLOT_FELL_BACK"));
    assert!(details[1]
        .as_str()
        .unwrap()
        .starts_with("E9122 HEALTH_CHECK_FAILED"));
    // Marked bad: the next boot is the previous slot.
    assert_eq!(boot_misc(&fx), Some(recovery_updater::device::Slot::A));
}

#[test]
fn a_fallback_reports_failure_with_the_fallback_code() {
    let fx = Fixture::new(recovery_updater::device::SlotMode::Ab);
    let (server, _) = installed_into_b(&fx, "");
    // b never gets confirmed (the agent does not run there): its tries burn, a boots again.
    let mut boots = 0;
    while boot_misc(&fx) != Some(recovery_updater::device::Slot::A) {
        boots += 1;
        assert!(boots <= 10, "the bootloader never fell back");
    }
    let out = agent_once(&fx);
    assert_eq!(exit_code(&out), 121, "{}", text(&out));
    let c = closed(&server);
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!(c[0]["status"]["result"]["finished"], "failure");
    assert!(c[0]["status"]["details"][0]
        .as_str()
        .unwrap()
        .starts_with("E9121 NEW_SLOT_FELL_BACK"));
}

#[test]
fn single_slot_writes_the_ota_command_and_reports_the_recoverys_record() {
    let fx = Fixture::new(recovery_updater::device::SlotMode::Single);
    let server = DdiServer::start(&fx.dir);
    let pkg = fx.good_package();
    server.offer(Some(Offer::forced(31, &pkg)));
    let cache = fleet_profile(&fx, &server, &[&server.cert.pin], "");
    let before = fx.snapshot();
    let out = agent_once(&fx);
    assert!(out.status.success(), "{}", text(&out));
    // Verified, not written: the recovery installs it.
    assert_eq!(fx.snapshot(), before);
    let command = fs::read_to_string(fx.state_file("command")).unwrap();
    let cached = cache.join("package.zip");
    assert_eq!(command, format!("--update_package={}\n", cached.display()));
    assert!(closed(&server).is_empty());
    // The recovery's turn (what the init does with the command): install, record, clear.
    let (out, result) = fx.apply(&cached);
    assert_eq!(result["result"], "success", "{}", text(&out));
    fs::remove_file(fx.state_file("command")).unwrap();
    let out = agent_once(&fx);
    assert!(out.status.success(), "{}", text(&out));
    let c = closed(&server);
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!(c[0]["status"]["result"]["finished"], "success");
    assert!(cache_files(&cache).is_empty());
}

#[test]
fn a_download_that_does_not_match_the_servers_hash_is_deleted_and_reported() {
    let fx = Fixture::new(recovery_updater::device::SlotMode::Ab);
    let server = DdiServer::start(&fx.dir);
    let pkg = fx.good_package();
    server.offer(Some(Offer {
        sha256: Some("00".repeat(32)),
        ..Offer::forced(41, &pkg)
    }));
    let cache = fleet_profile(&fx, &server, &[&server.cert.pin], "");
    let before = fx.snapshot();
    let out = agent_once(&fx);
    assert_eq!(exit_code(&out), 137, "{}", text(&out));
    let (exec, finished, details) = server.last_feedback();
    assert_eq!((exec.as_str(), finished.as_str()), ("closed", "failure"));
    assert!(details.contains("E9137"), "{details}");
    assert!(cache_files(&cache).is_empty());
    assert_eq!(fx.snapshot(), before);
}

#[test]
fn a_closed_maintenance_window_waits_and_an_open_one_installs() {
    let fx = Fixture::new(recovery_updater::device::SlotMode::Ab);
    running_from(&fx, recovery_updater::device::Slot::A);
    let server = DdiServer::start(&fx.dir);
    let pkg = fx.good_package();
    let closed_window = Offer {
        window: Some("unavailable"),
        ..Offer::forced(51, &pkg)
    };
    server.offer(Some(closed_window.clone()));
    let cache = fleet_profile(&fx, &server, &[&server.cert.pin], "");
    let before = fx.snapshot();
    for _ in 0..2 {
        let out = agent_once(&fx);
        assert!(out.status.success(), "{}", text(&out));
        assert_eq!(fx.snapshot(), before, "installed outside the window");
    }
    // Downloaded once only.
    let downloads = server
        .requests()
        .iter()
        .filter(|r| r.contains("/download/"))
        .count();
    assert_eq!(downloads, 1);
    server.offer(Some(Offer {
        window: Some("available"),
        ..closed_window
    }));
    let out = agent_once(&fx);
    assert!(out.status.success(), "{}", text(&out));
    assert_ne!(fx.snapshot(), before);
    let (_, _, details) = server.last_feedback();
    assert!(details.contains("Installed into slot b"), "{details}");
    assert!(cache_files(&cache).is_empty());
}

#[test]
fn the_service_loop_obeys_retry_after_then_installs() {
    let fx = Fixture::new(recovery_updater::device::SlotMode::Ab);
    running_from(&fx, recovery_updater::device::Slot::A);
    let a = slot_a(&fx);
    let server = DdiServer::start(&fx.dir);
    let pkg = fx.good_package();
    server.offer(Some(Offer::forced(31, &pkg)));
    // Two busy answers asking for one second each; the back-off alone would wait 22 s or more.
    server.busy(2, "1");
    let cache = fleet_profile(&fx, &server, &[&server.cert.pin], "");
    let mut c = bin();
    c.args(["agent", "--device"])
        .arg(&fx.device)
        .env("RECOVERY_UPDATER_NO_REBOOT", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = c.spawn().unwrap();
    let installed = || {
        server.feedback().iter().any(|(_, v)| {
            v["status"]["details"][0]
                .as_str()
                .is_some_and(|d| d.starts_with("Installed into slot b"))
        })
    };
    // A guard against a hang, not a measurement: that the two pauses were Retry-After's 1 s
    // and not the back-off's 22 s is read from the log below.
    let deadline = Instant::now() + Duration::from_secs(90);
    while !installed() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let log = fs::read_to_string(cache.join("agent.log")).unwrap_or_default();
    assert!(installed(), "no install within 90 s; agent.log:\n{log}");
    let polls = server
        .requests()
        .iter()
        .filter(|r| r.ends_with("/controller/v1/dev-1"))
        .count();
    assert!(polls >= 3, "{:?}", server.requests());
    assert_eq!(log.matches("answered 503").count(), 2, "{log}");
    assert!(log.matches("next poll in 1 s").count() >= 2, "{log}");
    // The running slot was never touched.
    assert_eq!(slot_a(&fx), a);
}

#[test]
fn an_agent_killed_inside_the_install_installs_again_at_the_next_start() {
    use std::os::unix::process::ExitStatusExt;
    let fx = Fixture::new(recovery_updater::device::SlotMode::Ab);
    running_from(&fx, recovery_updater::device::Slot::A);
    let a = slot_a(&fx);
    let server = DdiServer::start(&fx.dir);
    let pkg = fx.good_package();
    // First only the download (update = skip), so the package is in the cache.
    server.offer(Some(Offer {
        update: "skip",
        ..Offer::forced(41, &pkg)
    }));
    let cache = fleet_profile(&fx, &server, &[&server.cert.pin], "");
    let out = agent_once(&fx);
    assert!(out.status.success(), "{}", text(&out));
    assert!(cache_files(&cache).contains(&"package.zip".to_string()));
    // Then the install, killed when the 1.5 MiB system image passes 1 MiB into system_b.
    server.offer(Some(Offer::forced(41, &pkg)));
    let out = run(killed_past(&mut agent_cmd(&fx), 1 << 20));
    assert_eq!(out.status.signal(), Some(libc::SIGXFSZ), "{}", text(&out));
    let st: serde_json::Value =
        serde_json::from_slice(&fs::read(cache.join("agent.json")).unwrap()).unwrap();
    assert_eq!(st["action"]["phase"], "installing", "{st}");
    assert!(
        !server
            .feedback()
            .iter()
            .any(|(_, v)| v["status"]["execution"] == "closed"),
        "{:?}",
        server.feedback()
    );
    let status = run(bin().args(["status", "--json", "--device"]).arg(&fx.device));
    assert_eq!(last_json(&status)["active_slot"], "a", "{}", text(&status));
    assert_eq!(slot_a(&fx), a);
    // The next start installs again (the engine resumes its own journal) and reports it.
    let out = agent_once(&fx);
    assert!(out.status.success(), "{}", text(&out));
    let (exec, _, details) = server.last_feedback();
    assert_eq!(exec, "proceeding");
    assert!(details.contains("Installed into slot b"), "{details}");
    let system = fs::read(fx.dir.join("build/system.img")).unwrap();
    let b = fs::read(fx.part("system_b.img")).unwrap();
    assert_eq!(&b[..system.len()], &system[..]);
    assert_eq!(slot_a(&fx), a);
}
