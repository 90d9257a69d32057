use super::*;

#[test]
fn cidr() {
    assert_eq!(
        parse_cidr("10.0.2.15/24").unwrap(),
        (Ipv4Addr::new(10, 0, 2, 15), Ipv4Addr::new(255, 255, 255, 0))
    );
    assert_eq!(
        parse_cidr("192.168.1.2/32").unwrap().1,
        Ipv4Addr::new(255, 255, 255, 255)
    );
    assert_eq!(parse_cidr("1.2.3.4/0").unwrap().1, Ipv4Addr::UNSPECIFIED);
    assert_eq!(
        parse_cidr("172.16.0.1/12").unwrap().1,
        Ipv4Addr::new(255, 240, 0, 0)
    );
    for (bad, want) in [
        ("10.0.2.15", "ADDRESS/PREFIX"),
        ("10.0.2/24", "not an IPv4"),
        ("10.0.2.15/33", "0..=32"),
        ("10.0.2.15/x", "0..=32"),
        ("::1/64", "not an IPv4"),
    ] {
        let e = parse_cidr(bad).unwrap_err();
        assert!(e.contains(want), "{bad}: {e}");
    }
}

#[test]
fn interface_choice() {
    let d = tempfile::tempdir().unwrap();
    assert_eq!(pick_interface(d.path(), None), None);
    std::fs::create_dir(d.path().join("lo")).unwrap();
    assert_eq!(pick_interface(d.path(), None), None, "lo is never picked");
    for n in ["eth1", "eth0", "wlan0"] {
        std::fs::create_dir(d.path().join(n)).unwrap();
    }
    assert_eq!(pick_interface(d.path(), None).as_deref(), Some("eth0"));
    assert_eq!(
        pick_interface(d.path(), Some("wlan0")).as_deref(),
        Some("wlan0")
    );
    assert_eq!(pick_interface(d.path(), Some("usb0")), None);
}

#[test]
fn interface_names_must_fit_ifreq() {
    assert!(IfReq::new("eth0").is_ok());
    assert!(IfReq::new("").is_err());
    assert!(IfReq::new("a-name-too-long-x").is_err());
    let mut r = IfReq::new("eth0").unwrap();
    r.set_addr(Ipv4Addr::new(10, 0, 2, 15));
    assert_eq!(&r.data[4..8], &[10, 0, 2, 15]);
    assert_eq!(std::mem::size_of::<IfReq>(), 40);
}
