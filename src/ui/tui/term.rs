//! The terminal: the controlling terminal or a console named with `--tty`, in raw mode, sized
//! with TIOCGWINSZ, always restored — on return, on error and on panic.
//!
//! No controlling terminal is assumed: a recovery init has none. Nothing here asks crossterm
//! for the size or the cursor position (both go through /dev/tty): the backend is told its size.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, IsTerminal, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use nix::sys::termios::{self, SetArg, Termios};
use ratatui::backend::{Backend, ClearType, CrosstermBackend, WindowSize};
use ratatui::buffer::Cell;
use ratatui::layout::{Position, Rect, Size};
use ratatui::{Terminal, TerminalOptions, Viewport};

use crate::error::Code;

/// Used when the terminal reports 0x0 (a serial console) or no size at all.
pub const FALLBACK_SIZE: (u16, u16) = (80, 25);

// TIOCGWINSZ: the terminal's rows and columns as the tty layer knows them. A serial console
// reports 0x0 unless someone ran `stty rows/cols`.
nix::ioctl_read_bad!(tiocgwinsz, libc::TIOCGWINSZ, libc::winsize);

/// The terminal's size in cells, or `None` when unknown (not a tty, or 0x0).
pub fn window_size(file: &File) -> Option<(u16, u16)> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: the fd is open for the call and `ws` is a valid winsize for the kernel to fill.
    unsafe { tiocgwinsz(file.as_raw_fd(), &mut ws) }.ok()?;
    (ws.ws_col > 0 && ws.ws_row > 0).then_some((ws.ws_col, ws.ws_row))
}

/// A crossterm backend that never queries the terminal: its size is whatever the runtime last
/// measured on the right file descriptor.
pub struct FixedBackend<W: Write> {
    inner: CrosstermBackend<W>,
    size: Size,
    cursor: Position,
}

impl<W: Write> FixedBackend<W> {
    pub fn new(w: W, size: (u16, u16)) -> Self {
        FixedBackend {
            inner: CrosstermBackend::new(w),
            size: Size::new(size.0, size.1),
            cursor: Position::ORIGIN,
        }
    }
    pub fn set_size(&mut self, size: (u16, u16)) {
        self.size = Size::new(size.0, size.1);
    }
}

impl<W: Write> Backend for FixedBackend<W> {
    type Error = io::Error;

    fn draw<'a, I>(&mut self, content: I) -> io::Result<()>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        self.inner.draw(content)
    }
    fn hide_cursor(&mut self) -> io::Result<()> {
        self.inner.hide_cursor()
    }
    fn show_cursor(&mut self) -> io::Result<()> {
        self.inner.show_cursor()
    }
    fn get_cursor_position(&mut self) -> io::Result<Position> {
        Ok(self.cursor)
    }
    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> io::Result<()> {
        let p = position.into();
        self.cursor = p;
        self.inner.set_cursor_position(p)
    }
    fn clear(&mut self) -> io::Result<()> {
        self.inner.clear()
    }
    fn clear_region(&mut self, clear_type: ClearType) -> io::Result<()> {
        self.inner.clear_region(clear_type)
    }
    fn size(&self) -> io::Result<Size> {
        Ok(self.size)
    }
    fn window_size(&mut self) -> io::Result<WindowSize> {
        Ok(WindowSize {
            columns_rows: self.size,
            pixels: Size::new(0, 0),
        })
    }
    fn flush(&mut self) -> io::Result<()> {
        Backend::flush(&mut self.inner)
    }
}

pub type TuiTerminal = Terminal<FixedBackend<BufWriter<File>>>;

/// The open terminal: where we draw, where keys come from, and how to put it back.
pub struct Tty {
    pub out: File,
    /// Keys are read from here (the same terminal) when it is a terminal.
    pub input: Option<File>,
    saved: Option<Termios>,
    /// Size from `--size`, used when the terminal reports none.
    fallback: (u16, u16),
    pub name: PathBuf,
}

/// What the panic hook needs to put the terminal back and show the error code screen.
struct PanicTarget {
    out: File,
    saved: Option<Termios>,
    size: (u16, u16),
}

static PANIC_TARGET: Mutex<Option<PanicTarget>> = Mutex::new(None);

impl Tty {
    /// Opens `path` (a console such as /dev/tty1, a serial line, or any writable file), or the
    /// controlling terminal: stdout when it is a terminal, else /dev/tty.
    pub fn open(path: Option<&Path>, fallback: Option<(u16, u16)>) -> io::Result<Tty> {
        let fallback = fallback.unwrap_or(FALLBACK_SIZE);
        let (out, name) = match path {
            Some(p) => {
                // O_NOCTTY: a console we draw on must not become our controlling terminal
                // (a recovery init that is a session leader would otherwise acquire it).
                let f = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .custom_flags(libc::O_NOCTTY)
                    .open(p)
                    .or_else(|_| OpenOptions::new().write(true).open(p))
                    .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", p.display())))?;
                (f, p.to_path_buf())
            }
            None if io::stdout().is_terminal() => (
                File::from(io::stdout().as_fd().try_clone_to_owned()?),
                PathBuf::from("stdout"),
            ),
            None => {
                let f = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open("/dev/tty")
                    .map_err(|e| {
                        io::Error::new(
                            e.kind(),
                            format!("no terminal (/dev/tty: {e}); name one with --tty"),
                        )
                    })?;
                (f, PathBuf::from("/dev/tty"))
            }
        };
        let input = if out.is_terminal() {
            match path {
                None if io::stdin().is_terminal() => {
                    Some(File::from(io::stdin().as_fd().try_clone_to_owned()?))
                }
                _ => Some(out.try_clone()?),
            }
        } else {
            None
        };
        Ok(Tty {
            out,
            input,
            saved: None,
            fallback,
            name,
        })
    }

    /// The size to draw at: the terminal's, or the fallback.
    pub fn size(&self) -> (u16, u16) {
        window_size(&self.out).unwrap_or(self.fallback)
    }

    /// Raw mode on the input terminal (no echo, no line buffering, no signals: Ctrl-C is a key),
    /// hides the cursor and clears the screen. Registers the terminal with the panic hook.
    pub fn enter(&mut self) -> io::Result<TuiTerminal> {
        if let Some(inp) = &self.input {
            if let Ok(saved) = termios::tcgetattr(inp) {
                let mut raw = saved.clone();
                termios::cfmakeraw(&mut raw);
                // Keep output post-processing off as cfmakeraw sets it: ratatui positions the
                // cursor absolutely and never relies on \n -> \r\n.
                termios::tcsetattr(inp, SetArg::TCSANOW, &raw).map_err(io::Error::from)?;
                self.saved = Some(saved);
            }
        }
        let size = self.size();
        if let Ok(mut g) = PANIC_TARGET.lock() {
            *g = Some(PanicTarget {
                out: self.out.try_clone()?,
                saved: self.saved.clone(),
                size,
            });
        }
        // Reset attributes, hide the cursor, clear, home.
        self.out.write_all(b"\x1b[0m\x1b[?25l\x1b[2J\x1b[H")?;
        self.terminal(size)
    }

    fn terminal(&self, size: (u16, u16)) -> io::Result<TuiTerminal> {
        let backend = FixedBackend::new(
            BufWriter::with_capacity(64 * 1024, self.out.try_clone()?),
            size,
        );
        Terminal::with_options(
            backend,
            TerminalOptions {
                viewport: Viewport::Fixed(Rect::new(0, 0, size.0, size.1)),
            },
        )
    }

    /// Tells the panic hook the new size.
    pub fn resized(&self, size: (u16, u16)) {
        if let Ok(mut g) = PANIC_TARGET.lock() {
            if let Some(t) = g.as_mut() {
                t.size = size;
            }
        }
    }

    /// Puts the terminal back: cooked mode, attributes reset, cursor shown, screen cleared.
    pub fn restore(&mut self) {
        if let Ok(mut g) = PANIC_TARGET.lock() {
            *g = None;
        }
        let _ = self.out.write_all(b"\x1b[0m\x1b[2J\x1b[H\x1b[?25h");
        let _ = self.out.flush();
        if let (Some(inp), Some(saved)) = (&self.input, self.saved.take()) {
            let _ = termios::tcsetattr(inp, SetArg::TCSANOW, &saved);
        }
    }
}

impl Drop for Tty {
    fn drop(&mut self) {
        if self.saved.is_some() || PANIC_TARGET.lock().map(|g| g.is_some()).unwrap_or(false) {
            self.restore();
        }
    }
}

/// Installs the hook that, on a panic anywhere in the program while the screen is up, draws the
/// internal-error code screen, restores the terminal and exits with the code's status. Release
/// builds abort on panic, so this hook is the one place that can still do it.
pub fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let target = PANIC_TARGET.try_lock().ok().and_then(|mut g| g.take());
        let Some(mut t) = target else {
            previous(info);
            return;
        };
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".into());
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let message = format!("the updater stopped unexpectedly: {what}{at}");
        let code = Code::Internal;
        if let Ok(out) = t.out.try_clone() {
            let backend = FixedBackend::new(BufWriter::new(out), t.size);
            if let Ok(mut term) = Terminal::with_options(
                backend,
                TerminalOptions {
                    viewport: Viewport::Fixed(Rect::new(0, 0, t.size.0, t.size.1)),
                },
            ) {
                let _ = t.out.write_all(b"\x1b[0m\x1b[2J");
                let _ = term.draw(|f| super::view::draw_fatal(f, code, &message));
            }
        }
        // Leave the screen as it is, with the cursor on the last line, visible.
        let _ = write!(t.out, "\x1b[0m\x1b[{};1H\x1b[?25h", t.size.1);
        let _ = t.out.flush();
        if let Some(saved) = t.saved.take() {
            let _ = termios::tcsetattr(&t.out, SetArg::TCSANOW, &saved);
        }
        if !io::stderr().is_terminal() {
            eprintln!("error {}: {}: {message}", code.number(), code.name());
        }
        std::process::exit(i32::from(code.exit_status()));
    }));
}
