//! adb sideload helpers: the updater's `sideload` on a free loopback port, Debian's real `adb`
//! client with a private server port and HOME (killed after each test), and a scripted host that
//! misbehaves on purpose for the malformed-host cases.

use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use recovery_updater::sideload::message::{
    Message, A_CLSE, A_CNXN, A_OKAY, A_OPEN, A_VERSION, A_WRTE, MAX_PAYLOAD,
};

use super::{bin, sh, tool_output};

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `recovery-updater sideload --json` serving one device on 127.0.0.1.
pub struct Sideloader {
    child: Option<Child>,
    pub port: u16,
}

impl Sideloader {
    /// Starts it and waits until its port accepts connections (the probe closes before saying
    /// anything, which the server ignores).
    pub fn start(device: &Path) -> Sideloader {
        let port = free_port();
        let child = bin()
            .args(["sideload", "--json", "--device"])
            .arg(device)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start recovery-updater sideload");
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "sideload never listened");
            std::thread::sleep(Duration::from_millis(20));
        }
        Sideloader {
            child: Some(child),
            port,
        }
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Waits for it to exit: its output and the JSON result line.
    pub fn finish(mut self) -> (Output, serde_json::Value) {
        let out = self.child.take().unwrap().wait_with_output().unwrap();
        let result = super::last_json(&out);
        (out, result)
    }
}

impl Drop for Sideloader {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Debian's `adb` with its own server port and HOME; the server is killed on drop.
pub struct Adb {
    port: u16,
    home: tempfile::TempDir,
}

impl Adb {
    pub fn new() -> Adb {
        Adb {
            port: free_port(),
            home: tempfile::tempdir().unwrap(),
        }
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new("adb");
        c.arg("-P")
            .arg(self.port.to_string())
            .env("HOME", self.home.path())
            .env("ANDROID_ADB_SERVER_PORT", self.port.to_string());
        c
    }

    /// Points `cmd` (e.g. the station, which runs `adb` and talks to its server) at this adb's
    /// private server and HOME.
    pub fn env<'a>(&self, cmd: &'a mut Command) -> &'a mut Command {
        cmd.env("HOME", self.home.path())
            .env("ANDROID_ADB_SERVER_PORT", self.port.to_string())
    }

    /// `adb connect ADDR`; insists the device shows up in state `sideload`.
    pub fn connect(&self, addr: &str) {
        let said = sh(self.cmd().args(["connect", addr]));
        assert!(said.contains("connected to"), "{said}");
        let devices = sh(self.cmd().arg("devices"));
        assert!(
            devices.contains(&format!("{addr}\tsideload")),
            "adb devices: {devices}"
        );
    }

    /// `adb connect ADDR` again and again until `adb devices` lists it in state `sideload` (a
    /// device still booting: QEMU's port forward accepts, then drops the link). Panics with the
    /// last answers at `deadline`.
    pub fn connect_until(&self, addr: &str, deadline: Instant) {
        loop {
            let _ = self.cmd().args(["disconnect", addr]).output();
            let said = tool_output(self.cmd().args(["connect", addr]));
            std::thread::sleep(Duration::from_millis(300));
            let devices = sh(self.cmd().arg("devices"));
            if devices.contains(&format!("{addr}\tsideload")) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{addr} never showed up in state sideload: connect said {:?}; adb devices: {devices}",
                String::from_utf8_lossy(&said.stdout)
            );
            std::thread::sleep(Duration::from_millis(700));
        }
    }

    /// `adb -s ADDR sideload PKG`, whatever its status.
    pub fn sideload(&self, addr: &str, pkg: &Path) -> Output {
        tool_output(self.cmd().args(["-s", addr, "sideload"]).arg(pkg))
    }
}

impl Drop for Adb {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").output();
    }
}

/// What the scripted host does when asked for a block.
pub enum Reply {
    /// Sends these bytes as one WRTE (after the device's request was acknowledged).
    Data(Vec<u8>),
    /// Sends these bytes, then closes the stream (CLSE).
    ThenClose(Vec<u8>),
    /// Sends these bytes before acknowledging the request (data nobody asked for yet).
    Unasked(Vec<u8>),
    /// Drops the TCP connection, as a killed host does.
    Vanish,
}

/// A host speaking adb's transport by hand.
pub struct ScriptedHost {
    r: BufReader<TcpStream>,
    w: TcpStream,
    remote: u32,
}

const LOCAL: u32 = 7;

impl ScriptedHost {
    /// Connects, CNXN both ways.
    pub fn connect(port: u16) -> ScriptedHost {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let mut h = ScriptedHost {
            r: BufReader::new(s.try_clone().unwrap()),
            w: s,
            remote: 0,
        };
        h.send(&Message::new(
            A_CNXN,
            A_VERSION,
            MAX_PAYLOAD as u32,
            b"host::\0".to_vec(),
        ));
        let m = h.recv().expect("the device's CNXN");
        assert_eq!(m.command, A_CNXN);
        assert!(String::from_utf8_lossy(&m.data).starts_with("sideload::"));
        h
    }

    pub fn send(&mut self, m: &Message) {
        let _ = self.w.write_all(&m.encode());
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        let _ = self.w.write_all(bytes);
    }

    pub fn recv(&mut self) -> Option<Message> {
        Message::read_from(&mut self.r, MAX_PAYLOAD).ok()
    }

    /// Opens `service`; true when the device accepted it.
    pub fn open(&mut self, service: &str) -> bool {
        let mut name = service.as_bytes().to_vec();
        name.push(0);
        self.send(&Message::new(A_OPEN, LOCAL, 0, name));
        match self.recv() {
            Some(m) if m.command == A_OKAY => {
                self.remote = m.arg0;
                true
            }
            _ => false,
        }
    }

    /// Serves `pkg` as `sideload-host` announcing `announced` bytes in 64 KiB blocks; `reply`
    /// decides each answer from (requests so far, block, the honest bytes). Returns the status
    /// the device ended with (`DONEDONE`, `FAILFAIL...`), or None if the link ended without one.
    pub fn serve(
        &mut self,
        pkg: &[u8],
        announced: u64,
        mut reply: impl FnMut(u64, u64, Vec<u8>) -> Reply,
    ) -> Option<String> {
        assert!(self.open(&format!("sideload-host:{announced}:65536")));
        let mut requests = 0;
        loop {
            let m = self.recv()?;
            if m.command != A_WRTE {
                continue;
            }
            let text = String::from_utf8_lossy(&m.data).to_string();
            if text.starts_with("DONEDONE") || text.starts_with("FAILFAIL") {
                self.send(&Message::new(A_OKAY, LOCAL, self.remote, Vec::new()));
                return Some(text);
            }
            let block: u64 = text.parse().expect("an 8-digit block number");
            let start = (block * 65536).min(pkg.len() as u64) as usize;
            let end = (start + 65536).min(pkg.len());
            let honest = pkg[start..end].to_vec();
            requests += 1;
            let okay = Message::new(A_OKAY, LOCAL, self.remote, Vec::new());
            let remote = self.remote;
            let data = |d: Vec<u8>| Message::new(A_WRTE, LOCAL, remote, d);
            match reply(requests, block, honest) {
                Reply::Data(d) => {
                    self.send(&okay);
                    self.send(&data(d));
                }
                Reply::ThenClose(d) => {
                    self.send(&okay);
                    self.send(&data(d));
                    self.send(&Message::new(A_CLSE, LOCAL, self.remote, Vec::new()));
                }
                Reply::Unasked(d) => {
                    self.send(&data(d));
                    self.send(&okay);
                }
                Reply::Vanish => {
                    let _ = self.w.shutdown(std::net::Shutdown::Both);
                    return None;
                }
            }
        }
    }
}
