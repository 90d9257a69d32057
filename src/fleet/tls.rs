//! TLS for the agent: rustls with the ring provider only (no OpenSSL; the binary stays static).
//!
//! Trust is one of, or both of:
//! - **pins**: the SHA-256 of the server certificate's SubjectPublicKeyInfo (curl's
//!   `--pinnedpubkey sha256//BASE64`), with room for a backup pin. A pin needs no clock and no
//!   CA: the certificate's chain, names and dates are not what is trusted, its key is. The
//!   handshake signature is still checked (by ring) against that key, so only the holder of the
//!   pinned private key can complete the handshake.
//! - **a private CA** (`ca_file`): the standard WebPKI chain and name checks against it alone.
//!
//! A pin mismatch is recorded by the verifier so the caller reports it with its own code
//! (9132) instead of rustls' generic certificate error; nothing is sent past the handshake.

use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{ring as provider, CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::config::parse_pin;

/// The SPKI SHA-256 of a DER certificate in curl's `sha256//BASE64` form.
pub fn pin_of_cert(cert: &[u8]) -> Result<String, String> {
    use base64::Engine;
    let der = CertificateDer::from(cert);
    let ee = webpki::EndEntityCert::try_from(&der).map_err(|e| format!("certificate: {e}"))?;
    let spki = ee.subject_public_key_info();
    let digest = ring::digest::digest(&ring::digest::SHA256, spki.as_ref());
    Ok(format!(
        "sha256//{}",
        base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
    ))
}

/// What the trust check saw, read by the caller after a failed handshake.
#[derive(Debug, Default)]
pub struct Seen {
    /// The server key's pin when it matched none of ours.
    pub mismatched_pin: Option<String>,
}

#[derive(Debug)]
struct PinVerifier {
    pins: Vec<[u8; 32]>,
    /// Chain and name checks against the private CA, when one is configured too.
    ca: Option<Arc<WebPkiServerVerifier>>,
    algorithms: WebPkiSupportedAlgorithms,
    seen: Arc<Mutex<Seen>>,
}

impl ServerCertVerifier for PinVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(ca) = &self.ca {
            ca.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)?;
        }
        if self.pins.is_empty() {
            return Ok(ServerCertVerified::assertion());
        }
        let pin = pin_of_cert(end_entity).map_err(rustls::Error::General)?;
        let raw = parse_pin(&pin).map_err(rustls::Error::General)?;
        // Pins are public values: a plain comparison leaks nothing.
        if self.pins.contains(&raw) {
            return Ok(ServerCertVerified::assertion());
        }
        if let Ok(mut s) = self.seen.lock() {
            s.mismatched_pin = Some(pin);
        }
        Err(rustls::Error::InvalidCertificate(
            rustls::CertificateError::ApplicationVerificationFailure,
        ))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// A client configuration trusting `pins` and/or the CA certificates in `ca_pem`; `seen` tells
/// the caller why a handshake was refused.
pub fn client_config(
    pins: &[String],
    ca_pem: Option<&[u8]>,
    seen: Arc<Mutex<Seen>>,
) -> Result<ClientConfig, String> {
    if pins.is_empty() && ca_pem.is_none() {
        return Err("https needs pins or ca_file".into());
    }
    let provider: Arc<CryptoProvider> = Arc::new(provider::default_provider());
    let pins = pins
        .iter()
        .map(|p| parse_pin(p))
        .collect::<Result<Vec<_>, _>>()?;
    let ca = match ca_pem {
        None => None,
        Some(text) => {
            let mut roots = RootCertStore::empty();
            let blocks = pem::parse_many(text).map_err(|e| format!("ca_file: {e}"))?;
            for b in blocks.iter().filter(|b| b.tag() == "CERTIFICATE") {
                roots
                    .add(CertificateDer::from(b.contents().to_vec()))
                    .map_err(|e| format!("ca_file: {e}"))?;
            }
            if roots.is_empty() {
                return Err("ca_file holds no CERTIFICATE".into());
            }
            Some(
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| format!("ca_file: {e}"))?,
            )
        }
    };
    let verifier = PinVerifier {
        pins,
        ca,
        algorithms: provider.signature_verification_algorithms,
        seen,
    };
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(config)
}
