use super::*;

const LISTED: &str = "* daemon not running; starting now at tcp:5037\n\
* daemon started successfully\n\
List of devices attached\n\
127.0.0.1:40001         sideload product:qemu-recovery model:qemu-recovery device:qemu-recovery transport_id:1\n\
0123456789ABCDEF       sideload usb:1-2 product:phone model:phone device:phone transport_id:2\n\
emulator-5554\tdevice\n\
R58M12345\tunauthorized usb:1-3 transport_id:4\n\n";

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn devices_list() {
    let l = parse_devices(LISTED);
    assert_eq!(l.len(), 4);
    assert_eq!(
        l[0],
        Listed {
            serial: "127.0.0.1:40001".into(),
            state: "sideload".into()
        }
    );
    assert_eq!(l[2].state, "device");
    assert!(parse_devices("List of devices attached\n\n").is_empty());
}

#[test]
fn discovery_takes_every_sideload_device() {
    let mut calls = 0;
    let t = resolve(&[], &mut || {
        calls += 1;
        Ok(parse_devices(LISTED))
    })
    .unwrap();
    assert_eq!(
        t,
        vec![
            Target::Adb("127.0.0.1:40001".into()),
            Target::Adb("0123456789ABCDEF".into())
        ]
    );
    assert_eq!(calls, 1);
    let none = resolve(&[], &mut || Ok(parse_devices("List of devices attached\n")));
    assert!(none.unwrap_err().contains("no device in state sideload"));
    let no_adb = resolve(&[], &mut || Err("cannot run the host's adb".into()));
    assert!(no_adb.unwrap_err().contains("adb"));
}

#[test]
fn names_host_port_direct_serials_through_adb() {
    let mut calls = 0;
    let t = resolve(
        &names(&[
            "10.0.0.7:5555",
            "0123456789ABCDEF",
            "unit7",
            "emulator-5554",
        ]),
        &mut || {
            calls += 1;
            Ok(parse_devices(LISTED))
        },
    )
    .unwrap();
    assert_eq!(
        t,
        vec![
            Target::Tcp("10.0.0.7:5555".into()),
            Target::Adb("0123456789ABCDEF".into()),
            Target::Tcp("unit7".into()),
            Target::Adb("emulator-5554".into()),
        ]
    );
    assert_eq!(calls, 1, "adb is asked once");
    let mut asked = false;
    let t = resolve(&names(&["127.0.0.1:9", "[::1]:7"]), &mut || {
        asked = true;
        Ok(Vec::new())
    })
    .unwrap();
    assert_eq!(t.len(), 2);
    assert!(!asked, "HOST:PORT names need no adb");
    // No adb on the host: a bare name is a host on port 5555, as before.
    let t = resolve(&names(&["unit7"]), &mut || Err("no adb".into())).unwrap();
    assert_eq!(t, vec![Target::Tcp("unit7".into())]);
}
