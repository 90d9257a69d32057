//! PEM framing of keys, as openssl reads and writes it.

use super::KeyError;

/// PEM labels.
pub(super) const LABEL_PUBLIC: &str = "PUBLIC KEY";
pub(super) const LABEL_RSA_PUBLIC: &str = "RSA PUBLIC KEY";
pub(super) const LABEL_PRIVATE: &str = "PRIVATE KEY";
pub(super) const LABEL_RSA_PRIVATE: &str = "RSA PRIVATE KEY";
pub(super) const LABEL_EC_PRIVATE: &str = "EC PRIVATE KEY";
pub(super) const LABEL_ENCRYPTED: &str = "ENCRYPTED PRIVATE KEY";

/// Encodes like openssl does: 64-column base64, LF line endings, final LF.
/// (The `pem` crate defaults to CRLF.)
pub(super) fn encode_pem(label: &str, der: &[u8]) -> String {
    pem::encode_config(
        &pem::Pem::new(label, der),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

/// Returns the single key block of a PEM text. `... PARAMETERS` blocks (which
/// `openssl ecparam -genkey` and `openssl dsaparam -genkey` put in front of
/// the key) are skipped; more than one key block is an error, as is a block
/// without its END line.
pub(super) fn single_key_block(pem_text: &[u8]) -> Result<pem::Pem, KeyError> {
    let blocks = pem::parse_many(pem_text).map_err(|e| KeyError::Pem {
        reason: e.to_string(),
    })?;
    // `pem::parse_many` silently stops at a block that has no END line, so a
    // truncated file would look like one with fewer blocks. Count BEGIN lines
    // to notice.
    let begins = pem_text
        .windows(b"-----BEGIN ".len())
        .filter(|w| *w == b"-----BEGIN ")
        .count();
    if begins == 0 {
        return Err(KeyError::Pem {
            reason: "no \"-----BEGIN ...-----\" line found".to_owned(),
        });
    }
    if begins != blocks.len() {
        return Err(KeyError::Pem {
            reason: "truncated PEM block (missing \"-----END ...-----\" line)".to_owned(),
        });
    }
    let mut keys = blocks
        .into_iter()
        .filter(|b| !b.tag().ends_with(" PARAMETERS"));
    let first = keys.next().ok_or_else(|| KeyError::Pem {
        reason: "no key block found".to_owned(),
    })?;
    if keys.next().is_some() {
        return Err(KeyError::Pem {
            reason: "more than one key in the PEM text".to_owned(),
        });
    }
    Ok(first)
}
