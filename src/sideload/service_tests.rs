use super::*;

#[test]
fn parses_the_minadbd_services() {
    assert_eq!(
        parse_service(b"sideload-host:1000:65536\0").unwrap(),
        Service::SideloadHost {
            size: 1000,
            block_size: 65536
        }
    );
    assert_eq!(parse_service(b"sideload:1000").unwrap(), Service::Legacy);
    assert_eq!(
        parse_service(b"reboot:bootloader\0").unwrap(),
        Service::Reboot(RebootTarget::Bootloader)
    );
    assert_eq!(
        parse_service(b"reboot:").unwrap(),
        Service::Reboot(RebootTarget::System)
    );
    assert_eq!(
        parse_service(b"reboot:recovery").unwrap(),
        Service::Reboot(RebootTarget::Recovery)
    );
    assert_eq!(
        parse_service(b"shell:ls").unwrap(),
        Service::Other("shell:ls".into())
    );
}

#[test]
fn refuses_requests_out_of_range() {
    for bad in [
        &b"sideload-host:0:65536"[..],
        b"sideload-host:100:0",
        b"sideload-host:100:2097152",
        b"sideload-host:18446744073709551615:1",
        b"sideload-host:-1:65536",
        b"sideload-host:100",
        b"sideload-host:\xff:1",
    ] {
        assert!(
            matches!(parse_service(bad), Err(SideloadError::Protocol { .. })),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
}
