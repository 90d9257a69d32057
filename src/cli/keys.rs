//! `keygen`, `pack` and `sign`: making keys and packages, on the build machine.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use recovery_updater::package::keys::{write_keypair, Algorithm, PrivateKey, PublicKey};
use recovery_updater::package::{self, pack};
use recovery_updater::{util, Error};

#[derive(clap::Args)]
pub struct KeygenArgs {
    /// Key algorithm: ecdsa-p256, ed25519, rsa-2048, rsa-3072 or rsa-4096.
    #[arg(long, default_value = "ecdsa-p256")]
    algorithm: String,
    #[arg(long, value_name = "NAME")]
    out: PathBuf,
}

#[derive(clap::Args)]
pub struct PackArgs {
    #[arg(long)]
    spec: PathBuf,
    /// Private key to sign with (PKCS#8 PEM).
    #[arg(long, required_unless_present = "unsigned")]
    key: Option<PathBuf>,
    /// Leave the package unsigned, for an external signer (then `sign`).
    #[arg(long, conflicts_with = "key")]
    unsigned: bool,
    /// With --unsigned: the public key the external signer will use (recorded as a hint).
    #[arg(long, requires = "unsigned")]
    signer: Option<PathBuf>,
    /// Also write the exact manifest bytes to sign here.
    #[arg(long)]
    manifest_out: Option<PathBuf>,
    #[arg(long)]
    out: PathBuf,
}

#[derive(clap::Args)]
pub struct SignArgs {
    package: PathBuf,
    /// Signature bytes as `openssl dgst -sha256 -sign` (or `pkeyutl -rawin`) wrote them.
    #[arg(long, required_unless_present = "key", conflicts_with = "key")]
    signature: Option<PathBuf>,
    #[arg(long)]
    key: Option<PathBuf>,
    /// Check the signature against this public key before adding it.
    #[arg(long = "pub")]
    public: Option<PathBuf>,
}

pub fn keygen(args: KeygenArgs) -> anyhow::Result<ExitCode> {
    let alg: Algorithm = args.algorithm.parse().map_err(Error::from)?;
    let key = PrivateKey::generate(alg).map_err(Error::from)?;
    let (k, p) = write_keypair(&key, &args.out).map_err(Error::from)?;
    println!("private key: {} (keep it secret)", k.display());
    println!(
        "public key:  {} (list it in the device profile's keys)",
        p.display()
    );
    println!("fingerprint: {}", key.public_key().fingerprint());
    Ok(ExitCode::SUCCESS)
}

pub fn pack(args: PackArgs) -> anyhow::Result<ExitCode> {
    let key = args
        .key
        .map(|k| PrivateKey::load(&k).map_err(Error::from))
        .transpose()?;
    let signer = args
        .signer
        .map(|k| PublicKey::load(&k).map_err(Error::from))
        .transpose()?;
    let made = pack::pack(&args.spec, key.as_ref(), signer.as_ref(), &args.out)?;
    if let Some(m) = args.manifest_out {
        std::fs::write(&m, &made.manifest_bytes)
            .with_context(|| format!("writing {}", m.display()))?;
    }
    let total: u64 = made.manifest.images.iter().map(|i| i.size).sum();
    println!(
        "{}: version {}, {} image(s), {}, {}",
        args.out.display(),
        made.manifest.version,
        made.manifest.images.len(),
        util::human_bytes(total),
        if made.signed || !args.unsigned {
            "signed"
        } else {
            "UNSIGNED (add a signature with `recovery-updater sign`)"
        }
    );
    Ok(ExitCode::SUCCESS)
}

pub fn sign(args: SignArgs) -> anyhow::Result<ExitCode> {
    let package = args.package;
    let public = args
        .public
        .map(|p| PublicKey::load(&p).map_err(Error::from))
        .transpose()?;
    let sig =
        match (args.signature, args.key) {
            (Some(s), _) => util::read_bounded(&s, package::keys::MAX_SIGNATURE_LEN as u64)
                .map_err(|e| Error::SignatureMissing {
                    reason: format!("{}: {e}", s.display()),
                })?,
            (None, Some(k)) => {
                let key = PrivateKey::load(&k).map_err(Error::from)?;
                let opened = package::open_unsigned(&package)?;
                key.sign(opened.manifest_bytes()).map_err(Error::from)?
            }
            (None, None) => anyhow::bail!("give --signature or --key"),
        };
    pack::add_signature(&package, &sig, public.as_ref())?;
    println!("{}: signed", package.display());
    Ok(ExitCode::SUCCESS)
}
