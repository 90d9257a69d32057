//! The power action a front end ends with, performed one way for all of them.

use crate::device::power::{self, PowerAction};
use crate::Error;

/// Where the updater runs, which decides what a power action does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerMode {
    /// As the recovery init on the device: sync, unmount, then reboot(2).
    System,
    /// As an ordinary program, or on a simulated device: the machine is not ours to reboot.
    Program,
}

/// Performs `action`. As [`PowerMode::System`] a reboot or power off does not return when it
/// works. As [`PowerMode::Program`] nothing is done, and the notice to show says what would have
/// happened (`None` for [`PowerAction::Wait`], which does nothing anyway).
pub fn perform_power(action: PowerAction, mode: PowerMode) -> Result<Option<String>, Error> {
    match mode {
        PowerMode::System => power::perform(action).map(|()| None),
        PowerMode::Program => Ok((action != PowerAction::Wait).then(|| {
            format!(
                "{} requested: recovery-updater is not the recovery init here, so it exits instead",
                action.label()
            )
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_only_says_what_it_would_do() {
        assert_eq!(
            perform_power(PowerAction::Reboot, PowerMode::Program).unwrap(),
            Some(
                "reboot system requested: recovery-updater is not the recovery init here, so it \
                 exits instead"
                    .into()
            )
        );
        assert_eq!(
            perform_power(PowerAction::Recovery, PowerMode::Program).unwrap(),
            Some(
                "reboot to recovery requested: recovery-updater is not the recovery init here, \
                 so it exits instead"
                    .into()
            )
        );
        assert_eq!(
            perform_power(PowerAction::Wait, PowerMode::Program).unwrap(),
            None
        );
        // Waiting as the init returns at once and reboots nothing.
        assert_eq!(
            perform_power(PowerAction::Wait, PowerMode::System).unwrap(),
            None
        );
    }
}
