//! `inspect`: what is inside a package and whether its signature verifies.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use recovery_updater::error::{Code, HasCode};
use recovery_updater::install::events::{Finish, Inspection};
use recovery_updater::package::keys::PublicKey;
use recovery_updater::package::{self, Manifest, Opened};
use recovery_updater::{util, Error};

#[derive(clap::Args)]
pub struct InspectArgs {
    package: PathBuf,
    /// Public key(s) to verify with.
    #[arg(long)]
    key: Vec<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

/// What the checks of `inspect` found.
struct Found {
    /// The signer's fingerprint; `None` when no key was given.
    signature: Result<Option<String>, Error>,
    entries: Result<(), Error>,
    /// The code that makes the inspection fail.
    failure: Option<Code>,
}

pub fn inspect(args: InspectArgs) -> anyhow::Result<ExitCode> {
    let path = &args.package;
    let opened = package::open_unsigned(path)?;
    let trusted = args
        .key
        .iter()
        .map(|k| PublicKey::load(k).map_err(Error::from))
        .collect::<Result<Vec<_>, _>>()?;
    let signature = if !opened.is_signed() {
        Err(Error::SignatureMissing {
            reason: "unsigned".into(),
        })
    } else if trusted.is_empty() {
        Ok(None)
    } else {
        opened.check_signature(&trusted).map(Some)
    };
    let manifest = opened.manifest_unverified()?;
    let entries = package::check_entries(&opened.zip, &manifest.images);
    // An unsigned package inspected without keys is not a failure of `inspect`.
    let failure = signature
        .as_ref()
        .err()
        .filter(|e| !(args.key.is_empty() && matches!(e, Error::SignatureMissing { .. })))
        .or(entries.as_ref().err())
        .map(HasCode::code);
    let found = Found {
        signature,
        entries,
        failure,
    };
    if args.json {
        let inspection = inspection(path, &found, &manifest);
        super::reporter(true).finish(&Finish::Inspected(&inspection));
    } else {
        print_text(path, &found, &manifest, &opened);
    }
    Ok(match found.failure {
        Some(c) => ExitCode::from(c.exit_status()),
        None => ExitCode::SUCCESS,
    })
}

fn inspection<'a>(path: &Path, found: &Found, manifest: &'a Manifest) -> Inspection<'a> {
    let sig = &found.signature;
    Inspection {
        result: if found.failure.is_some() {
            "failure"
        } else {
            "success"
        },
        code: found.failure.map(Code::number).unwrap_or(0),
        package: path.display().to_string(),
        signature: match sig {
            Ok(Some(_)) => "verified",
            Ok(None) => "not_checked",
            Err(_) => "failed",
        },
        signature_code: sig.as_ref().err().map(|e| e.code().number()),
        signer: sig.as_ref().ok().cloned().flatten(),
        entries: found
            .entries
            .as_ref()
            .map(|_| "ok".to_string())
            .unwrap_or_else(|e| e.to_string()),
        manifest,
    }
}

fn print_text(path: &Path, found: &Found, manifest: &Manifest, opened: &Opened) {
    let sig_text = match &found.signature {
        Ok(Some(fp)) => format!("verified (key {fp})"),
        Ok(None) => "present, not checked (pass --key K.pub)".into(),
        Err(e) => format!("FAILED: {e} ({})", e.code()),
    };
    println!("package:      {}", path.display());
    println!("signature:    {sig_text}");
    println!("products:     {}", manifest.products.join(", "));
    println!("version:      {}", manifest.version);
    println!("built:        {}", util::rfc3339(manifest.build_time));
    println!("rollback idx: {}", manifest.rollback_index);
    let any = |v: &Vec<String>| {
        if v.is_empty() {
            "any".to_string()
        } else {
            v.join(", ")
        }
    };
    println!("hardware:     {}", any(&manifest.hardware_revisions));
    println!("basebands:    {}", any(&manifest.basebands));
    println!(
        "wipe data:    {}",
        if manifest.wipe_data { "YES" } else { "no" }
    );
    println!("images:");
    for img in &manifest.images {
        let method = opened
            .zip
            .by_name(&img.entry)
            .map(|e| format!("{:?}", e.method).to_lowercase())
            .unwrap_or_else(|| "missing".into());
        println!(
            "  {:<10} {:<14} {:>10}  {method}, {} chunks of {}, sha256 {}",
            img.partition,
            img.entry,
            util::human_bytes(img.size),
            img.chunks.len(),
            util::human_bytes(img.chunk_size),
            hex::encode(img.sha256)
        );
    }
    if let Err(e) = &found.entries {
        println!("entries:      FAILED: {e} ({})", e.code());
    }
}
