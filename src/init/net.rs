//! Bringing up the recovery's network without `ip` or DHCP: `lo`, then one interface with the
//! profile's static IPv4 address (`[init.network]`), so a PC can `adb connect` in sideload mode.
//!
//! The choices (which interface, the address and netmask) are pure and unit-tested; the effect
//! is three ioctls per interface on an AF_INET datagram socket, as ifconfig(8) does them.

use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::device::profile::{parse_cidr, NetworkDef};
use crate::Error;

/// The interface to configure: the profile's, else the first (by name) in `sys_class_net`
/// that is not `lo`. `None` while it has not appeared.
pub fn pick_interface(sys_class_net: &Path, wanted: Option<&str>) -> Option<String> {
    let mut names: Vec<String> = std::fs::read_dir(sys_class_net)
        .ok()?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "lo")
        .collect();
    names.sort();
    match wanted {
        Some(w) => names.into_iter().find(|n| n == w),
        None => names.into_iter().next(),
    }
}

/// `struct ifreq` as the kernel lays it out on 64-bit Linux: a 16-byte name, then a 24-byte
/// union (the largest member is `struct ifmap`). We only use its first 16 bytes: a `sockaddr_in`
/// for the address ioctls, a `short` for the flags ones. On 32-bit the kernel's struct is 32
/// bytes and reads a prefix of ours.
#[repr(C)]
struct IfReq {
    name: [u8; 16],
    data: [u8; 24],
}

impl IfReq {
    fn new(name: &str) -> Result<IfReq, String> {
        let mut r = IfReq {
            name: [0; 16],
            data: [0; 24],
        };
        // IFNAMSIZ is 16 with the terminating NUL.
        if name.is_empty() || name.len() > 15 || name.contains('\0') {
            return Err(format!("{name:?} is not an interface name"));
        }
        r.name[..name.len()].copy_from_slice(name.as_bytes());
        Ok(r)
    }

    /// A `struct sockaddr_in` {family (host order), port 0 (network order), address (network
    /// order), 8 zero bytes} in the union.
    fn set_addr(&mut self, a: Ipv4Addr) {
        self.data = [0; 24];
        self.data[..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
        self.data[4..8].copy_from_slice(&a.octets());
    }
}

/// An AF_INET datagram socket: the handle the interface ioctls go through (any socket of the
/// family whose address is set will do; nothing is sent on it).
fn inet_socket() -> Result<OwnedFd, String> {
    // SAFETY: socket(2) takes no pointers; a non-negative result is a new descriptor we own.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(format!(
            "socket(AF_INET): {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: fd was just returned by socket(2) and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// One interface ioctl with `req` read and written by the kernel.
fn ifioctl(
    sock: &OwnedFd,
    request: libc::c_ulong,
    req: &mut IfReq,
    what: &str,
) -> Result<(), String> {
    // SAFETY: `req` is a live, properly sized `struct ifreq` (see IfReq) for the whole call; the
    // SIOC[GS]IF* requests read at most sizeof(struct ifreq) from it and write only its union.
    // The request's type is c_ulong on glibc and c_int on musl, hence the cast.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), request as _, req as *mut IfReq) };
    if rc < 0 {
        return Err(format!("{what}: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

/// Sets IFF_UP on `name`, keeping its other flags.
fn set_up(sock: &OwnedFd, name: &str) -> Result<(), String> {
    let mut r = IfReq::new(name)?;
    // SIOCGIFFLAGS: read the current flags (a short at the start of the union) so setting UP
    // does not clear e.g. IFF_MULTICAST or IFF_BROADCAST.
    ifioctl(sock, libc::SIOCGIFFLAGS as _, &mut r, "SIOCGIFFLAGS")?;
    let flags = i16::from_ne_bytes([r.data[0], r.data[1]]) | libc::IFF_UP as i16;
    r.data[..2].copy_from_slice(&flags.to_ne_bytes());
    // SIOCSIFFLAGS: the interface comes up (the driver opens its queues; with a link, traffic
    // flows).
    ifioctl(sock, libc::SIOCSIFFLAGS as _, &mut r, "SIOCSIFFLAGS")
}

/// Gives `name` the address and netmask, then brings it up.
fn configure(sock: &OwnedFd, name: &str, addr: Ipv4Addr, mask: Ipv4Addr) -> Result<(), String> {
    let mut r = IfReq::new(name)?;
    r.set_addr(addr);
    // SIOCSIFADDR: the interface's primary IPv4 address (the kernel adds the local route).
    ifioctl(sock, libc::SIOCSIFADDR as _, &mut r, "SIOCSIFADDR")?;
    r.set_addr(mask);
    // SIOCSIFNETMASK: after the address (setting the address resets the mask to its class
    // default); the kernel adds the on-link route for the subnet when the interface is up.
    ifioctl(sock, libc::SIOCSIFNETMASK as _, &mut r, "SIOCSIFNETMASK")?;
    set_up(sock, name)
}

/// Brings up `lo` and the profile's interface (waiting up to `wait` for its driver to create it).
/// Returns what was done, for the console.
pub fn bring_up(def: &NetworkDef, sys_class_net: &Path, wait: Duration) -> Result<String, Error> {
    let err = |reason: String| Error::RecoveryInit {
        step: "bringing up the network ([init.network])".into(),
        reason,
    };
    let (addr, mask) = parse_cidr(&def.address).map_err(err)?;
    let sock = inet_socket().map_err(err)?;
    set_up(&sock, "lo").map_err(|e| err(format!("lo: {e}")))?;
    let start = Instant::now();
    let name = loop {
        if let Some(n) = pick_interface(sys_class_net, def.interface.as_deref()) {
            break n;
        }
        if start.elapsed() >= wait {
            return Err(err(format!(
                "no interface {} appeared in {} s (is its driver in [init] modules?)",
                def.interface.as_deref().unwrap_or("other than lo"),
                wait.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    configure(&sock, &name, addr, mask).map_err(|e| err(format!("{name}: {e}")))?;
    Ok(format!("{name} up at {addr} netmask {mask}"))
}

#[cfg(test)]
#[path = "net_tests.rs"]
mod tests;
