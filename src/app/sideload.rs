//! "Apply update from ADB": listen for a PC's `adb connect`, take `adb sideload update.zip`, and
//! install it through the same engine, checks, codes and records as a package from a card. The
//! package is read from the host block by block ([`crate::sideload::service::HostBlocks`]); no
//! copy is kept on the device. The command line and the recovery screen both call [`sideload`].

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;

use crate::device::power::PowerAction;
use crate::device::Device;
use crate::error::HasCode;
use crate::install::{self, events::Finish, Event, Input, Options, Sink};
use crate::package::Source;
use crate::sideload::conn::{device_banner, nul_terminated, Conn};
use crate::sideload::message::{Message, A_CLSE, A_CNXN, A_OKAY, A_OPEN, A_WRTE};
use crate::sideload::service::{parse_service, HostBlocks, RebootTarget, Service};
use crate::sideload::{protocol, SideloadError};
use crate::state::InstallRecord;
use crate::Error;

/// How a sideload session ended.
pub enum Ended {
    /// A package was received and the install ran (its record: code 0 on success), or the
    /// session failed before one could start (the record says why).
    Installed(Box<InstallRecord>),
    /// The host asked for a reboot (`adb reboot`, `adb reboot bootloader`, `adb reboot
    /// recovery`): the front end performs it through [`crate::app::perform_power`];
    /// `reboot:recovery` is [`PowerAction::Recovery`], a real restart into the recovery.
    Power(PowerAction, RebootTarget),
}

/// Binds `listen` (e.g. `0.0.0.0:5555`) and serves it ([`serve`]); a failure to bind ends the
/// session with 9150.
pub fn sideload(
    listen_on: &str,
    device: &dyn Device,
    sink: &mut dyn Sink,
    opts: &Options,
) -> Ended {
    match listen(listen_on) {
        Ok(l) => serve(&l, device, sink, opts),
        Err(e) => Ended::Installed(Box::new(failed(device, sink, e))),
    }
}

/// Binds `listen` (e.g. `0.0.0.0:5555`).
pub fn listen(listen: &str) -> Result<TcpListener, Error> {
    TcpListener::bind(listen).map_err(|source| {
        Error::Sideload(SideloadError::Listen {
            addr: listen.to_string(),
            source,
        })
    })
}

/// Serves adb on `listener` until a sideload ran or a reboot was asked for. Progress and the
/// result go to `sink` exactly as an `apply` reports them. `opts.cancel` is looked at between
/// connections (the screen's Back wakes the wait with a connection of its own).
pub fn serve(
    listener: &TcpListener,
    device: &dyn Device,
    sink: &mut dyn Sink,
    opts: &Options,
) -> Ended {
    let banner = device_banner(&device.profile().product);
    if let Ok(addr) = listener.local_addr() {
        sink.event(&Event::Log {
            message: format!("sideload: waiting for `adb connect {addr}` then `adb sideload`"),
        });
    }
    loop {
        match serve_one(listener, &banner, device, sink, opts) {
            Ok(Some(ended)) => return ended,
            // A probe or a host that left before asking anything.
            Ok(None) if install::cancelled(opts) => {
                return Ended::Installed(Box::new(failed(device, sink, Error::Cancelled)))
            }
            Ok(None) => continue,
            Err(e) => return Ended::Installed(Box::new(failed(device, sink, e))),
        }
    }
}

/// One TCP connection: the handshake, then services until a sideload or reboot.
fn serve_one(
    listener: &TcpListener,
    banner: &str,
    device: &dyn Device,
    sink: &mut dyn Sink,
    opts: &Options,
) -> Result<Option<Ended>, Error> {
    let (stream, peer) = listener.accept().map_err(|e| SideloadError::Listen {
        addr: listener
            .local_addr()
            .map_or_else(|_| "?".into(), |a: SocketAddr| a.to_string()),
        source: e,
    })?;
    let Some(mut conn) = Conn::accept(stream, banner)? else {
        return Ok(None);
    };
    sink.event(&Event::Log {
        message: format!("sideload: host {peer} connected ({})", conn.peer_banner),
    });
    let mut next_local = 1u32;
    loop {
        let m = match conn.recv() {
            Ok(m) => m,
            Err(SideloadError::Disconnected { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        match m.command {
            A_OPEN => {}
            // Acks and closes of streams we already refused; a repeated CNXN is answered as adbd
            // does, by ignoring it on an open link.
            A_OKAY | A_CLSE | A_WRTE | A_CNXN => continue,
            _ => return Err(protocol("unexpected message before a service").into()),
        }
        let (local, remote) = (next_local, m.arg0);
        next_local += 1;
        match parse_service(&m.data)? {
            Service::SideloadHost { size, block_size } => {
                sink.event(&Event::Log {
                    message: format!(
                        "sideload: host offers {size} bytes in blocks of {block_size}"
                    ),
                });
                let blocks = Arc::new(HostBlocks::open(conn, local, remote, size, block_size)?);
                return Ok(Some(Ended::Installed(Box::new(install_from(
                    &blocks, size, device, sink, opts,
                )))));
            }
            Service::Reboot(target) => {
                conn.send(&Message::new(A_OKAY, local, remote, Vec::new()))?;
                conn.send(&Message::new(A_CLSE, local, remote, Vec::new()))?;
                conn.shutdown();
                let action = match target {
                    RebootTarget::System => PowerAction::Reboot,
                    RebootTarget::Bootloader => PowerAction::Bootloader,
                    RebootTarget::Recovery => PowerAction::Recovery,
                };
                return Ok(Some(Ended::Power(action, target)));
            }
            Service::Legacy => {
                // minadbd answers the pre-KitKat protocol by closing: the host says to update adb.
                sink.event(&Event::Log {
                    message: "sideload: the host uses the legacy protocol; update adb".into(),
                });
                conn.send(&Message::new(A_CLSE, 0, remote, Vec::new()))?;
            }
            Service::Other(name) => {
                sink.event(&Event::Log {
                    message: format!("sideload: service {name:?} is not offered in recovery"),
                });
                conn.send(&Message::new(A_CLSE, 0, remote, nul_terminated("")))?;
            }
        }
    }
}

/// Installs from the host's blocks, then tells the host how it went.
fn install_from(
    blocks: &Arc<HostBlocks>,
    size: u64,
    device: &dyn Device,
    sink: &mut dyn Sink,
    opts: &Options,
) -> InstallRecord {
    let label = PathBuf::from(format!("adb-sideload ({size} bytes)"));
    let source: Arc<dyn Source> = blocks.clone();
    let record = install::apply_input(Input::Source(&source, &label), device, sink, opts);
    blocks.finish(crate::state::failure_code(record.code));
    record
}

/// The record of a session that failed before an install began; reported and not saved (the
/// state directory keeps the last real install's record).
fn failed(device: &dyn Device, sink: &mut dyn Sink, e: Error) -> InstallRecord {
    sink.event(&Event::Log {
        message: format!("FAILED: {}: {e}", e.code()),
    });
    let record = InstallRecord::failed_before_start("adb-sideload", &e, device.current_version());
    sink.finish(&Finish::Installed {
        record: &record,
        log: None,
    });
    record
}
