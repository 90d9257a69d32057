//! Every screen, driven by synthetic messages with an injected clock, drawn on ratatui's
//! TestBackend at 80x25 and 40x12 and compared with the accepted snapshots in `snapshots/`.
//! Plus the state machine's rules: cancel only before the first write, Cancel as the default,
//! progress that never goes backwards nor shows 100 % early, the reboot countdown, two
//! confirmations before a wipe.

use std::path::PathBuf;
use std::time::Duration;

use ratatui::backend::TestBackend;
use ratatui::Terminal;

use super::app::*;
use super::input::Key;
use super::view;
use crate::device::{Battery, Slot, SlotMode};
use crate::error::{Code, HasCode};
use crate::install::events::{CheckName, CheckStatus, Event, Phase, PlanSummary, PlannedImage};
use crate::state::InstallRecord;
use crate::Error;

const MIB: u64 = 1 << 20;
const SIZES: [(u16, u16); 2] = [(80, 25), (40, 12)];

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

fn facts() -> DeviceFacts {
    DeviceFacts {
        product: "demo-phone".into(),
        hardware_revision: Ok("revB".into()),
        baseband: Ok(Some("MPSS.DEMO.1.0.c3".into())),
        current_version: Some("1.0.0".into()),
        active_slot: Ok(Some(Slot::A)),
        battery: Ok(Some(Battery {
            percent: 87,
            charging: false,
        })),
        state_dir: PathBuf::from("/var/recovery/state"),
        free_space: Ok(3_500_000_000),
        storage: vec![PathBuf::from("/mnt/sdcard")],
        update_state: None,
    }
}

fn plan(wipe_data: bool) -> PlanSummary {
    let images = vec![
        PlannedImage {
            partition: "boot".into(),
            path: "/dev/block/by-name/boot_b".into(),
            bytes: 3 * MIB,
            source: "write",
        },
        PlannedImage {
            partition: "system".into(),
            path: "/dev/block/by-name/system_b".into(),
            bytes: 24 * MIB,
            source: "write",
        },
        PlannedImage {
            partition: "vendor".into(),
            path: "/dev/block/by-name/vendor_b".into(),
            bytes: 4 * MIB,
            source: "copy",
        },
    ];
    PlanSummary {
        from_version: Some("1.0.0".into()),
        to_version: "1.1.0".into(),
        mode: SlotMode::Ab,
        active_slot: Some(Slot::A),
        target_slot: Some(Slot::B),
        wipe_data,
        total_bytes: images.iter().map(|i| i.bytes).sum(),
        images,
    }
}

fn pass(check: CheckName, detail: &str) -> Event {
    Event::Check {
        check,
        status: CheckStatus::Pass,
        detail: detail.into(),
        code: None,
    }
}

fn fail(check: CheckName, e: &Error) -> Event {
    Event::Check {
        check,
        status: CheckStatus::Fail,
        detail: e.to_string(),
        code: Some(e.code()),
    }
}

/// The check events of a package that passes everything, with `replace` swapped in, cut after
/// the failing check when the engine stops there (signature and contents).
fn check_events(replace: Option<(CheckName, Error)>) -> (Vec<Event>, Option<Failure>) {
    let mut evs = vec![
        pass(CheckName::Signature, "trusted key 3f9a1c2e4b5d6f70"),
        pass(CheckName::Manifest, "version 1.1.0, 2 image(s), 27.0 MiB"),
        pass(CheckName::Product, "demo-phone"),
        pass(CheckName::Hardware, "revB"),
        pass(CheckName::Baseband, "MPSS.DEMO.1.0.c3"),
        pass(CheckName::Rollback, "package 3 >= device 2"),
        pass(CheckName::Battery, "87% (need 20%)"),
        pass(CheckName::Space, "3.3 GiB free"),
        pass(CheckName::Partitions, "3 partition(s) in slot b"),
    ];
    let mut failure = None;
    if let Some((check, e)) = replace {
        let i = CheckName::ALL.iter().position(|c| *c == check).unwrap();
        evs[i] = fail(check, &e);
        if matches!(check, CheckName::Signature | CheckName::Manifest) {
            evs.truncate(i + 1);
        }
        failure = Some(Failure {
            code: e.code(),
            message: e.to_string(),
        });
    } else {
        evs.push(Event::Plan(plan(false)));
    }
    (evs, failure)
}

fn package(name: &str, replace: Option<(CheckName, Error)>, version: &str) -> PackageInfo {
    let (evs, failure) = check_events(replace);
    PackageInfo::from_check(
        PathBuf::from(format!("/mnt/{name}")),
        name.into(),
        27 * MIB + 4321,
        Some(version.into()),
        Some("1.0.0"),
        &evs,
        failure,
    )
}

fn good() -> PackageInfo {
    package("sdcard/update.zip", None, "1.1.0")
}

fn failing(code: u16) -> PackageInfo {
    let (check, e) = match code {
        9012 => (CheckName::Signature, Error::SignatureInvalid { trusted: 1 }),
        9015 => (
            CheckName::Rollback,
            Error::Rollback {
                package: 1,
                device: 2,
            },
        ),
        9023 => (
            CheckName::Space,
            Error::InsufficientStorage {
                path: "/var/recovery/state".into(),
                available: 1_048_576,
                required: 4_194_304,
            },
        ),
        9040 => (
            CheckName::Baseband,
            Error::BasebandMismatch {
                device: "MPSS.DEMO.1.0.c3".into(),
                accepted: vec!["MPSS.OTHER.2.*".into()],
            },
        ),
        _ => unreachable!(),
    };
    assert_eq!(e.code().number(), code);
    package(
        &format!("sdcard/e{code}/update.zip"),
        Some((check, e)),
        if code == 9015 { "0.9.0" } else { "1.1.0" },
    )
}

fn render(app: &App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| view::draw(f, app)).unwrap();
    t
}

fn screen_text(app: &App, w: u16, h: u16) -> String {
    render(app, w, h).backend().to_string()
}

fn snap(name: &str, app: &App) {
    for (w, h) in SIZES {
        let t = render(app, w, h);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), t.backend());
    }
}

fn app() -> App {
    App::new(facts(), Duration::ZERO)
}

fn key(app: &mut App, k: Key, now: f64) -> Vec<Effect> {
    app.update(Msg::Key(k), secs(now))
}

/// Home → Apply update → packages listed.
fn at_packages(list: Vec<PackageInfo>) -> App {
    let mut a = app();
    assert_eq!(key(&mut a, Key::Enter, 0.1), vec![Effect::Scan]);
    a.update(Msg::Scanned(list), secs(0.2));
    a
}

/// … → the package at `index` picked and checked.
fn at_precheck(list: Vec<PackageInfo>, index: usize) -> App {
    let mut a = at_packages(list.clone());
    for _ in 0..index {
        key(&mut a, Key::Down, 0.3);
    }
    assert_eq!(
        key(&mut a, Key::Enter, 0.4),
        vec![Effect::Check(list[index].path.clone())]
    );
    a.update(Msg::Checked(Box::new(list[index].clone())), secs(0.5));
    a
}

fn at_confirm(pkg: PackageInfo) -> App {
    let mut a = at_precheck(vec![pkg], 0);
    key(&mut a, Key::Enter, 0.6);
    assert!(matches!(a.screen, Screen::Confirm { sel: 0, .. }));
    a
}

fn at_progress(pkg: PackageInfo) -> App {
    let mut a = at_confirm(pkg.clone());
    key(&mut a, Key::Down, 0.7);
    assert_eq!(
        key(&mut a, Key::Enter, 0.8),
        vec![Effect::Install(pkg.path)]
    );
    a
}

fn engine(a: &mut App, now: f64, events: Vec<Event>) {
    for e in events {
        a.update(Msg::Engine(e), secs(now));
    }
}

fn progress_event(partition: &str, image_done: u64, image_total: u64, done: u64) -> Event {
    Event::Progress {
        phase: Phase::Write,
        partition: partition.into(),
        image_done,
        image_total,
        done,
        total: 31 * MIB,
    }
}

/// An install half-way through system_b, 2 s after writing started.
fn mid_progress() -> App {
    let mut a = at_progress(good());
    let (checks, _) = check_events(None);
    let mut evs = vec![Event::Phase { phase: Phase::Open }];
    evs.push(Event::Log {
        message: "package /mnt/sdcard/update.zip".into(),
    });
    evs.push(Event::Phase {
        phase: Phase::Signature,
    });
    evs.extend(checks);
    evs.push(Event::Phase {
        phase: Phase::Write,
    });
    evs.push(Event::Log {
        message: "slot b marked unbootable while it is written".into(),
    });
    evs.push(Event::Committed);
    evs.push(Event::Log {
        message: "writing boot (3.0 MiB) to /dev/block/by-name/boot_b".into(),
    });
    engine(&mut a, 1.0, evs);
    engine(&mut a, 1.0, vec![progress_event("boot", MIB, 3 * MIB, MIB)]);
    engine(
        &mut a,
        1.5,
        vec![
            progress_event("boot", 3 * MIB, 3 * MIB, 3 * MIB),
            Event::Log {
                message: "writing system (24.0 MiB) to /dev/block/by-name/system_b".into(),
            },
        ],
    );
    engine(
        &mut a,
        3.0,
        vec![progress_event("system", 12 * MIB, 24 * MIB, 15 * MIB)],
    );
    a.update(Msg::Tick, secs(3.0));
    a
}

fn record(code: Option<Code>, bytes_written: u64) -> InstallRecord {
    InstallRecord {
        package: "/mnt/sdcard/update.zip".into(),
        manifest_sha256: None,
        from_version: Some("1.0.0".into()),
        to_version: Some("1.1.0".into()),
        target_slot: Some("b".into()),
        result: match code {
            None => crate::state::Outcome::Success,
            Some(_) => crate::state::Outcome::Failure,
        },
        code: code.map(|c| c.number()).unwrap_or(0),
        name: code.map(|c| c.name()).unwrap_or("SUCCESS").into(),
        message: match code {
            None => "installed".into(),
            Some(_) => Error::ChunkHashMismatch {
                partition: "system".into(),
                chunk: 7,
                expected: "9f2c".into(),
                calculated: "03ab".into(),
            }
            .to_string(),
        },
        fix: code.map(|c| c.fix()).unwrap_or("").into(),
        started_at: "2026-11-21T23:00:00Z".into(),
        finished_at: "2026-11-21T23:00:04Z".into(),
        duration_ms: 4210,
        bytes_written,
        timings: vec![],
        warnings: vec![],
        state: None,
        state_changed_at: None,
    }
}

#[test]
fn snapshot_home() {
    let mut a = app();
    snap("home", &a);
    key(&mut a, Key::Down, 0.1);
    key(&mut a, Key::Down, 0.1);
    snap("home_logs_selected", &a);
    // A fact that cannot be read is shown with its code, not hidden.
    let mut f = facts();
    f.battery = Err((Code::DeviceFact, "cannot read the battery".into()));
    f.active_slot = Ok(None);
    let a = App::new(f, Duration::ZERO);
    snap("home_unreadable_battery_single_slot", &a);
}

/// The A/B life on the home screen: a new version on trial, and one the bootloader undid.
#[test]
fn snapshot_home_update_states() {
    use crate::app::lifecycle::InstallState;
    let mut f = facts();
    f.update_state = Some(InstallState::Pending);
    f.active_slot = Ok(Some(Slot::B));
    snap(
        "home_waiting_for_confirmation",
        &App::new(f, Duration::ZERO),
    );
    let mut f = facts();
    f.update_state = Some(InstallState::FellBack);
    snap("home_returned_to_previous", &App::new(f, Duration::ZERO));
}

#[test]
fn snapshot_packages() {
    let mut a = app();
    key(&mut a, Key::Enter, 0.1);
    snap("packages_scanning", &a);
    let a = at_packages(vec![good(), failing(9012), failing(9015)]);
    snap("packages_list", &a);
    let a = at_packages(vec![]);
    snap("packages_none_found", &a);
}

#[test]
fn snapshot_precheck() {
    let a = at_precheck(vec![good()], 0);
    snap("precheck_pass", &a);
    for code in [9012, 9015, 9023, 9040] {
        let a = at_precheck(vec![good(), failing(code)], 1);
        snap(&format!("precheck_fail_{code}"), &a);
    }
}

#[test]
fn snapshot_failure_screens_for_seed_codes() {
    for code in [9012, 9015, 9023, 9040] {
        let mut a = at_precheck(vec![failing(code)], 0);
        assert!(key(&mut a, Key::Enter, 1.0).is_empty());
        match &a.screen {
            Screen::Result(r) => match &r.outcome {
                Outcome::Failure { failure, .. } => assert_eq!(failure.code.number(), code),
                o => panic!("{o:?}"),
            },
            s => panic!("{s:?}"),
        }
        snap(&format!("failure_{code}"), &a);
        let text = screen_text(&a, 80, 25);
        assert!(text.contains(&format!("E{code}")), "{text}");
        assert!(text.contains("Nothing was written"), "{text}");
    }
}

#[test]
fn snapshot_confirm() {
    let a = at_confirm(good());
    snap("confirm", &a);
    let mut pkg = good();
    pkg.plan = Some(plan(true));
    let a = at_confirm(pkg);
    snap("confirm_wipe_data", &a);
    let text = screen_text(&a, 80, 25);
    assert!(text.contains("Back up contacts and call records first"));
    let text = screen_text(&a, 40, 12);
    assert!(text.contains("back up contacts"), "{text}");
}

#[test]
fn snapshot_progress() {
    let a = mid_progress();
    snap("progress_mid", &a);
    let text = screen_text(&a, 80, 25);
    assert!(text.contains("48%"), "{text}");
    // 15 MiB since the write phase's first event 2 s earlier; 16 MiB to go.
    assert!(text.contains("7.9 MB/s, 0:03 left"), "{text}");
}

#[test]
fn snapshot_progress_first_update_shows_no_rate() {
    // The write phase's first update: no time has passed since it started, so there is no
    // rate yet and the speed line stays empty (no "0.0 MB/s", no placeholder).
    let mut a = at_progress(good());
    engine(
        &mut a,
        1.0,
        vec![
            Event::Phase {
                phase: Phase::Write,
            },
            Event::Committed,
            progress_event("boot", MIB, 3 * MIB, MIB),
        ],
    );
    a.update(Msg::Tick, secs(1.0));
    snap("progress_first_update", &a);
    for (w, h) in SIZES {
        let text = screen_text(&a, w, h);
        assert!(text.contains("boot 33%"), "{text}");
        assert!(!text.contains("MB/s"), "{text}");
        assert!(!text.contains("measuring"), "{text}");
    }
}

#[test]
fn snapshot_progress_in_place() {
    // A single-slot device: every image is verified before the first write.
    let mut pkg = good();
    let mut pl = plan(false);
    pl.mode = SlotMode::Single;
    pl.active_slot = None;
    pl.target_slot = None;
    pl.images.truncate(2);
    pl.total_bytes = 2 * 27 * MIB;
    pkg.plan = Some(pl);
    let mut a = at_progress(pkg);
    engine(
        &mut a,
        1.0,
        vec![
            Event::Phase {
                phase: Phase::Verify,
            },
            Event::Progress {
                phase: Phase::Verify,
                partition: "boot".into(),
                image_done: MIB,
                image_total: 3 * MIB,
                done: MIB,
                total: 54 * MIB,
            },
        ],
    );
    engine(
        &mut a,
        2.0,
        vec![Event::Progress {
            phase: Phase::Verify,
            partition: "system".into(),
            image_done: 8 * MIB,
            image_total: 24 * MIB,
            done: 11 * MIB,
            total: 54 * MIB,
        }],
    );
    snap("progress_in_place_verifying", &a);
    let text = screen_text(&a, 80, 25);
    assert!(text.contains("[ >> ] Verify every image"), "{text}");
    assert!(!text.contains("Switch to slot"), "{text}");
    // Not committed yet: Esc cancels.
    assert!(text.contains("Esc: cancel (nothing written yet)"), "{text}");
}

#[test]
fn snapshot_results() {
    let mut a = mid_progress();
    let effects = a.update(
        Msg::InstallDone(Box::new(record(None, 31 * MIB))),
        secs(5.0),
    );
    assert_eq!(effects, vec![Effect::RefreshFacts]);
    a.update(Msg::Tick, secs(7.2));
    snap("success_countdown", &a);
    assert!(screen_text(&a, 80, 25).contains("Rebooting in 8 s"));
    key(&mut a, Key::Down, 7.5);
    snap("success_stopped", &a);

    let mut a = mid_progress();
    a.update(
        Msg::InstallDone(Box::new(record(Some(Code::ChunkHashMismatch), 15 * MIB))),
        secs(5.0),
    );
    snap("failure_during_write_9030", &a);
    let text = screen_text(&a, 80, 25);
    assert!(text.contains("the device still boots slot a."), "{text}");
    assert!(text.contains("/var/recovery/state/last_log"), "{text}");
}

#[test]
fn installed_but_a_later_step_failed_says_the_new_slot_boots() {
    for code in [Code::RollbackIndexNotSaved, Code::InstalledWipeFailed] {
        let mut a = mid_progress();
        a.update(
            Msg::InstallDone(Box::new(record(Some(code), 31 * MIB))),
            secs(5.0),
        );
        let text = screen_text(&a, 80, 25);
        assert!(text.contains(&code.number().to_string()), "{text}");
        assert!(
            text.contains("The update is installed and slot b boots next"),
            "{code:?}: {text}"
        );
        assert!(!text.contains("still boots slot a"), "{code:?}: {text}");
    }
}

#[test]
fn snapshot_log_and_last_install() {
    let mut a = app();
    key(&mut a, Key::Down, 0.1);
    key(&mut a, Key::Down, 0.1);
    assert_eq!(key(&mut a, Key::Enter, 0.2), vec![Effect::LoadLog]);
    let text: String = (1..=40)
        .map(|i| format!("[{:8.3}] log line {i}\n", i as f64 * 0.125))
        .collect();
    a.update(
        Msg::LogLoaded {
            path: "/var/recovery/state/last_log".into(),
            text: Some(text),
        },
        secs(0.3),
    );
    snap("log_end", &a);
    // Render at 80x25 so the page size is known, then page up twice.
    render(&a, 80, 25);
    key(&mut a, Key::PageUp, 0.4);
    key(&mut a, Key::PageUp, 0.4);
    let t = screen_text(&a, 80, 25);
    assert!(t.contains("lines 1-21 of 40"), "{t}");
    key(&mut a, Key::Down, 0.4);
    assert!(screen_text(&a, 80, 25).contains("lines 2-22 of 40"));
    key(&mut a, Key::End, 0.4);
    assert!(screen_text(&a, 80, 25).contains("lines 20-40 of 40"));

    let mut a = app();
    key(&mut a, Key::Down, 0.1);
    key(&mut a, Key::Down, 0.1);
    key(&mut a, Key::Enter, 0.2);
    a.update(
        Msg::LogLoaded {
            path: "/var/recovery/state/last_log".into(),
            text: None,
        },
        secs(0.3),
    );
    snap("log_missing", &a);

    let mut a = app();
    key(&mut a, Key::Down, 0.1);
    assert_eq!(key(&mut a, Key::Enter, 0.2), vec![Effect::LoadLastInstall]);
    a.update(
        Msg::LastInstall(Some(Box::new(record(Some(Code::ChunkHashMismatch), 0)))),
        secs(0.3),
    );
    snap("last_install", &a);
}

#[test]
fn last_install_shows_where_the_install_stands() {
    use crate::state::InstallState;
    let pending = (InstallState::Pending, None, "pending");
    let fell_back = (InstallState::FellBack, Some(Code::FellBack), "fell_back");
    for (state, code, name) in [pending, fell_back] {
        let words = match state {
            InstallState::Pending => "pending: waiting for confirmation",
            _ => "returned to the previous version",
        };
        let mut a = app();
        key(&mut a, Key::Down, 0.1);
        key(&mut a, Key::Enter, 0.2);
        let mut r = record(code, 1 << 20);
        if let Some(c) = code {
            r.message = format!("{}: the bootloader returned to slot a", c.name());
        }
        r.state = Some(state);
        r.state_changed_at = Some("2026-11-21T23:01:00Z".into());
        a.update(Msg::LastInstall(Some(Box::new(r))), secs(0.3));
        let t = screen_text(&a, 80, 25);
        assert!(
            t.contains(&format!("State     {words} (since 2026-11-21T23:01:00Z)")),
            "{t}"
        );
        snap(&format!("last_install_{name}"), &a);
    }
}

#[test]
fn snapshot_wipe_needs_two_confirmations_and_reports_its_code() {
    let mut a = app();
    for _ in 0..3 {
        key(&mut a, Key::Down, 0.1);
    }
    assert!(key(&mut a, Key::Enter, 0.2).is_empty());
    snap("wipe_confirm_1", &a);
    // Cancel is the default: Enter goes back home.
    key(&mut a, Key::Enter, 0.3);
    assert!(matches!(a.screen, Screen::Home));
    key(&mut a, Key::Enter, 0.4);
    key(&mut a, Key::Down, 0.5);
    assert!(key(&mut a, Key::Enter, 0.6).is_empty());
    snap("wipe_confirm_2", &a);
    key(&mut a, Key::Down, 0.7);
    assert_eq!(key(&mut a, Key::Enter, 0.8), vec![Effect::Wipe]);
    let e = Error::WipeNotConfigured {
        product: "demo-phone".into(),
        role: crate::device::WipeRole::Data,
    };
    a.update(
        Msg::Wiped(Err(Failure {
            code: e.code(),
            message: e.to_string(),
        })),
        secs(0.9),
    );
    snap("wipe_not_configured", &a);
}

#[test]
fn snapshot_panic_screen() {
    for (w, h) in SIZES {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| {
            view::draw_fatal(
                f,
                Code::Internal,
                "the updater stopped unexpectedly: index out of bounds at src/ui/tui/app.rs:1",
            )
        })
        .unwrap();
        insta::assert_snapshot!(format!("panic_{w}x{h}"), t.backend());
    }
}

#[test]
fn cancel_is_possible_until_the_first_write_and_refused_after() {
    let mut a = at_progress(good());
    engine(&mut a, 1.0, vec![Event::Phase { phase: Phase::Open }]);
    assert_eq!(key(&mut a, Key::Back, 1.1), vec![Effect::Cancel]);
    // A second request does not cancel twice.
    assert!(key(&mut a, Key::Back, 1.2).is_empty());

    let mut a = at_progress(good());
    engine(&mut a, 1.0, vec![Event::Committed]);
    assert!(key(&mut a, Key::Back, 1.1).is_empty());
    assert!(key(&mut a, Key::Interrupt, 1.2).is_empty());
    let text = screen_text(&a, 80, 25);
    assert!(text.contains("cannot be stopped now"), "{text}");
}

#[test]
fn confirm_defaults_to_cancel() {
    let mut a = at_confirm(good());
    assert!(key(&mut a, Key::Enter, 1.0).is_empty());
    assert!(matches!(a.screen, Screen::Packages { .. }));
}

#[test]
fn progress_never_goes_backwards_nor_shows_100_before_done() {
    let mut a = at_progress(good());
    let total = 31 * MIB;
    engine(
        &mut a,
        1.0,
        vec![progress_event("boot", MIB, 3 * MIB, 10 * MIB)],
    );
    let Screen::Progress(p) = &a.screen else {
        panic!()
    };
    assert_eq!(p.percent(), 32);
    // A late, smaller count (e.g. reordered) does not move the bar back.
    engine(
        &mut a,
        1.1,
        vec![progress_event("boot", MIB, 3 * MIB, 5 * MIB)],
    );
    let Screen::Progress(p) = &a.screen else {
        panic!()
    };
    assert_eq!(p.percent(), 32);
    engine(
        &mut a,
        1.2,
        vec![progress_event("system", 24 * MIB, 24 * MIB, total)],
    );
    let Screen::Progress(p) = &a.screen else {
        panic!()
    };
    assert_eq!(p.percent(), 99);
    let text = screen_text(&a, 80, 25);
    assert!(text.contains("99%  31.0 MiB of 31.0 MiB"), "{text}");
}

#[test]
fn countdown_reboots_unless_stopped() {
    let mut a = mid_progress();
    a.update(Msg::InstallDone(Box::new(record(None, MIB))), secs(5.0));
    assert!(a.update(Msg::Tick, secs(14.9)).is_empty());
    assert_eq!(
        a.update(Msg::Tick, secs(15.0)),
        vec![Effect::Power(PowerAction::Reboot)]
    );

    let mut a = mid_progress();
    a.update(Msg::InstallDone(Box::new(record(None, MIB))), secs(5.0));
    assert!(key(&mut a, Key::Enter, 6.0).is_empty());
    assert!(a.update(Msg::Tick, secs(60.0)).is_empty());
    // Then Enter on the first item reboots on request.
    assert_eq!(
        key(&mut a, Key::Enter, 61.0),
        vec![Effect::Power(PowerAction::Reboot)]
    );
}

#[test]
fn power_menu_items_return_their_actions() {
    for (i, action) in [
        (4, PowerAction::Reboot),
        (5, PowerAction::Bootloader),
        (6, PowerAction::PowerOff),
    ] {
        let mut a = app();
        for _ in 0..i {
            key(&mut a, Key::Down, 0.1);
        }
        assert_eq!(key(&mut a, Key::Enter, 0.2), vec![Effect::Power(action)]);
    }
    // Up from the top wraps to the last item, "Apply update from ADB"; once more is Power off.
    let mut a = app();
    key(&mut a, Key::Up, 0.1);
    key(&mut a, Key::Up, 0.1);
    assert_eq!(
        key(&mut a, Key::Enter, 0.2),
        vec![Effect::Power(PowerAction::PowerOff)]
    );
}

#[test]
fn package_verdicts() {
    let g = good();
    assert_eq!(
        (g.signed, g.newer, g.for_device),
        (Verdict::Yes, Verdict::Yes, Verdict::Yes)
    );
    let s = failing(9012);
    assert_eq!(s.signed, Verdict::No);
    assert_eq!(s.for_device, Verdict::Unknown);
    let r = failing(9015);
    assert_eq!((r.signed, r.newer), (Verdict::Yes, Verdict::No));
    let b = failing(9040);
    assert_eq!(b.for_device, Verdict::No);
}

/// A card inserted while the packages screen shows nothing: the screen looks again every
/// RESCAN_EVERY (clock injected), one scan at a time, and stops once something is listed.
#[test]
fn empty_packages_screen_rescans_until_a_package_appears() {
    let mut a = app();
    assert_eq!(key(&mut a, Key::Enter, 0.1), vec![Effect::Scan]);
    a.update(Msg::Scanned(vec![]), secs(1.0));
    assert!(a.update(Msg::Tick, secs(2.0)).is_empty(), "not yet");
    let at = 1.0 + RESCAN_EVERY.as_secs_f64();
    assert_eq!(a.update(Msg::Tick, secs(at)), vec![Effect::Scan]);
    assert!(
        a.update(Msg::Tick, secs(at + 10.0)).is_empty(),
        "no second scan while one runs"
    );
    a.update(Msg::Scanned(vec![good()]), secs(at + 11.0));
    assert!(
        a.update(Msg::Tick, secs(at + 30.0)).is_empty(),
        "a listed package is not rescanned under the user"
    );
    // Off the packages screen nothing is scanned.
    let mut b = app();
    key(&mut b, Key::Enter, 0.1);
    b.update(Msg::Scanned(vec![]), secs(0.2));
    key(&mut b, Key::Back, 0.3);
    assert!(!b.update(Msg::Tick, secs(60.0)).contains(&Effect::Scan));
}

#[path = "tests_sideload.rs"]
mod sideload;
