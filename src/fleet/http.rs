//! A small HTTP/1.1 client over TCP or the pinned TLS stream ([`super::tls`]): one request per
//! connection (`Connection: close`), bodies by Content-Length, chunked, or to the end. Enough for
//! DDI's JSON and for ranged downloads; a general client (ureq, reqwest) would cost more binary
//! than this file and cannot take our pin verifier (docs/FLEET-AGENT.md).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};

use super::error::FleetError;
use super::tls::Seen;

/// Largest JSON answer we read into memory.
pub const MAX_BODY: usize = 4 << 20;
/// Largest response head (status line and headers).
const MAX_HEAD: usize = 64 << 10;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
const IO_TIMEOUT: Duration = Duration::from_secs(60);

/// An `http(s)://host[:port]/path?query` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub https: bool,
    pub host: String,
    pub port: u16,
    /// The path and query, starting with `/`.
    pub path: String,
}

impl Url {
    pub fn parse(s: &str) -> Result<Url, String> {
        let (https, rest) = if let Some(r) = s.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = s.strip_prefix("http://") {
            (false, r)
        } else {
            return Err(format!("{s:?}: not an http(s) URL"));
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.contains('@') {
            return Err(format!("{s:?}: credentials in a URL are not accepted"));
        }
        let default_port = if https { 443 } else { 80 };
        let (host, port) = if let Some(h) = authority.strip_prefix('[') {
            // [v6]:port
            let end = h.find(']').ok_or_else(|| format!("{s:?}: bad IPv6 host"))?;
            let port = match &h[end + 1..] {
                "" => default_port,
                p => p
                    .strip_prefix(':')
                    .and_then(|p| p.parse().ok())
                    .ok_or_else(|| format!("{s:?}: bad port"))?,
            };
            (h[..end].to_string(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (
                    h.to_string(),
                    p.parse().map_err(|_| format!("{s:?}: bad port"))?,
                ),
                None => (authority.to_string(), default_port),
            }
        };
        if host.is_empty() || path.contains(' ') {
            return Err(format!("{s:?}: no host, or a space in the path"));
        }
        Ok(Url {
            https,
            host,
            port,
            path: path.to_string(),
        })
    }

    /// The Host header: always with the port (servers such as goosebit build their links from
    /// it).
    pub fn host_header(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    pub fn origin(&self) -> String {
        format!(
            "{}://{}",
            if self.https { "https" } else { "http" },
            self.host_header()
        )
    }
}

impl std::fmt::Display for Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", self.origin(), self.path)
    }
}

trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

/// A status line and headers.
#[derive(Debug, Clone)]
pub struct Head {
    pub status: u16,
    pub headers: Vec<(String, String)>,
}

impl Head {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A whole response with its body in memory (JSON answers).
#[derive(Debug, Clone)]
pub struct Response {
    pub head: Head,
    pub body: Vec<u8>,
}

/// How the response body is delimited.
enum Framing {
    Length(u64),
    Chunked { left: u64, done: bool },
    ToEnd,
}

/// A response body being read: the framing applied over the connection.
pub struct Body {
    conn: BufReader<Box<dyn Stream>>,
    framing: Framing,
}

impl Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.framing {
            Framing::Length(0) => Ok(0),
            Framing::Length(left) => {
                let want = buf.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
                let n = self.conn.read(&mut buf[..want])?;
                if n == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("connection closed with {left} bytes of the body missing"),
                    ));
                }
                *left -= n as u64;
                Ok(n)
            }
            Framing::ToEnd => match self.conn.read(buf) {
                // A TLS peer that closes without close_notify: the body had no declared length,
                // so its end is where the connection ends.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
                r => r,
            },
            Framing::Chunked { left, done } => {
                if *done {
                    return Ok(0);
                }
                if *left == 0 {
                    let size = read_line(&mut self.conn)?;
                    let size = size.split(';').next().unwrap_or("").trim();
                    let size = u64::from_str_radix(size, 16).map_err(|_| {
                        io::Error::new(io::ErrorKind::InvalidData, "bad chunk size")
                    })?;
                    if size == 0 {
                        // Trailers, up to the empty line.
                        while !read_line(&mut self.conn)?.is_empty() {}
                        *done = true;
                        return Ok(0);
                    }
                    *left = size;
                }
                let want = buf.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
                let n = self.conn.read(&mut buf[..want])?;
                if n == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "connection closed inside a chunk",
                    ));
                }
                *left -= n as u64;
                if *left == 0 {
                    read_line(&mut self.conn)?;
                }
                Ok(n)
            }
        }
    }
}

/// One CRLF-terminated line, without the line end; bounded.
fn read_line(r: &mut impl BufRead) -> io::Result<String> {
    let mut line = Vec::new();
    r.take(8192).read_until(b'\n', &mut line)?;
    if line.last() != Some(&b'\n') {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed inside a header line",
        ));
    }
    while matches!(line.last(), Some(b'\n' | b'\r')) {
        line.pop();
    }
    String::from_utf8(line).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8"))
}

/// The agent's HTTP client: the trust configuration, the token, allow_http.
pub struct Client {
    tls: Option<Arc<ClientConfig>>,
    seen: Arc<Mutex<Seen>>,
    allow_http: bool,
    /// How many pins are configured (for the mismatch message).
    pins: usize,
    /// The full `Authorization` header value, e.g. `TargetToken abc`.
    auth: Option<String>,
}

impl Client {
    pub fn new(
        tls: Option<ClientConfig>,
        seen: Arc<Mutex<Seen>>,
        allow_http: bool,
        pins: usize,
        auth: Option<String>,
    ) -> Client {
        Client {
            tls: tls.map(Arc::new),
            seen,
            allow_http,
            pins,
            auth,
        }
    }

    fn connect(&self, url: &Url) -> Result<Box<dyn Stream>, FleetError> {
        let unreachable = |source| FleetError::Unreachable {
            host: url.host_header(),
            source,
        };
        if !url.https && !self.allow_http {
            return Err(FleetError::PlainHttp {
                url: url.to_string(),
            });
        }
        let addrs: Vec<_> = (url.host.as_str(), url.port)
            .to_socket_addrs()
            .map_err(unreachable)?
            .collect();
        let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
        let mut tcp = None;
        for a in addrs {
            match TcpStream::connect_timeout(&a, CONNECT_TIMEOUT) {
                Ok(s) => {
                    tcp = Some(s);
                    break;
                }
                Err(e) => last = e,
            }
        }
        let mut tcp = tcp.ok_or_else(|| unreachable(last))?;
        tcp.set_read_timeout(Some(IO_TIMEOUT))
            .map_err(unreachable)?;
        tcp.set_write_timeout(Some(IO_TIMEOUT))
            .map_err(unreachable)?;
        if !url.https {
            return Ok(Box::new(tcp));
        }
        let tls_err = |reason: String| FleetError::Tls {
            host: url.host_header(),
            reason,
        };
        let config = self
            .tls
            .clone()
            .ok_or_else(|| tls_err("no pins or ca_file configured".into()))?;
        let name = ServerName::try_from(url.host.clone()).map_err(|e| tls_err(e.to_string()))?;
        let mut conn = ClientConnection::new(config, name).map_err(|e| tls_err(e.to_string()))?;
        // The handshake now, so a refused key is known before any request byte is sent.
        while conn.is_handshaking() {
            if let Err(e) = conn.complete_io(&mut tcp) {
                let pin = self
                    .seen
                    .lock()
                    .ok()
                    .and_then(|mut s| s.mismatched_pin.take());
                return Err(match pin {
                    Some(seen) => FleetError::PinMismatch {
                        host: url.host_header(),
                        seen,
                        pins: self.pins,
                    },
                    None if e.kind() == io::ErrorKind::InvalidData => tls_err(e.to_string()),
                    None => unreachable(e),
                });
            }
        }
        Ok(Box::new(StreamOwned::new(conn, tcp)))
    }

    /// Sends a request and reads the head; the body is left to read.
    pub fn start(
        &self,
        method: &'static str,
        url: &Url,
        extra: &[(&str, String)],
        body: Option<&[u8]>,
    ) -> Result<(Head, Body), FleetError> {
        let mut stream = self.connect(url)?;
        let mut req = format!(
            "{method} {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: recovery-updater/{}\r\n\
             Accept: application/json\r\nConnection: close\r\n",
            url.path,
            url.host_header(),
            env!("CARGO_PKG_VERSION")
        );
        if let Some(a) = &self.auth {
            req.push_str(&format!("Authorization: {a}\r\n"));
        }
        for (k, v) in extra {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        if let Some(b) = body {
            req.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                b.len()
            ));
        }
        req.push_str("\r\n");
        let io_err = |e: io::Error| FleetError::Download {
            url: url.to_string(),
            reason: e.to_string(),
        };
        stream.write_all(req.as_bytes()).map_err(io_err)?;
        if let Some(b) = body {
            stream.write_all(b).map_err(io_err)?;
        }
        stream.flush().map_err(io_err)?;
        let mut conn = BufReader::with_capacity(64 << 10, stream);
        let head = read_head(&mut conn).map_err(|reason| FleetError::Response {
            url: url.to_string(),
            reason,
        })?;
        let framing = if head
            .header("transfer-encoding")
            .is_some_and(|t| t.to_ascii_lowercase().contains("chunked"))
        {
            Framing::Chunked {
                left: 0,
                done: false,
            }
        } else if let Some(len) = head.header("content-length") {
            Framing::Length(len.trim().parse().map_err(|_| FleetError::Response {
                url: url.to_string(),
                reason: format!("bad Content-Length {len:?}"),
            })?)
        } else if method == "HEAD" || head.status == 204 || head.status == 304 {
            Framing::Length(0)
        } else {
            Framing::ToEnd
        };
        Ok((head, Body { conn, framing }))
    }

    /// A request whose whole answer (at most [`MAX_BODY`]) is read into memory.
    pub fn request(
        &self,
        method: &'static str,
        url: &Url,
        body: Option<&[u8]>,
    ) -> Result<Response, FleetError> {
        let (head, body) = self.start(method, url, &[], body)?;
        let mut buf = Vec::new();
        body.take(MAX_BODY as u64 + 1)
            .read_to_end(&mut buf)
            .map_err(|e| FleetError::Response {
                url: url.to_string(),
                reason: e.to_string(),
            })?;
        if buf.len() > MAX_BODY {
            return Err(FleetError::Response {
                url: url.to_string(),
                reason: format!("answer larger than {MAX_BODY} bytes"),
            });
        }
        Ok(Response { head, body: buf })
    }
}

pub(crate) fn read_head(conn: &mut impl BufRead) -> Result<Head, String> {
    let mut total = 0;
    let status_line = read_line(conn).map_err(|e| e.to_string())?;
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") {
        return Err(format!("not an HTTP/1.x answer: {status_line:?}"));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let mut headers = Vec::new();
    loop {
        let line = read_line(conn).map_err(|e| e.to_string())?;
        total += line.len() + 2;
        if total > MAX_HEAD {
            return Err("response head too large".into());
        }
        if line.is_empty() {
            break;
        }
        let (k, v) = line
            .split_once(':')
            .ok_or_else(|| format!("bad header line {line:?}"))?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    Ok(Head { status, headers })
}
