use super::*;

fn names() -> [String; 2] {
    ["A".into(), "B".into()]
}

#[test]
fn cmdline_words_name_the_booted_slot() {
    let n = names();
    assert_eq!(
        from_cmdline("console=ttyS0 androidboot.slot_suffix=_b quiet", &n),
        Some(Slot::B)
    );
    assert_eq!(from_cmdline("androidboot.slot=a", &n), Some(Slot::A));
    assert_eq!(
        from_cmdline("root=/dev/vda2 rauc.slot=B", &n),
        Some(Slot::B)
    );
    assert_eq!(from_cmdline("console=ttyS0 root=/dev/sda1", &n), None);
    assert_eq!(from_cmdline("androidboot.slot_suffix=_c", &n), None);
    assert_eq!(from_cmdline("rauc.slot=A rauc.slot=B", &n), Some(Slot::B));
}

#[test]
fn slot_names_parse_in_every_spelling() {
    let n = ["system0".to_string(), "system1".to_string()];
    assert_eq!(parse_slot("_a", &n), Some(Slot::A));
    assert_eq!(parse_slot("b\n", &n), Some(Slot::B));
    assert_eq!(parse_slot("system1", &n), Some(Slot::B));
    assert_eq!(parse_slot("c", &n), None);
}
