//! Hardware keys: recorded `struct input_event` records (volume down, power, held power) fed
//! through the same reader that serves /dev/input/eventN, from a file and from a pipe.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;

use recovery_updater::ui::tui::input::{
    read_input_events, InputEvent, Key, EVENT_SIZE, KEY_POWER, KEY_VOLUMEDOWN, KEY_VOLUMEUP,
};

/// What a gpio-keys driver reports for: Vol- tapped, Vol- held (autorepeat at 33 ms for about
/// half a second), Vol+ tapped, Power tapped, Power held 1.5 s with autorepeat. Each key event
/// is followed by an EV_SYN report, as the kernel sends them.
fn recording() -> Vec<u8> {
    let mut evs = Vec::new();
    let mut push = |us: i64, code: u16, value: i32| {
        evs.push(InputEvent::key(us / 1_000_000, us % 1_000_000, code, value));
        evs.push(InputEvent {
            sec: us / 1_000_000,
            usec: us % 1_000_000,
            kind: 0,
            code: 0,
            value: 0,
        });
    };
    let t0 = 1_700_000_000_000_000i64;
    push(t0, KEY_VOLUMEDOWN, 1);
    push(t0 + 100_000, KEY_VOLUMEDOWN, 0);
    // Held: press, kernel repeat after 250 ms, then every 33 ms until 700 ms.
    let t1 = t0 + 1_000_000;
    push(t1, KEY_VOLUMEDOWN, 1);
    let mut t = t1 + 250_000;
    while t < t1 + 700_000 {
        push(t, KEY_VOLUMEDOWN, 2);
        t += 33_000;
    }
    push(t1 + 700_000, KEY_VOLUMEDOWN, 0);
    let t2 = t0 + 2_000_000;
    push(t2, KEY_VOLUMEUP, 1);
    push(t2 + 80_000, KEY_VOLUMEUP, 0);
    let t3 = t0 + 3_000_000;
    push(t3, KEY_POWER, 1);
    push(t3 + 150_000, KEY_POWER, 0);
    let t4 = t0 + 4_000_000;
    push(t4, KEY_POWER, 1);
    let mut t = t4 + 250_000;
    while t < t4 + 1_500_000 {
        push(t, KEY_POWER, 2);
        t += 33_000;
    }
    push(t4 + 1_500_000, KEY_POWER, 0);
    evs.iter().flat_map(|e| e.encode()).collect()
}

/// Tap: one move. Held 700 ms: the press plus one move per 150 ms of repeats (at 250, 415, 580
/// ms of repeat timestamps: 3). Then Vol+, a short Power (select) and a long one (back, once).
fn expected() -> Vec<Key> {
    vec![
        Key::Down,
        Key::Down,
        Key::Down,
        Key::Down,
        Key::Down,
        Key::Up,
        Key::Enter,
        Key::Back,
    ]
}

fn collect(r: impl std::io::Read) -> Vec<Key> {
    let mut keys = Vec::new();
    read_input_events(r, |k| {
        keys.push(k);
        true
    })
    .unwrap();
    keys
}

#[test]
fn recorded_events_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("event0.rec");
    let rec = recording();
    assert_eq!(rec.len() % EVENT_SIZE, 0);
    std::fs::write(&path, &rec).unwrap();
    assert_eq!(collect(std::fs::File::open(&path).unwrap()), expected());
}

#[test]
fn recorded_events_through_a_pipe_in_odd_sized_writes() {
    let (r, w) = nix::unistd::pipe().unwrap();
    let rec = recording();
    let writer = std::thread::spawn(move || {
        let mut w = std::fs::File::from(w);
        // Writes that split records, as a slow producer might: the reader must reassemble.
        for chunk in rec.chunks(7) {
            w.write_all(chunk).unwrap();
        }
    });
    let keys = collect(std::fs::File::from(r));
    writer.join().unwrap();
    assert_eq!(keys, expected());
}

#[test]
fn the_reader_stops_when_the_screen_is_gone() {
    let rec = recording();
    let mut seen = 0;
    read_input_events(&rec[..], |_| {
        seen += 1;
        seen < 2
    })
    .unwrap();
    assert_eq!(seen, 2);
}
