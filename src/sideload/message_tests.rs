use super::*;

fn parse(bytes: &[u8]) -> Result<Message, MessageError> {
    Message::read_from(&mut &bytes[..], MAX_PAYLOAD)
}

#[test]
fn round_trips_and_names_commands() {
    let m = Message::new(A_WRTE, 7, 9, b"00000012".to_vec());
    let bytes = m.encode();
    assert_eq!(bytes.len(), HEADER_LEN + 8);
    assert_eq!(&bytes[..4], b"WRTE");
    assert_eq!(parse(&bytes).unwrap(), m);
    assert_eq!(command_name(A_CNXN), "CNXN");
}

#[test]
fn a_zero_checksum_is_accepted_a_wrong_one_is_not() {
    let mut bytes = Message::new(A_OKAY, 1, 2, b"ab".to_vec()).encode();
    bytes[16..20].copy_from_slice(&0u32.to_le_bytes());
    assert!(parse(&bytes).is_ok());
    bytes[16..20].copy_from_slice(&5u32.to_le_bytes());
    assert!(matches!(
        parse(&bytes),
        Err(MessageError::BadChecksum { expected: 5, .. })
    ));
}

#[test]
fn bad_magic_is_refused() {
    let mut bytes = Message::new(A_OPEN, 1, 0, b"x".to_vec()).encode();
    bytes[20] ^= 1;
    assert!(matches!(parse(&bytes), Err(MessageError::BadMagic { .. })));
}

#[test]
fn unknown_command_is_refused() {
    let bytes = Message::new(0x434e_5953, 0, 0, Vec::new()).encode(); // "SYNC"
    assert!(matches!(
        parse(&bytes),
        Err(MessageError::UnknownCommand(0x434e_5953))
    ));
}

#[test]
fn oversized_payload_is_refused_before_allocating() {
    let mut bytes = Message::new(A_WRTE, 1, 2, Vec::new()).encode();
    bytes[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(parse(&bytes), Err(MessageError::TooLarge { .. })));
}

#[test]
fn truncation_is_a_closed_connection() {
    let bytes = Message::new(A_WRTE, 1, 2, b"abcdef".to_vec()).encode();
    for cut in [0, 10, HEADER_LEN, bytes.len() - 1] {
        assert!(
            matches!(parse(&bytes[..cut]), Err(MessageError::Closed)),
            "cut at {cut}"
        );
    }
}
