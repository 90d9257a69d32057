//! Input: a terminal's bytes and a phone's hardware keys (Linux input events), both turned into
//! the same [`Key`]s.
//!
//! Terminal: raw-mode bytes, with the escape sequences of the Linux console, xterm and tmux
//! (`ESC [ A` and `ESC O A` for arrows, `ESC [ 5 ~` / `ESC [ 6 ~` for PgUp/PgDn). A lone ESC
//! (a read that holds only ESC) is the Esc key.
//!
//! Hardware keys: `struct input_event` records read from /dev/input/eventN (or any reader: tests
//! feed recorded events from a pipe or a file through [`read_input_events`], the same code path).
//! Volume up/down move (a held key repeats, at most every [`REPEAT_INTERVAL_US`]); a short press
//! of Power selects; holding Power for [`LONG_PRESS_US`] goes back.

use std::io::{self, Read};
use std::path::PathBuf;

/// What the screen reacts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Up,
    Down,
    Left,
    Right,
    Enter,
    Back,
    PageUp,
    PageDown,
    Home,
    End,
    /// Ctrl-C.
    Interrupt,
    Char(char),
}

/// Turns raw terminal bytes into keys. Keeps an unfinished escape sequence for the next read.
#[derive(Default)]
pub struct TermParser {
    pending: Vec<u8>,
}

impl TermParser {
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Key> {
        let mut buf = std::mem::take(&mut self.pending);
        buf.extend_from_slice(bytes);
        let mut keys = Vec::new();
        let mut i = 0;
        while i < buf.len() {
            let b = buf[i];
            if b == 0x1b {
                if i + 1 == buf.len() {
                    keys.push(Key::Back);
                    i += 1;
                    continue;
                }
                let intro = buf[i + 1];
                if intro != b'[' && intro != b'O' {
                    // ESC followed by something else (Alt+key): Esc, then the key.
                    keys.push(Key::Back);
                    i += 1;
                    continue;
                }
                // CSI / SS3: parameters, then a final byte in 0x40..=0x7e.
                let mut j = i + 2;
                while j < buf.len() && !(0x40..=0x7e).contains(&buf[j]) {
                    j += 1;
                }
                if j >= buf.len() {
                    if buf.len() - i > 16 {
                        // Garbage, not a sequence: drop it.
                        i = buf.len();
                        continue;
                    }
                    self.pending = buf[i..].to_vec();
                    break;
                }
                let params = &buf[i + 2..j];
                let key = match (buf[j], params) {
                    (b'A', _) => Some(Key::Up),
                    (b'B', _) => Some(Key::Down),
                    (b'C', _) => Some(Key::Right),
                    (b'D', _) => Some(Key::Left),
                    (b'H', _) => Some(Key::Home),
                    (b'F', _) => Some(Key::End),
                    (b'~', b"5") => Some(Key::PageUp),
                    (b'~', b"6") => Some(Key::PageDown),
                    (b'~', b"1") | (b'~', b"7") => Some(Key::Home),
                    (b'~', b"4") | (b'~', b"8") => Some(Key::End),
                    _ => None,
                };
                keys.extend(key);
                i = j + 1;
                continue;
            }
            keys.extend(match b {
                b'\r' | b'\n' | b' ' => Some(Key::Enter),
                0x03 => Some(Key::Interrupt),
                0x7f | 0x08 | b'q' | b'Q' => Some(Key::Back),
                b'j' => Some(Key::Down),
                b'k' => Some(Key::Up),
                b'h' => Some(Key::Left),
                b'l' => Some(Key::Right),
                0x20..=0x7e => Some(Key::Char(b as char)),
                _ => None,
            });
            i += 1;
        }
        keys
    }
}

/// Event type of keys (linux/input-event-codes.h).
pub const EV_KEY: u16 = 0x01;
pub const KEY_VOLUMEDOWN: u16 = 114;
pub const KEY_VOLUMEUP: u16 = 115;
pub const KEY_POWER: u16 = 116;
/// Holding Power this long means Back.
pub const LONG_PRESS_US: i64 = 1_000_000;
/// A held volume key moves at most this often (the kernel repeats every ~33 ms).
pub const REPEAT_INTERVAL_US: i64 = 150_000;

/// Size of `struct input_event`: a `struct timeval` (two C longs) then type u16, code u16,
/// value i32. 24 bytes on 64-bit Linux, 16 on 32-bit.
pub const EVENT_SIZE: usize = 2 * std::mem::size_of::<libc::c_long>() + 8;

/// One `struct input_event`, native byte order as the kernel writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputEvent {
    pub sec: i64,
    pub usec: i64,
    pub kind: u16,
    pub code: u16,
    pub value: i32,
}

impl InputEvent {
    pub fn key(sec: i64, usec: i64, code: u16, value: i32) -> InputEvent {
        InputEvent {
            sec,
            usec,
            kind: EV_KEY,
            code,
            value,
        }
    }

    pub fn parse(b: &[u8; EVENT_SIZE]) -> InputEvent {
        const L: usize = std::mem::size_of::<libc::c_long>();
        // c_long is i32 on 32-bit targets and i64 on 64-bit ones: the conversion is needed
        // only on the former.
        #[allow(clippy::useless_conversion)]
        let long = |at: usize| -> i64 {
            let mut a = [0u8; L];
            a.copy_from_slice(&b[at..at + L]);
            i64::from(libc::c_long::from_ne_bytes(a))
        };
        let t = 2 * L;
        InputEvent {
            sec: long(0),
            usec: long(L),
            kind: u16::from_ne_bytes([b[t], b[t + 1]]),
            code: u16::from_ne_bytes([b[t + 2], b[t + 3]]),
            value: i32::from_ne_bytes([b[t + 4], b[t + 5], b[t + 6], b[t + 7]]),
        }
    }

    /// The record as the kernel would write it (tests record events with this).
    pub fn encode(&self) -> [u8; EVENT_SIZE] {
        const L: usize = std::mem::size_of::<libc::c_long>();
        let mut b = [0u8; EVENT_SIZE];
        b[..L].copy_from_slice(&(self.sec as libc::c_long).to_ne_bytes());
        b[L..2 * L].copy_from_slice(&(self.usec as libc::c_long).to_ne_bytes());
        let t = 2 * L;
        b[t..t + 2].copy_from_slice(&self.kind.to_ne_bytes());
        b[t + 2..t + 4].copy_from_slice(&self.code.to_ne_bytes());
        b[t + 4..t + 8].copy_from_slice(&self.value.to_ne_bytes());
        b
    }

    fn micros(&self) -> i64 {
        self.sec.saturating_mul(1_000_000).saturating_add(self.usec)
    }
}

/// Turns volume and power key events into keys, using the events' own timestamps for repeat
/// and long press (so recorded events replay identically).
#[derive(Default)]
pub struct HardKeys {
    power_down_at: Option<i64>,
    power_long_fired: bool,
    last_move_at: Option<i64>,
}

impl HardKeys {
    pub fn feed(&mut self, ev: &InputEvent) -> Option<Key> {
        if ev.kind != EV_KEY {
            return None;
        }
        let t = ev.micros();
        match (ev.code, ev.value) {
            (KEY_VOLUMEUP | KEY_VOLUMEDOWN, 1) => {
                self.last_move_at = Some(t);
                Some(if ev.code == KEY_VOLUMEUP {
                    Key::Up
                } else {
                    Key::Down
                })
            }
            (KEY_VOLUMEUP | KEY_VOLUMEDOWN, 2) => {
                let due = self
                    .last_move_at
                    .is_none_or(|last| t - last >= REPEAT_INTERVAL_US);
                if !due {
                    return None;
                }
                self.last_move_at = Some(t);
                Some(if ev.code == KEY_VOLUMEUP {
                    Key::Up
                } else {
                    Key::Down
                })
            }
            (KEY_POWER, 1) => {
                self.power_down_at = Some(t);
                self.power_long_fired = false;
                None
            }
            (KEY_POWER, 2) => {
                let down = self.power_down_at?;
                if !self.power_long_fired && t - down >= LONG_PRESS_US {
                    self.power_long_fired = true;
                    return Some(Key::Back);
                }
                None
            }
            (KEY_POWER, 0) => {
                let down = self.power_down_at.take()?;
                if self.power_long_fired {
                    None
                } else if t - down >= LONG_PRESS_US {
                    Some(Key::Back)
                } else {
                    Some(Key::Enter)
                }
            }
            _ => None,
        }
    }
}

/// Reads input event records until end of file or an error, calling `on_key` for every key they
/// make; stops early when `on_key` returns false. The one code path for /dev/input devices,
/// pipes and recorded files.
pub fn read_input_events<R: Read>(mut r: R, mut on_key: impl FnMut(Key) -> bool) -> io::Result<()> {
    let mut keys = HardKeys::default();
    let mut rec = [0u8; EVENT_SIZE];
    loop {
        match r.read_exact(&mut rec) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        if let Some(k) = keys.feed(&InputEvent::parse(&rec)) {
            if !on_key(k) {
                return Ok(());
            }
        }
    }
}

// EVIOCGBIT(EV_KEY, len) = _IOC(_IOC_READ, 'E', 0x20 + EV_KEY, len): the bitmap of key codes a
// device can send. Used to open only devices that have volume or power keys.
nix::ioctl_read_buf!(eviocgbit_key, b'E', 0x21, u8);

/// Does this evdev device have a volume or power key?
fn has_recovery_keys(file: &std::fs::File) -> bool {
    use std::os::fd::AsRawFd;
    // KEY_MAX is 0x2ff: 96 bytes of bits.
    let mut bits = [0u8; 0x300 / 8];
    // SAFETY: the fd is open for the call and `bits` is a writable buffer whose length the macro
    // passes to the kernel as the ioctl size, so the kernel writes at most that many bytes.
    if unsafe { eviocgbit_key(file.as_raw_fd(), &mut bits) }.is_err() {
        return false;
    }
    [KEY_VOLUMEDOWN, KEY_VOLUMEUP, KEY_POWER]
        .iter()
        .any(|&k| bits[usize::from(k / 8)] & (1 << (k % 8)) != 0)
}

/// The /dev/input/event* devices that have volume or power keys (none when /dev/input is
/// missing or unreadable, as on a development machine without root).
pub fn discover_key_devices() -> Vec<PathBuf> {
    let Ok(dir) = std::fs::read_dir("/dev/input") else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = dir
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("event"))
        })
        .filter(|p| {
            std::fs::File::open(p)
                .map(|f| has_recovery_keys(&f))
                .unwrap_or(false)
        })
        .collect();
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_sequences() {
        let mut p = TermParser::default();
        assert_eq!(
            p.feed(b"\x1b[A\x1b[B\x1bOA\x1b[5~\x1b[6~\rjkq\x03"),
            vec![
                Key::Up,
                Key::Down,
                Key::Up,
                Key::PageUp,
                Key::PageDown,
                Key::Enter,
                Key::Down,
                Key::Up,
                Key::Back,
                Key::Interrupt
            ]
        );
        assert_eq!(p.feed(b"\x1b"), vec![Key::Back]);
        // A sequence split over two reads.
        assert_eq!(p.feed(b"\x1b[6"), vec![]);
        assert_eq!(p.feed(b"~"), vec![Key::PageDown]);
    }

    #[test]
    fn power_short_long_and_volume_repeat() {
        let mut k = HardKeys::default();
        let ev = |s, us, code, v| InputEvent::key(s, us, code, v);
        assert_eq!(k.feed(&ev(1, 0, KEY_VOLUMEDOWN, 1)), Some(Key::Down));
        // Repeats faster than the interval are dropped, later ones move.
        assert_eq!(k.feed(&ev(1, 33_000, KEY_VOLUMEDOWN, 2)), None);
        assert_eq!(k.feed(&ev(1, 160_000, KEY_VOLUMEDOWN, 2)), Some(Key::Down));
        assert_eq!(k.feed(&ev(1, 200_000, KEY_VOLUMEDOWN, 0)), None);
        assert_eq!(k.feed(&ev(2, 0, KEY_POWER, 1)), None);
        assert_eq!(k.feed(&ev(2, 300_000, KEY_POWER, 0)), Some(Key::Enter));
        // Held: Back fires once while held; the release does nothing more.
        assert_eq!(k.feed(&ev(3, 0, KEY_POWER, 1)), None);
        assert_eq!(k.feed(&ev(3, 500_000, KEY_POWER, 2)), None);
        assert_eq!(k.feed(&ev(4, 0, KEY_POWER, 2)), Some(Key::Back));
        assert_eq!(k.feed(&ev(4, 100_000, KEY_POWER, 2)), None);
        assert_eq!(k.feed(&ev(4, 200_000, KEY_POWER, 0)), None);
        // Held without repeat events (a device that sends none): decided at release.
        assert_eq!(k.feed(&ev(5, 0, KEY_POWER, 1)), None);
        assert_eq!(k.feed(&ev(6, 500_000, KEY_POWER, 0)), Some(Key::Back));
        // Other event types (EV_SYN) and keys are ignored.
        let syn = InputEvent {
            kind: 0,
            ..ev(7, 0, 0, 0)
        };
        assert_eq!(k.feed(&syn), None);
        assert_eq!(k.feed(&ev(7, 0, 30, 1)), None);
    }

    #[test]
    fn event_records_round_trip() {
        let e = InputEvent::key(1_700_000_000, 123_456, KEY_POWER, 1);
        let b = e.encode();
        assert_eq!(b.len(), EVENT_SIZE);
        assert_eq!(InputEvent::parse(&b), e);
        #[cfg(target_pointer_width = "64")]
        assert_eq!(EVENT_SIZE, 24);
    }
}
