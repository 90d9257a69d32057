use std::io::Cursor;

use crate::fleet::http::{read_head, Url};

#[test]
fn urls() {
    let u = Url::parse("https://updates.example.com:8443/DEFAULT/controller/v1/x?c=1").unwrap();
    assert!(u.https);
    assert_eq!((u.host.as_str(), u.port), ("updates.example.com", 8443));
    assert_eq!(u.path, "/DEFAULT/controller/v1/x?c=1");
    assert_eq!(u.host_header(), "updates.example.com:8443");
    let u = Url::parse("http://lab").unwrap();
    assert_eq!((u.port, u.path.as_str()), (80, "/"));
    // The Host header always carries the port (goosebit builds its links from it).
    assert_eq!(Url::parse("https://h").unwrap().host_header(), "h:443");
    let u = Url::parse("https://[::1]:8443/x").unwrap();
    assert_eq!((u.host.as_str(), u.port), ("::1", 8443));
    assert_eq!(u.host_header(), "[::1]:8443");
    for bad in [
        "ftp://h/",
        "https://",
        "https://user:pw@h/",
        "https://h:notaport/",
        "https://h/a b",
    ] {
        assert!(Url::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn response_heads() {
    let h = read_head(&mut Cursor::new(
        b"HTTP/1.1 206 Partial Content\r\nContent-Length: 5\r\nX-A:  b \r\n\r\nhello".to_vec(),
    ))
    .unwrap();
    assert_eq!(h.status, 206);
    assert_eq!(h.header("content-length"), Some("5"));
    assert_eq!(h.header("x-a"), Some("b"));
    for bad in [
        &b"SSH-2.0-OpenSSH\r\n\r\n"[..],
        b"HTTP/1.1 abc OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nA: b\r\n",
    ] {
        assert!(read_head(&mut Cursor::new(bad.to_vec())).is_err());
    }
}
