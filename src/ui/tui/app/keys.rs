//! Keys, screen by screen: each screen's handler decides what a key does there.

use super::{
    wrap_next, wrap_prev, App, Effect, Outcome, PowerAction, ProgressState, ResultState, Screen,
    Written, HOME_MENU,
};
use crate::ui::tui::input::Key;

impl App {
    pub(super) fn key(&mut self, k: Key) -> Vec<Effect> {
        self.notice = None;
        if k == Key::Interrupt {
            return self.interrupt();
        }
        match self.screen {
            Screen::Home => self.key_home(k),
            Screen::Packages { .. } => self.key_packages(k),
            Screen::PreCheck { .. } => self.key_precheck(k),
            Screen::Confirm { .. } => self.key_confirm(k),
            Screen::Progress(_) => self.key_progress(k),
            Screen::Result(_) => self.key_result(k),
            Screen::Log { .. } => self.key_log(k),
            Screen::LastInstall { .. } => self.key_last_install(k),
            Screen::Wipe { .. } => self.key_wipe(k),
            Screen::Sideload { .. } => self.key_sideload(k),
        }
    }

    /// The main menu.
    fn key_home(&mut self, k: Key) -> Vec<Effect> {
        match k {
            Key::Up => {
                self.home_sel = wrap_prev(self.home_sel, HOME_MENU.len());
                vec![]
            }
            Key::Down => {
                self.home_sel = wrap_next(self.home_sel, HOME_MENU.len());
                vec![]
            }
            Key::Enter => self.home_select(),
            Key::Back => {
                self.notice =
                    Some("This is the main menu: choose Reboot system to leave recovery.".into());
                vec![]
            }
            _ => vec![],
        }
    }

    /// The package list: only Back works while the scan runs.
    fn key_packages(&mut self, k: Key) -> Vec<Effect> {
        let Screen::Packages { scanning } = &mut self.screen else {
            return vec![];
        };
        let n = self.packages.len();
        match k {
            Key::Back => self.go_home(),
            _ if *scanning => vec![],
            Key::Up if n > 0 => {
                self.pkg_sel = wrap_prev(self.pkg_sel, n);
                vec![]
            }
            Key::Down if n > 0 => {
                self.pkg_sel = wrap_next(self.pkg_sel, n);
                vec![]
            }
            Key::Enter if n == 0 => self.go_home(),
            Key::Enter => {
                let pkg = self.packages[self.pkg_sel.min(n - 1)].clone();
                let path = pkg.path.clone();
                self.screen = Screen::PreCheck {
                    pkg: Box::new(pkg),
                    checking: true,
                    sel: 0,
                };
                vec![Effect::Check(path)]
            }
            _ => vec![],
        }
    }

    /// The pre-check of one package.
    fn key_precheck(&mut self, k: Key) -> Vec<Effect> {
        let Screen::PreCheck { pkg, checking, sel } = &mut self.screen else {
            return vec![];
        };
        if *checking {
            return match k {
                Key::Back => self.back_to_packages(),
                _ => vec![],
            };
        }
        // Items: [Continue | Show error] and Back.
        match k {
            Key::Up | Key::Down | Key::Left | Key::Right => {
                *sel = 1 - *sel;
                vec![]
            }
            Key::Back => self.back_to_packages(),
            Key::Enter if *sel == 1 => self.back_to_packages(),
            Key::Enter => match &pkg.failure {
                Some(f) => {
                    self.screen = Screen::Result(Box::new(ResultState {
                        outcome: Outcome::Failure {
                            failure: f.clone(),
                            written: Written::Nothing,
                            log: None,
                        },
                        reboot_at: None,
                        sel: 0,
                    }));
                    vec![]
                }
                None => {
                    let pkg = pkg.clone();
                    self.screen = Screen::Confirm { pkg, sel: 0 };
                    vec![]
                }
            },
            _ => vec![],
        }
    }

    /// The last question before the install.
    fn key_confirm(&mut self, k: Key) -> Vec<Effect> {
        let Screen::Confirm { pkg, sel } = &mut self.screen else {
            return vec![];
        };
        match k {
            Key::Up | Key::Down | Key::Left | Key::Right => {
                *sel = 1 - *sel;
                vec![]
            }
            Key::Back => self.back_to_packages(),
            Key::Enter if *sel == 1 => {
                let path = pkg.path.clone();
                let p = ProgressState::new(pkg.name.clone(), pkg.plan.clone());
                self.screen = Screen::Progress(Box::new(p));
                vec![Effect::Install(path)]
            }
            Key::Enter => self.back_to_packages(),
            _ => vec![],
        }
    }

    /// The install: only Esc does something, and only before the first write.
    fn key_progress(&mut self, k: Key) -> Vec<Effect> {
        match k {
            Key::Back => self.cancel_install(),
            _ => vec![],
        }
    }

    /// The result: any key first stops the automatic reboot.
    fn key_result(&mut self, k: Key) -> Vec<Effect> {
        let Screen::Result(r) = &mut self.screen else {
            return vec![];
        };
        if r.reboot_at.is_some() {
            // Any key stops the automatic reboot.
            r.reboot_at = None;
            self.notice = Some("Automatic reboot stopped.".into());
            return vec![];
        }
        let n = r.items().len();
        match k {
            Key::Up | Key::Left => {
                r.sel = wrap_prev(r.sel, n);
                vec![]
            }
            Key::Down | Key::Right => {
                r.sel = wrap_next(r.sel, n);
                vec![]
            }
            Key::Back => self.go_home(),
            Key::Enter => match r.items().get(r.sel).copied() {
                Some("Reboot system now") => vec![Effect::Power(PowerAction::Reboot)],
                Some("View log") => self.open_log(),
                _ => self.go_home(),
            },
            _ => vec![],
        }
    }

    /// The log viewer: scrolling by line and by page.
    fn key_log(&mut self, k: Key) -> Vec<Effect> {
        let Screen::Log { lines, scroll, .. } = &mut self.screen else {
            return vec![];
        };
        let len = lines.as_ref().map(Vec::len).unwrap_or(0);
        let page = self.log_page.get().max(1);
        let max = len.saturating_sub(page);
        let cur = (*scroll).min(max);
        *scroll = match k {
            Key::Up => cur.saturating_sub(1),
            Key::Down => (cur + 1).min(max),
            Key::PageUp | Key::Left => cur.saturating_sub(page.saturating_sub(1).max(1)),
            Key::PageDown | Key::Right => (cur + page.saturating_sub(1).max(1)).min(max),
            Key::Home => 0,
            Key::End => max,
            Key::Back | Key::Enter => return self.go_home(),
            _ => cur,
        };
        vec![]
    }

    /// The last install record.
    fn key_last_install(&mut self, k: Key) -> Vec<Effect> {
        match k {
            Key::Back | Key::Enter => self.go_home(),
            _ => vec![],
        }
    }

    /// The two confirmations of a wipe.
    fn key_wipe(&mut self, k: Key) -> Vec<Effect> {
        let Screen::Wipe { stage, sel } = &mut self.screen else {
            return vec![];
        };
        match k {
            Key::Up | Key::Down | Key::Left | Key::Right => {
                *sel = 1 - *sel;
                vec![]
            }
            Key::Back => self.go_home(),
            Key::Enter if *sel == 0 => self.go_home(),
            Key::Enter if *stage == 1 => {
                // The second confirmation starts on Cancel again.
                *stage = 2;
                *sel = 0;
                vec![]
            }
            Key::Enter => vec![Effect::Wipe],
            _ => vec![],
        }
    }

    /// Ctrl-C: cancels an install that has not written yet, and leaves the screen otherwise.
    pub(super) fn interrupt(&mut self) -> Vec<Effect> {
        if self.installing() {
            return self.cancel_install();
        }
        vec![Effect::Power(PowerAction::Wait)]
    }

    /// Esc or Ctrl-C during the install: cancel only before the first write.
    fn cancel_install(&mut self) -> Vec<Effect> {
        let Screen::Progress(p) = &mut self.screen else {
            return vec![];
        };
        if p.committed {
            p.notice = Some(
                "Writing has started: the update cannot be stopped now. Do not power off.".into(),
            );
            vec![]
        } else if p.cancel_requested {
            vec![]
        } else {
            p.cancel_requested = true;
            p.notice = Some("Cancelling: nothing has been written.".into());
            vec![Effect::Cancel]
        }
    }

    fn home_select(&mut self) -> Vec<Effect> {
        match self.home_sel {
            0 => {
                self.screen = Screen::Packages { scanning: true };
                self.pkg_sel = 0;
                vec![Effect::Scan]
            }
            1 => {
                self.screen = Screen::LastInstall {
                    record: None,
                    loaded: false,
                };
                vec![Effect::LoadLastInstall]
            }
            2 => self.open_log(),
            3 => {
                self.screen = Screen::Wipe { stage: 1, sel: 0 };
                vec![]
            }
            4 => vec![Effect::Power(PowerAction::Reboot)],
            5 => vec![Effect::Power(PowerAction::Bootloader)],
            6 => vec![Effect::Power(PowerAction::PowerOff)],
            _ => {
                let addr = super::SIDELOAD_LISTEN.to_string();
                self.screen = Screen::Sideload {
                    addr: addr.clone(),
                    status: String::new(),
                };
                vec![Effect::Sideload(addr)]
            }
        }
    }

    /// Waiting for the PC: Back stops waiting.
    fn key_sideload(&mut self, k: Key) -> Vec<Effect> {
        let Screen::Sideload { addr, .. } = &self.screen else {
            return vec![];
        };
        match k {
            Key::Back => {
                let addr = addr.clone();
                let mut effects = self.go_home();
                effects.push(Effect::StopSideload(addr));
                effects
            }
            _ => vec![],
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;
    use crate::error::Code;
    use crate::ui::tui::app::{DeviceFacts, Msg};

    fn app() -> App {
        let unread = || (Code::Internal, "not read".to_string());
        App::new(
            DeviceFacts {
                product: "p".into(),
                hardware_revision: Err(unread()),
                baseband: Err(unread()),
                current_version: None,
                active_slot: Err(unread()),
                battery: Err(unread()),
                state_dir: PathBuf::from("/state"),
                free_space: Err(unread()),
                storage: vec![],
                update_state: None,
            },
            Duration::ZERO,
        )
    }

    fn ctrl_c(a: &mut App) -> Vec<Effect> {
        a.update(Msg::Key(Key::Interrupt), Duration::ZERO)
    }

    #[test]
    fn ctrl_c_cancels_an_install_once_before_the_first_write_and_leaves_elsewhere() {
        let mut a = app();
        assert_eq!(ctrl_c(&mut a), vec![Effect::Power(PowerAction::Wait)]);
        a.screen = Screen::Progress(Box::new(ProgressState::new("u.zip".into(), None)));
        assert_eq!(ctrl_c(&mut a), vec![Effect::Cancel]);
        assert!(ctrl_c(&mut a).is_empty());
        assert!(a.installing());
    }
}
