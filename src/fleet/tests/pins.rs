use std::sync::{Arc, Mutex};

use crate::fleet::config::{parse_pin, FleetDef};
use crate::fleet::tls;

const PIN: &str = "sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";

#[test]
fn pins_in_curl_form() {
    let raw = parse_pin(PIN).unwrap();
    assert_eq!(raw[0], 0xe3);
    for bad in [
        "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        "sha1//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        "sha256//not base64!",
        "sha256//AAAA",
    ] {
        assert!(parse_pin(bad).is_err(), "{bad}");
    }
}

fn fleet(text: &str) -> Result<FleetDef, String> {
    let f: FleetDef = toml::from_str(text).map_err(|e| e.to_string())?;
    f.validate().map(|()| f)
}

#[test]
fn the_fleet_section_as_in_the_issue() {
    let f = fleet(&format!(
        r#"
server = "https://updates.example.com:8443"
tenant = "DEFAULT"
controller_id = {{ file = "/sys/class/net/eth0/address" }}
token_file = "/etc/recovery/target-token"
pins = ["{PIN}"]
ca_file = "/etc/recovery/fleet-ca.pem"
cache_dir = "/data/ota"
reboot = "maintenance-window"
health_check = {{ command = ["/usr/bin/true"], timeout_s = 60 }}
allow_http = false
"#
    ))
    .unwrap();
    assert_eq!(
        f.reboot,
        crate::fleet::config::RebootPolicy::MaintenanceWindow
    );
    assert_eq!(f.pins.len(), 1);
    assert!(!f.allow_http);
    // Defaults: tenant DEFAULT, reboot now, no health check.
    let f = fleet("server = \"http://lab:8080\"\ncontroller_id = \"x\"\ncache_dir = \"c\"\nallow_http = true\n").unwrap();
    assert_eq!(f.tenant, "DEFAULT");
    assert_eq!(f.reboot, crate::fleet::config::RebootPolicy::Now);
    // Refused: a bad pin, an unknown key, another scheme, a tenant with a slash.
    for bad in [
        "server = \"https://h\"\ncontroller_id = \"x\"\ncache_dir = \"c\"\npins = [\"sha256//x\"]\n",
        "server = \"https://h\"\ncontroller_id = \"x\"\ncache_dir = \"c\"\npin = []\n",
        "server = \"ftp://h\"\ncontroller_id = \"x\"\ncache_dir = \"c\"\n",
        "server = \"https://h\"\ntenant = \"a/b\"\ncontroller_id = \"x\"\ncache_dir = \"c\"\n",
        "server = \"https://h\"\ncontroller_id = \"x\"\ncache_dir = \"c\"\nreboot = \"later\"\n",
    ] {
        assert!(fleet(bad).is_err(), "{bad}");
    }
}

#[test]
fn https_needs_a_trust_anchor() {
    let seen = Arc::new(Mutex::new(tls::Seen::default()));
    assert!(tls::client_config(&[], None, seen.clone()).is_err());
    assert!(tls::client_config(&[PIN.into()], None, seen.clone()).is_ok());
    assert!(tls::client_config(&[], Some(b"not pem"), seen.clone()).is_err());
    assert!(tls::client_config(&[], Some(b""), seen).is_err());
}

#[test]
fn a_certificate_that_does_not_parse_has_no_pin() {
    assert!(tls::pin_of_cert(b"\x30\x03\x02\x01\x00").is_err());
}
