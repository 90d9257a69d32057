//! A small hawkBit DDI server for the agent's tests: std `TcpListener`, rustls server side with
//! a certificate made by the real `openssl`, the DDI routes the agent uses (root, configData,
//! deploymentBase, feedback, cancelAction, artifact download with Range), and a record of every
//! request and feedback for the assertions. goosebit (tests/common/goosebit.rs) is the real
//! server; this one speaks what goosebit lacks (cancelAction, maintenance windows, skip).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::shell::sh;

/// A certificate and key made by openssl (EC P-256, CA:FALSE, serverAuth, SAN localhost and
/// 127.0.0.1, as rustls wants an end-entity certificate) and its curl-form pin.
pub struct ServerCert {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub pin: String,
}

pub fn make_cert(dir: &Path, name: &str) -> ServerCert {
    let cert = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
    sh(Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .args(["-addext", "extendedKeyUsage=serverAuth"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert));
    // curl's recipe for --pinnedpubkey: SHA-256 of the SPKI DER, base64.
    let pin = sh(Command::new("sh").arg("-c").arg(format!(
        "openssl x509 -in '{}' -pubkey -noout | openssl pkey -pubin -outform der \
         | openssl dgst -sha256 -binary | openssl base64 -A",
        cert.display()
    )));
    ServerCert {
        cert,
        key,
        pin: format!("sha256//{}", pin.trim()),
    }
}

/// A private CA (`<name>-ca.crt`, CA:TRUE) and a server certificate it signed (as
/// [`make_cert`]'s: EC P-256, CA:FALSE, serverAuth, SAN localhost and 127.0.0.1). Returns the
/// server certificate (its file holds the leaf then the CA) and the CA certificate's path.
pub fn make_ca_signed_cert(dir: &Path, name: &str) -> (ServerCert, PathBuf) {
    let ca = dir.join(format!("{name}-ca.crt"));
    let ca_key = dir.join(format!("{name}-ca.key"));
    sh(Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:P-256", "-nodes", "-days", "2"])
        .args(["-subj", &format!("/CN={name} test CA")])
        .args(["-addext", "basicConstraints=critical,CA:TRUE"])
        .args(["-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        .arg("-keyout")
        .arg(&ca_key)
        .arg("-out")
        .arg(&ca));
    let key = dir.join(format!("{name}.key"));
    let csr = dir.join(format!("{name}.csr"));
    let leaf = dir.join(format!("{name}.leaf.crt"));
    sh(Command::new("openssl")
        .args([
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-subj", "/CN=localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&csr));
    let ext = dir.join(format!("{name}.ext"));
    std::fs::write(
        &ext,
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n\
         extendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    sh(Command::new("openssl")
        .args(["x509", "-req", "-days", "2", "-in"])
        .arg(&csr)
        .arg("-CA")
        .arg(&ca)
        .arg("-CAkey")
        .arg(&ca_key)
        .args(["-CAcreateserial", "-extfile"])
        .arg(&ext)
        .arg("-out")
        .arg(&leaf));
    let cert = dir.join(format!("{name}.crt"));
    let chain = [std::fs::read(&leaf).unwrap(), std::fs::read(&ca).unwrap()].concat();
    std::fs::write(&cert, chain).unwrap();
    let pin = sh(Command::new("sh").arg("-c").arg(format!(
        "openssl x509 -in '{}' -pubkey -noout | openssl pkey -pubin -outform der \
         | openssl dgst -sha256 -binary | openssl base64 -A",
        leaf.display()
    )));
    let cert = ServerCert {
        cert,
        key,
        pin: format!("sha256//{}", pin.trim()),
    };
    (cert, ca)
}

/// The deployment the server offers.
#[derive(Clone, Debug)]
pub struct Offer {
    pub id: u32,
    pub file: PathBuf,
    /// Hashes announced (`None`: computed from the file).
    pub sha256: Option<String>,
    pub sha1: Option<String>,
    /// Size announced (`None`: the file's).
    pub size: Option<u64>,
    pub download: &'static str,
    pub update: &'static str,
    pub window: Option<&'static str>,
}

impl Offer {
    pub fn forced(id: u32, file: &Path) -> Offer {
        Offer {
            id,
            file: file.to_path_buf(),
            sha256: None,
            sha1: None,
            size: None,
            download: "forced",
            update: "forced",
            window: None,
        }
    }
}

#[derive(Default, Debug)]
pub struct Seen {
    /// "METHOD path" of every request, with ` range=...` when it had a Range header.
    pub requests: Vec<String>,
    /// (path, body) of every feedback POST.
    pub feedback: Vec<(String, serde_json::Value)>,
    pub config_data: Vec<serde_json::Value>,
    pub auth: Vec<String>,
}

#[derive(Default)]
struct State {
    offer: Option<Offer>,
    /// (cancel action id, stopped action id)
    cancel: Option<(u32, u32)>,
    /// Downloads stall after this many bytes until cleared.
    stall_after: Option<u64>,
    /// The next polls of the root answer 503 with this Retry-After, this many times.
    busy: Option<(u32, String)>,
    seen: Seen,
}

pub struct DdiServer {
    pub port: u16,
    pub cert: ServerCert,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

impl DdiServer {
    /// Starts on 127.0.0.1 (a free port) with TLS, certificate made in `dir`.
    pub fn start(dir: &Path) -> DdiServer {
        DdiServer::start_with(make_cert(dir, "server"))
    }

    /// Starts on 127.0.0.1 (a free port) presenting `cert` (its file may hold a chain).
    pub fn start_with(cert: ServerCert) -> DdiServer {
        let certs: Vec<CertificateDer<'static>> =
            pem::parse_many(std::fs::read(&cert.cert).unwrap())
                .unwrap()
                .into_iter()
                .map(|p| CertificateDer::from(p.contents().to_vec()))
                .collect();
        let key = pem::parse(std::fs::read(&cert.key).unwrap()).unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.contents().to_vec()));
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp) = (state.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if sp.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(tcp) = conn else { continue };
                let (st, config) = (st.clone(), config.clone());
                std::thread::spawn(move || {
                    let _ = tcp.set_read_timeout(Some(Duration::from_secs(30)));
                    let Ok(tls) = rustls::ServerConnection::new(config) else {
                        return;
                    };
                    let stream = rustls::StreamOwned::new(tls, tcp);
                    serve(stream, &st);
                });
            }
        });
        DdiServer {
            port,
            cert,
            state,
            stop,
        }
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    pub fn offer(&self, o: Option<Offer>) {
        self.state.lock().unwrap().offer = o;
    }

    pub fn cancel(&self, cancel_id: u32, stop_id: u32) {
        self.state.lock().unwrap().cancel = Some((cancel_id, stop_id));
    }

    /// The next `times` polls of the root answer "503 Service Unavailable" with `retry_after`.
    pub fn busy(&self, times: u32, retry_after: &str) {
        self.state.lock().unwrap().busy = Some((times, retry_after.to_string()));
    }

    pub fn stall_after(&self, bytes: Option<u64>) {
        self.state.lock().unwrap().stall_after = bytes;
    }

    pub fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().seen.requests.clone()
    }

    pub fn feedback(&self) -> Vec<(String, serde_json::Value)> {
        self.state.lock().unwrap().seen.feedback.clone()
    }

    pub fn config_data(&self) -> Vec<serde_json::Value> {
        self.state.lock().unwrap().seen.config_data.clone()
    }

    pub fn auth(&self) -> Vec<String> {
        self.state.lock().unwrap().seen.auth.clone()
    }

    /// The last feedback's (execution, finished, details joined).
    pub fn last_feedback(&self) -> (String, String, String) {
        let f = self.feedback();
        let (_, v) = f.last().expect("some feedback");
        let s = &v["status"];
        (
            s["execution"].as_str().unwrap_or("").to_string(),
            s["result"]["finished"].as_str().unwrap_or("").to_string(),
            s["details"]
                .as_array()
                .map(|d| {
                    d.iter()
                        .filter_map(|x| x.as_str())
                        .collect::<Vec<_>>()
                        .join(" | ")
                })
                .unwrap_or_default(),
        )
    }
}

impl Drop for DdiServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn hex_digest(file: &Path, algo: &str) -> String {
    let out = sh(Command::new("openssl")
        .args(["dgst", &format!("-{algo}"), "-r"])
        .arg(file));
    out.split_whitespace().next().unwrap().to_string()
}

fn respond(s: &mut impl Write, status: &str, body: &[u8], extra: &str) {
    let _ = write!(
        s,
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/json\r\n{extra}Connection: close\r\n\r\n",
        body.len()
    );
    let _ = s.write_all(body);
    let _ = s.flush();
}

fn serve<S: Read + Write>(stream: S, state: &Arc<Mutex<State>>) {
    let mut r = BufReader::new(stream);
    let mut line = String::new();
    if r.read_line(&mut line).is_err() || line.is_empty() {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let mut host = String::new();
    let mut len = 0usize;
    let mut range = None;
    let mut auth = String::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).is_err() {
            return;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':').unwrap_or((h, ""));
        let v = v.trim().to_string();
        match k.to_ascii_lowercase().as_str() {
            "host" => host = v,
            "content-length" => len = v.parse().unwrap_or(0),
            "range" => range = Some(v),
            "authorization" => auth = v,
            _ => {}
        }
    }
    let mut body = vec![0u8; len];
    if r.read_exact(&mut body).is_err() {
        return;
    }
    let path = target.split('?').next().unwrap_or("").to_string();
    {
        let mut st = state.lock().unwrap();
        st.seen.requests.push(format!(
            "{method} {path}{}",
            range
                .as_ref()
                .map(|r| format!(" range={r}"))
                .unwrap_or_default()
        ));
        st.seen.auth.push(auth);
    }
    let origin = format!("https://{host}");
    let mut s = r.into_inner();
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    // /{tenant}/controller/v1/{id}[/...]
    if segs.first() == Some(&"download") {
        return download(&mut s, state, range.as_deref());
    }
    if segs.len() < 4 || segs[1] != "controller" || segs[2] != "v1" {
        return respond(&mut s, "404 Not Found", b"{}", "");
    }
    let base = format!("{origin}/{}/controller/v1/{}", segs[0], segs[3]);
    let rest = &segs[4..];
    let mut st = state.lock().unwrap();
    match (method.as_str(), rest) {
        ("GET", []) if st.busy.as_ref().is_some_and(|(n, _)| *n > 0) => {
            let (n, after) = st.busy.as_mut().unwrap();
            *n -= 1;
            let extra = format!("Retry-After: {after}\r\n");
            respond(&mut s, "503 Service Unavailable", b"{}", &extra);
        }
        ("GET", []) => {
            let v = root(&st, &base);
            respond(&mut s, "200 OK", v.to_string().as_bytes(), "");
        }
        ("PUT", ["configData"]) => {
            st.seen
                .config_data
                .push(serde_json::from_slice(&body).unwrap_or_default());
            respond(&mut s, "200 OK", b"", "");
        }
        ("GET", ["deploymentBase", id]) => {
            let Some(o) = st.offer.clone().filter(|o| o.id.to_string() == *id) else {
                return respond(&mut s, "404 Not Found", b"{}", "");
            };
            let v = deployment(&o, &origin);
            respond(&mut s, "200 OK", v.to_string().as_bytes(), "");
        }
        ("POST", ["deploymentBase", _, "feedback"]) | ("POST", ["cancelAction", _, "feedback"]) => {
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let exec = v["status"]["execution"].as_str().unwrap_or("").to_string();
            let is_cancel = rest[0] == "cancelAction";
            st.seen.feedback.push((path.clone(), v));
            if exec == "closed" {
                if is_cancel {
                    st.cancel = None;
                }
                st.offer = None;
            }
            respond(&mut s, "200 OK", b"", "");
        }
        ("GET", ["cancelAction", id]) => match st.cancel {
            Some((cid, stop)) if cid.to_string() == *id => {
                let v = serde_json::json!({"id": cid.to_string(), "cancelAction": {"stopId": stop.to_string()}});
                respond(&mut s, "200 OK", v.to_string().as_bytes(), "");
            }
            _ => respond(&mut s, "404 Not Found", b"{}", ""),
        },
        _ => respond(&mut s, "404 Not Found", b"{}", ""),
    }
}

/// The controller's root: configData always, then cancelAction or deploymentBase.
fn root(st: &State, base: &str) -> serde_json::Value {
    let mut links = serde_json::Map::new();
    links.insert(
        "configData".into(),
        serde_json::json!({"href": format!("{base}/configData")}),
    );
    if let Some((cid, _)) = st.cancel {
        links.insert(
            "cancelAction".into(),
            serde_json::json!({"href": format!("{base}/cancelAction/{cid}")}),
        );
    } else if let Some(o) = &st.offer {
        links.insert(
            "deploymentBase".into(),
            serde_json::json!({"href": format!("{base}/deploymentBase/{}?c=7", o.id)}),
        );
    }
    serde_json::json!({"config":{"polling":{"sleep":"00:00:01"}},"_links":links})
}

/// The deploymentBase answer for `o`, its artifact's hashes computed unless given.
fn deployment(o: &Offer, origin: &str) -> serde_json::Value {
    let size = o
        .size
        .unwrap_or_else(|| std::fs::metadata(&o.file).unwrap().len());
    let sha256 = o
        .sha256
        .clone()
        .unwrap_or_else(|| hex_digest(&o.file, "sha256"));
    let sha1 = o
        .sha1
        .clone()
        .unwrap_or_else(|| hex_digest(&o.file, "sha1"));
    let mut dep = serde_json::json!({
        "download": o.download, "update": o.update,
        "chunks": [{"part": "os", "version": "1.1.0", "name": "update",
            "artifacts": [{"filename": "update.zip", "size": size,
                "hashes": {"sha1": sha1, "sha256": sha256},
                "_links": {"download": {"href": format!("{origin}/download/update.zip")}}}]}]
    });
    if let Some(w) = o.window {
        dep["maintenanceWindow"] = w.into();
    }
    serde_json::json!({"id": o.id.to_string(), "deployment": dep})
}

/// The artifact, whole (200) or from a `bytes=N-` range (206); stalls after `stall_after`
/// bytes of the file while that is set (the test kills the agent meanwhile).
fn download<S: Write>(s: &mut S, state: &Arc<Mutex<State>>, range: Option<&str>) {
    let (file, stall) = {
        let st = state.lock().unwrap();
        let Some(o) = &st.offer else {
            return respond(s, "404 Not Found", b"{}", "");
        };
        (o.file.clone(), st.stall_after)
    };
    let data = std::fs::read(&file).unwrap();
    let start = range
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(0)
        .min(data.len());
    let (status, extra) = if range.is_some() {
        (
            "206 Partial Content",
            format!(
                "Content-Range: bytes {start}-{}/{}\r\n",
                data.len().saturating_sub(1),
                data.len()
            ),
        )
    } else {
        ("200 OK", String::new())
    };
    let _ = write!(
        s,
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n",
        data.len() - start
    );
    let mut pos = start;
    while pos < data.len() {
        if let Some(limit) = stall {
            let limit = usize::try_from(limit).unwrap();
            if pos >= limit {
                // Hold the connection while the stall lasts.
                loop {
                    std::thread::sleep(Duration::from_millis(20));
                    if state.lock().unwrap().stall_after.is_none() {
                        break;
                    }
                }
            }
        }
        let end = (pos + 16 * 1024).min(data.len());
        let end = match stall {
            Some(l) if pos < l as usize => end.min(l as usize),
            _ => end,
        };
        if s.write_all(&data[pos..end]).is_err() {
            return;
        }
        let _ = s.flush();
        pos = end;
    }
}
