//! A real hawkBit DDI server for the fleet tests: goosebit (PyPI `goosebit`, pinned in
//! scripts/test) with our plugin (fleet/goosebit/) that teaches it our update.zip.
//!
//! Each [`Goosebit`] runs its own server in a temp dir: its own sqlite database (migrated with
//! aerich), artifacts directory, secret key and a TLS certificate made by openssl. uvicorn is
//! started directly on 127.0.0.1 (`python -m goosebit` would bind 0.0.0.0) on a port the kernel
//! picks (`--port 0`, read back from its log). Administration goes through goosebit's REST API
//! with curl (`POST /setup` then a bearer token); its web UI needs a CDN and is never used.
//! The server is killed when the value is dropped. Every wait is bounded.
//!
//! Tools: the venv target/test-venv (scripts/test makes it and puts it first on PATH; a bare
//! `cargo test` still finds it there), openssl, curl.

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use super::openssl::openssl;
use super::shell::{sh, tool_output};

/// How long the server may take to migrate and start on a busy 2-core machine. A guard against a
/// hang, not a measurement: a healthy start takes ~3 s.
const START_LIMIT: Duration = Duration::from_secs(60);

/// goosebit's logging: its default config (`disable_existing_loggers`) silences uvicorn's access
/// log, which the resume test reads (`206 Partial Content`).
const LOGGING: &str = r#"{"version":1,"disable_existing_loggers":false,"formatters":{"simple":{"format":"%(asctime)s - %(name)s - %(levelname)s - %(message)s"}},"handlers":{"console":{"class":"logging.StreamHandler","formatter":"simple"}},"root":{"level":"INFO","handlers":["console"]}}"#;

/// Runs "$@" (uvicorn) in the background and stops it once stdin reaches end of file.
const WATCHDOG: &str = r#""$@" & pid=$!; cat >/dev/null; kill "$pid"; wait "$pid""#;

/// The operator account the tests create with `POST /setup`.
const ADMIN: (&str, &str) = ("admin@example.com", "test-only-password");

/// A running goosebit server (killed on drop).
pub struct Goosebit {
    /// The server's temp dir: cert.pem, key.pem, db.sqlite3, artifacts/, server.log.
    pub dir: tempfile::TempDir,
    /// `https://127.0.0.1:PORT` (the port is part of every link goosebit returns).
    pub url: String,
    /// PORT.
    pub port: u16,
    /// The server certificate (PEM), for curl's --cacert and the agent's ca_file.
    pub cert: PathBuf,
    /// The certificate's public-key pin, `sha256//BASE64` (curl's --pinnedpubkey form).
    pub pin: String,
    token: String,
    child: Child,
}

/// An HTTP answer: status code and body (JSON when it parses, else a string).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: serde_json::Value,
}

/// The venv's `bin/` directory holding uvicorn, aerich and python.
pub fn venv_bin() -> PathBuf {
    let local = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-venv/bin");
    if local.join("uvicorn").exists() {
        return local;
    }
    // scripts/test puts the venv first on PATH; anything else is "not installed".
    let found = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p).find(|d| d.join("uvicorn").exists() && d.join("aerich").exists())
    });
    found.unwrap_or_else(|| {
        panic!(
            "goosebit (uvicorn, aerich) is not installed in target/test-venv; `scripts/test` \
             makes that venv (python3-venv, then pip install of its python_packages)"
        )
    })
}

/// A self-signed server certificate as rustls accepts one for an end entity: CA:FALSE,
/// serverAuth, subjectAltName localhost and 127.0.0.1. Returns (cert.pem, key.pem).
pub fn make_server_cert(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let cert = dir.join(format!("{name}.pem"));
    let key = dir.join(format!("{name}.key"));
    openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-addext",
            "extendedKeyUsage=serverAuth",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            key.to_str().unwrap(),
            "-out",
            cert.to_str().unwrap(),
        ],
        dir,
    );
    (cert, key)
}

/// The `sha256//BASE64` pin of a certificate's SubjectPublicKeyInfo, as curl computes it.
pub fn spki_pin(cert: &Path) -> String {
    let dir = cert.parent().unwrap();
    let pubkey = openssl(
        &["x509", "-in", cert.to_str().unwrap(), "-noout", "-pubkey"],
        dir,
    );
    let der_path = dir.join("spki.der");
    let pem_path = dir.join("spki.pem");
    fs::write(&pem_path, pubkey).unwrap();
    openssl(
        &[
            "pkey",
            "-pubin",
            "-in",
            pem_path.to_str().unwrap(),
            "-outform",
            "der",
            "-out",
            der_path.to_str().unwrap(),
        ],
        dir,
    );
    let digest = openssl(
        &["dgst", "-sha256", "-binary", der_path.to_str().unwrap()],
        dir,
    );
    let b64 = openssl_stdin_base64(dir, &digest);
    format!("sha256//{b64}")
}

fn openssl_stdin_base64(dir: &Path, data: &[u8]) -> String {
    let raw = dir.join("digest.bin");
    fs::write(&raw, data).unwrap();
    let out = openssl(&["base64", "-A", "-in", raw.to_str().unwrap()], dir);
    String::from_utf8(out).unwrap().trim().to_string()
}

impl Goosebit {
    /// One server shared by the tests of a test binary (each test uses its own products and
    /// device ids). It dies with the test process (see [`Goosebit::start`]).
    pub fn shared() -> &'static Goosebit {
        static SHARED: OnceLock<Goosebit> = OnceLock::new();
        SHARED.get_or_init(Goosebit::start)
    }

    /// Starts a server on a copy of the migrated database, with our plugin, and creates the
    /// operator.
    pub fn start() -> Goosebit {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let (cert, key) = make_server_cert(root, "server");
        let pin = spki_pin(&cert);
        let bin = venv_bin();
        fs::copy(template_db(), root.join("db.sqlite3")).unwrap();
        let log = fs::File::create(root.join("server.log")).unwrap();
        // uvicorn runs under a shell that stops it when our end of its stdin closes: on drop, and
        // also when the test process ends without dropping (the shared server is a static).
        let child = env(Command::new("sh"), root)
            .args(["-c", WATCHDOG, "sh"])
            .arg(bin.join("uvicorn"))
            .args(["goosebit:app", "--host", "127.0.0.1", "--port", "0"])
            .args(["--timeout-graceful-shutdown", "1"])
            .arg("--ssl-certfile")
            .arg(&cert)
            .arg("--ssl-keyfile")
            .arg(&key)
            .stdin(Stdio::piped())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("sh: {e}"));
        let mut gb = Goosebit {
            dir,
            url: String::new(),
            port: 0,
            cert,
            pin,
            token: String::new(),
            child,
        };
        gb.url = gb.wait_listening();
        gb.port = gb.url.rsplit(':').next().unwrap().parse().unwrap();
        let setup = gb.curl(&[
            "-X",
            "POST",
            &format!("{}/setup", gb.url),
            "--data-urlencode",
            &format!("username={}", ADMIN.0),
            "--data-urlencode",
            &format!("password={}", ADMIN.1),
        ]);
        assert_eq!(setup.status, 200, "POST /setup: {setup:?}");
        gb.token = setup.body["access_token"].as_str().unwrap().to_string();
        gb
    }

    fn wait_listening(&mut self) -> String {
        let deadline = Instant::now() + START_LIMIT;
        loop {
            let log = self.log();
            if let Some(rest) = log.split("Uvicorn running on ").nth(1) {
                return rest.split_whitespace().next().unwrap().to_string();
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("goosebit exited ({status}) before listening:\n{log}");
            }
            assert!(
                Instant::now() < deadline,
                "goosebit did not listen within {START_LIMIT:?}:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Everything the server logged so far (goosebit's log and uvicorn's access log).
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// The DDI root of device `id` (tenant DEFAULT).
    pub fn ddi(&self, id: &str) -> String {
        format!("{}/DEFAULT/controller/v1/{id}", self.url)
    }

    /// Runs curl against the server (trusting its certificate) and returns status and body.
    pub fn curl(&self, args: &[&str]) -> Answer {
        let out = tool_output(
            Command::new("curl")
                .args(["-sS", "--max-time", "30", "--cacert"])
                .arg(&self.cert)
                .args(["-w", "\n%{http_code}"])
                .args(args),
        );
        assert!(out.status.success(), "curl {args:?}: {}", super::text(&out));
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, status) = text.rsplit_once('\n').unwrap();
        Answer {
            status: status.trim().parse().unwrap(),
            body: serde_json::from_str(body)
                .unwrap_or_else(|_| serde_json::Value::String(body.to_string())),
        }
    }

    /// An operator API call: `method` on `/api/v1/{path}` with an optional JSON body.
    pub fn api(&self, method: &str, path: &str, json: Option<serde_json::Value>) -> Answer {
        let url = format!("{}/api/v1/{path}", self.url);
        let auth = format!("Authorization: Bearer {}", self.token);
        let body = json.map(|j| j.to_string());
        let mut args = vec!["-X", method, "-H", &auth, &url];
        if let Some(b) = &body {
            args.extend(["-H", "Content-Type: application/json", "--data-binary", b]);
        }
        self.curl(&args)
    }

    /// Uploads a software image (`PUT /api/v1/software`, multipart); the answer's body holds
    /// `id` on success.
    pub fn upload(&self, file: &Path) -> Answer {
        let url = format!("{}/api/v1/software", self.url);
        let auth = format!("Authorization: Bearer {}", self.token);
        let form = format!("file=@{}", file.display());
        self.curl(&["-X", "PUT", "-H", &auth, "-F", &form, &url])
    }

    /// Uploads `file`, insisting it is accepted; returns its software id.
    pub fn upload_ok(&self, file: &Path) -> i64 {
        let a = self.upload(file);
        assert_eq!(a.status, 200, "upload of {}: {a:?}", file.display());
        a.body["id"].as_i64().unwrap()
    }

    /// Every software goosebit holds (id, version, compatibility [{model, revision}], hash...).
    pub fn software(&self) -> Vec<serde_json::Value> {
        let a = self.api("GET", "software", None);
        assert_eq!(a.status, 200, "{a:?}");
        a.body["software"].as_array().unwrap().clone()
    }

    /// Creates a rollout of `software_id` to the devices of `feed`; returns its id.
    pub fn rollout(&self, name: &str, feed: &str, software_id: i64) -> i64 {
        let body = serde_json::json!({"name": name, "feed": feed, "software_id": software_id});
        let a = self.api("PUT", "rollouts", Some(body));
        assert_eq!(a.status, 200, "{a:?}");
        a.body["id"].as_i64().unwrap()
    }

    /// The rollout `id` as goosebit shows it (success_count, failure_count, paused...).
    pub fn rollout_state(&self, id: i64) -> serde_json::Value {
        let a = self.api("GET", "rollouts", None);
        assert_eq!(a.status, 200, "{a:?}");
        a.body["rollouts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"].as_i64() == Some(id))
            .cloned()
            .unwrap_or_else(|| panic!("no rollout {id}: {a:?}"))
    }

    /// Changes devices (`PATCH /api/v1/devices`): feed, force_update, auth_token, software.
    pub fn patch_devices(&self, ids: &[&str], fields: serde_json::Value) {
        let mut body = fields;
        body["devices"] = serde_json::json!(ids);
        let a = self.api("PATCH", "devices", Some(body));
        assert_eq!(a.status, 200, "{a:?}");
    }

    /// Device `id` as goosebit shows it (last_state, sw_version, hardware, progress...), or
    /// None when it never polled. Read from the list: `GET /api/v1/devices/{id}` would create it.
    pub fn device(&self, id: &str) -> Option<serde_json::Value> {
        let a = self.api("GET", "devices", None);
        assert_eq!(a.status, 200, "{a:?}");
        a.body["devices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["id"] == id)
            .cloned()
    }

    /// The last log (feedback details) device `id` sent.
    pub fn device_log(&self, id: &str) -> String {
        let a = self.api("GET", &format!("devices/{id}/log"), None);
        assert_eq!(a.status, 200, "{a:?}");
        a.body["log"].as_str().unwrap_or_default().to_string()
    }
}

impl Drop for Goosebit {
    fn drop(&mut self) {
        // Closing stdin makes the watchdog shell stop uvicorn and wait for it.
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// The environment every goosebit command runs in: all state in `root`, our plugin enabled.
fn env(mut cmd: Command, root: &Path) -> Command {
    cmd.current_dir(root)
        // Only these settings: no goosebit.yaml from the caller's directory or /etc.
        .env_remove("GOOSEBIT_SETTINGS")
        .env(
            "GOOSEBIT_DB_URI",
            format!("sqlite://{}", root.join("db.sqlite3").display()),
        )
        .env("GOOSEBIT_ARTIFACTS_DIR", root.join("artifacts"))
        // A fixed key: the default is random at each start (tokens would die on a restart).
        .env("GOOSEBIT_SECRET_KEY", "recovery-updater-tests-only-key!")
        .env("GOOSEBIT_PLUGINS", r#"["recovery_updater"]"#)
        .env("GOOSEBIT_POLL_TIME", "00:00:01")
        .env("GOOSEBIT_LOGGING", LOGGING);
    cmd
}

/// goosebit's database migrated once per test process (aerich costs two Python starts); each
/// server copies it. Kept under cargo's CARGO_TARGET_TMPDIR.
fn template_db() -> &'static Path {
    static TEMPLATE: OnceLock<PathBuf> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("goosebit-db-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let bin = venv_bin();
        // aerich writes its own config (pyproject.toml) into the current directory: `dir`.
        let migrations = site_packages(&bin).join("goosebit/db/migrations");
        sh(env(Command::new(bin.join("aerich")), &dir)
            .args([
                "init",
                "-t",
                "goosebit.db.config.TORTOISE_CONF",
                "--location",
            ])
            .arg(&migrations));
        sh(env(Command::new(bin.join("aerich")), &dir).arg("upgrade"));
        dir.join("db.sqlite3")
    })
}

fn site_packages(bin: &Path) -> PathBuf {
    let out = sh(Command::new(bin.join("python")).args([
        "-c",
        "import goosebit, os; print(os.path.dirname(os.path.dirname(goosebit.__file__)))",
    ]));
    PathBuf::from(out.trim())
}

/// A TCP relay in front of a server, for the resume test: it forwards bytes both ways (TLS
/// passes through untouched, so the pin still matches) and, while throttled, lets the server's
/// answer through at most `chunk` bytes per `pause`, so a test can kill the client mid-download.
pub struct Relay {
    /// The relay's port on 127.0.0.1.
    pub port: u16,
    throttled: Arc<AtomicBool>,
}

impl Relay {
    /// A relay to `127.0.0.1:target` (threads end with their connections; the listener thread
    /// lives as long as the test process).
    pub fn start(target: u16) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let throttled = Arc::new(AtomicBool::new(true));
        let t = throttled.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || pump(c2, s2, None));
                let t = t.clone();
                std::thread::spawn(move || pump(server, client, Some(t)));
            }
        });
        Relay { port, throttled }
    }

    /// Stops throttling (for new and open connections).
    pub fn full_speed(&self) {
        self.throttled.store(false, Ordering::SeqCst);
    }
}

/// Copies `from` to `to` until either side closes; 4 KiB per 20 ms (~200 KB/s) while
/// `throttle` is set.
fn pump(mut from: TcpStream, mut to: TcpStream, throttle: Option<Arc<AtomicBool>>) {
    let mut buf = [0u8; 4096];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
        if throttle.as_ref().is_some_and(|t| t.load(Ordering::SeqCst)) {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Both);
    let _ = from.shutdown(std::net::Shutdown::Both);
}
