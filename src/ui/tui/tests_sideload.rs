//! "Apply update from ADB" on the recovery screen: the menu item, the waiting screen, and the
//! hand-over to the progress and result screens the card install uses.

use super::*;

/// Home → the last item, "Apply update from ADB".
fn at_sideload() -> App {
    let mut a = app();
    key(&mut a, Key::Up, 0.1); // the menu wraps: Up from the first item is the last
    assert_eq!(HOME_MENU[a.home_sel], "Apply update from ADB");
    assert_eq!(
        key(&mut a, Key::Enter, 0.2),
        vec![Effect::Sideload(SIDELOAD_LISTEN.into())]
    );
    a
}

#[test]
fn snapshot_sideload_waiting() {
    let mut a = at_sideload();
    a.update(
        Msg::Engine(Event::Log {
            message: "sideload: host 10.0.0.2:40122 connected (host::)".into(),
        }),
        secs(0.3),
    );
    snap("sideload_waiting", &a);
}

#[test]
fn back_stops_waiting() {
    let mut a = at_sideload();
    let effects = key(&mut a, Key::Back, 0.3);
    assert!(
        effects.contains(&Effect::StopSideload(SIDELOAD_LISTEN.into())),
        "{effects:?}"
    );
    assert!(matches!(a.screen, Screen::Home));
    // A late end of the session (the cancelled wait) changes nothing.
    let record = InstallRecord::failed_before_start(
        "adb-sideload",
        &crate::Error::Cancelled,
        Some("1.0.0".into()),
    );
    assert!(a
        .update(Msg::InstallDone(Box::new(record)), secs(0.4))
        .is_empty());
    assert!(matches!(a.screen, Screen::Home));
}

#[test]
fn the_first_phase_shows_progress_and_the_result_follows() {
    let mut a = at_sideload();
    a.update(Msg::Engine(Event::Phase { phase: Phase::Open }), secs(0.3));
    assert!(matches!(a.screen, Screen::Progress(_)));
    let record = InstallRecord::failed_before_start(
        "adb-sideload",
        &crate::Error::SignatureInvalid { trusted: 1 },
        Some("1.0.0".into()),
    );
    a.update(Msg::InstallDone(Box::new(record)), secs(0.5));
    assert!(matches!(a.screen, Screen::Result(_)));
    assert!(screen_text(&a, 80, 25).contains("9012"));
}

#[test]
fn a_malformed_session_shows_its_code() {
    let mut a = at_sideload();
    let err = crate::Error::Sideload(crate::sideload::SideloadError::Protocol {
        reason: "bad magic".into(),
    });
    let record = InstallRecord::failed_before_start("adb-sideload", &err, None);
    a.update(Msg::InstallDone(Box::new(record)), secs(0.5));
    assert!(matches!(a.screen, Screen::Result(_)));
    assert!(screen_text(&a, 80, 25).contains("9155"));
}

#[test]
fn host_reboots_are_performed_and_reboot_recovery_goes_home() {
    let mut a = at_sideload();
    assert_eq!(
        a.update(Msg::SideloadPower(PowerAction::Bootloader), secs(0.3)),
        vec![Effect::Power(PowerAction::Bootloader)]
    );
    a.update(Msg::SideloadPower(PowerAction::Wait), secs(0.4));
    assert!(matches!(a.screen, Screen::Home));
}
