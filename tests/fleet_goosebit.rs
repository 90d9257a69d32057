//! Our goosebit plugin (fleet/goosebit/) in a real goosebit server, without the agent: the
//! server accepts our update.zip and reads version and compatibility from its manifest; it
//! refuses a package it cannot read (one test per malformed input); and the DDI side a device
//! sees (poll, configData, deploymentBase, a ranged download, feedback) works with our package.
//!
//! One server for the whole file (tests/common/goosebit.rs: TLS on 127.0.0.1, its own temp dir);
//! each test uses its own products, so goosebit's "same version, overlapping compatibility"
//! rule and its rollouts (filtered by compatibility) keep the tests apart. Packages come from
//! our packer; broken ones are edited copies.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::goosebit::Goosebit;
use common::*;
use recovery_updater::device::SlotMode;
use serde_json::{json, Value};

fn sha1_hex(path: &Path) -> String {
    let out = openssl(
        &["dgst", "-sha1", "-r", path.to_str().unwrap()],
        Path::new("/"),
    );
    String::from_utf8(out).unwrap()[..40].to_string()
}

/// (model, revision) pairs of one software entry, sorted.
fn compatibility(sw: &Value) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = sw["compatibility"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["model"].as_str().unwrap().to_string(),
                c["revision"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn our_package_is_accepted_with_version_and_compatibility_from_its_manifest() {
    let fx = Fixture::new(SlotMode::Ab);
    let pkg = fx.pack(
        &fx.spec_with("products = [\"accept-phone\"]"),
        &fx.key,
        "u.zip",
    );
    let gb = Goosebit::shared();
    let id = gb.upload_ok(&pkg);
    let sw = software(gb, id);
    assert_eq!(sw["version"], "1.1.0");
    assert_eq!(
        compatibility(&sw),
        pairs(&[("accept-phone", "revA"), ("accept-phone", "revB")])
    );
    assert_eq!(sw["size"].as_u64(), Some(fs::metadata(&pkg).unwrap().len()));
    assert_eq!(sw["hash"].as_str().unwrap(), sha1_hex(&pkg));
}

#[test]
fn every_product_times_every_revision_and_no_revisions_means_default() {
    let fx = Fixture::new(SlotMode::Ab);
    let two = fx.pack(
        &fx.spec_with(
            "products = [\"phone-a\", \"phone-b\"]\nhardware_revisions = [\"r1\", \"r2\"]",
        ),
        &fx.key,
        "two.zip",
    );
    let any = fx.pack(
        &fx.spec_with("products = [\"tablet\"]\nhardware_revisions = []\nversion = \"2.0.0-rc.1\""),
        &fx.key,
        "any.zip",
    );
    let gb = Goosebit::shared();
    let two = software(gb, gb.upload_ok(&two));
    let any = software(gb, gb.upload_ok(&any));
    assert_eq!(any["version"], "2.0.0-rc.1");
    assert_eq!(
        compatibility(&two),
        pairs(&[
            ("phone-a", "r1"),
            ("phone-a", "r2"),
            ("phone-b", "r1"),
            ("phone-b", "r2")
        ])
    );
    assert_eq!(compatibility(&any), pairs(&[("tablet", "default")]));
}

/// The software `id` as goosebit lists it.
fn software(gb: &Goosebit, id: i64) -> Value {
    gb.software()
        .into_iter()
        .find(|s| s["id"].as_i64() == Some(id))
        .unwrap_or_else(|| panic!("no software {id}"))
}

/// Uploads `pkg` and insists goosebit refuses it as unreadable (422) and stores nothing: no
/// software with its hash, no artifact under its hash (where goosebit stores an upload).
fn assert_refused(gb: &Goosebit, pkg: &Path) {
    let a = gb.upload(pkg);
    assert_eq!(a.status, 422, "{a:?}");
    let sha1 = sha1_hex(pkg);
    assert!(gb.software().iter().all(|s| s["hash"] != sha1.as_str()));
    assert!(!gb.dir.path().join("artifacts").join(&sha1).exists());
}

/// A copy of the good package whose manifest text went through `edit` (the signature no longer
/// matches, which the server never checks: the device does).
fn with_manifest(fx: &Fixture, name: &str, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let out = fx.dir.join(name);
    rewrite(&fx.good_package(), &out, |entries| {
        let m = entries.iter_mut().find(|e| e.name == MANIFEST).unwrap();
        let mut v: Value = serde_json::from_slice(&m.data).unwrap();
        edit(&mut v);
        m.data = serde_json::to_vec(&v).unwrap();
    });
    out
}

#[test]
fn a_truncated_zip_is_refused() {
    let fx = Fixture::new(SlotMode::Ab);
    let pkg = fx.good_package();
    let data = fs::read(&pkg).unwrap();
    let cut = fx.dir.join("cut.zip");
    fs::write(&cut, &data[..data.len() / 2]).unwrap();
    assert_refused(Goosebit::shared(), &cut);
}

#[test]
fn a_zip_without_a_manifest_is_refused() {
    let fx = Fixture::new(SlotMode::Ab);
    let out = fx.dir.join("nomanifest.zip");
    rewrite(&fx.good_package(), &out, |entries| {
        entries.retain(|e| e.name != MANIFEST)
    });
    assert_refused(Goosebit::shared(), &out);
}

#[test]
fn a_manifest_that_is_not_json_is_refused() {
    let fx = Fixture::new(SlotMode::Ab);
    let out = fx.dir.join("notjson.zip");
    rewrite(&fx.good_package(), &out, |entries| {
        entries
            .iter_mut()
            .find(|e| e.name == MANIFEST)
            .unwrap()
            .data = b"{not json".to_vec();
    });
    assert_refused(Goosebit::shared(), &out);
}

#[test]
fn a_manifest_of_another_format_version_is_refused() {
    let fx = Fixture::new(SlotMode::Ab);
    let pkg = with_manifest(&fx, "fv2.zip", |m| m["format_version"] = json!(2));
    assert_refused(Goosebit::shared(), &pkg);
}

#[test]
fn a_version_that_is_not_semver_is_refused() {
    let fx = Fixture::new(SlotMode::Ab);
    let pkg = with_manifest(&fx, "nosemver.zip", |m| m["version"] = json!("build 42"));
    assert_refused(Goosebit::shared(), &pkg);
}

#[test]
fn a_hardware_revision_pattern_is_refused_since_goosebit_matches_exactly() {
    let fx = Fixture::new(SlotMode::Ab);
    let pkg = with_manifest(&fx, "pattern.zip", |m| {
        m["hardware_revisions"] = json!(["rev*"])
    });
    assert_refused(Goosebit::shared(), &pkg);
}

#[test]
fn a_manifest_without_products_is_refused() {
    let fx = Fixture::new(SlotMode::Ab);
    let pkg = with_manifest(&fx, "noproducts.zip", |m| m["products"] = json!([]));
    assert_refused(Goosebit::shared(), &pkg);
}

/// A device speaking DDI by hand (curl): the facts the agent relies on hold with our package.
#[test]
fn a_device_gets_our_package_by_ddi_with_ranged_download_and_feedback() {
    let fx = Fixture::new(SlotMode::Ab);
    let pkg = fx.pack(
        &fx.spec_with("products = [\"ddi-phone\"]"),
        &fx.key,
        "u.zip",
    );
    let gb = Goosebit::shared();
    let sw = gb.upload_ok(&pkg);
    let base = gb.ddi("dev-1");
    // First poll registers the device and asks for configData.
    let poll = gb.curl(&[&base]);
    assert!(poll.body["_links"]["configData"].is_object(), "{poll:?}");
    let cfg = json!({"mode": "merge", "data": {"hw_boardname": "ddi-phone",
        "hw_revision": "revB", "sw_version": "1.0.0"}});
    let put = gb.curl(&[
        "-X",
        "PUT",
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        &cfg.to_string(),
        &format!("{base}/configData"),
    ]);
    assert_eq!(put.status, 200, "{put:?}");
    let rollout = gb.rollout("ddi", "default", sw);
    let poll = gb.curl(&[&base]);
    let link = poll.body["_links"]["deploymentBase"]["href"]
        .as_str()
        .unwrap_or_else(|| panic!("no deploymentBase: {poll:?}"))
        .to_string();
    assert!(
        link.starts_with(&gb.url),
        "link keeps host and port: {link}"
    );
    let dep = gb.curl(&[&link]);
    let art = &dep.body["deployment"]["chunks"][0]["artifacts"][0];
    assert_eq!(art["hashes"]["sha1"].as_str().unwrap(), sha1_hex(&pkg));
    assert_eq!(
        art["size"].as_u64(),
        Some(fs::metadata(&pkg).unwrap().len())
    );
    let href = art["_links"]["download"]["href"].as_str().unwrap();
    // A ranged request gets 206 and exactly those bytes.
    let part = fx.dir.join("part");
    let got = gb.curl(&["-r", "100-4195", "-o", part.to_str().unwrap(), href]);
    assert_eq!(got.status, 206);
    assert_eq!(fs::read(&part).unwrap(), fs::read(&pkg).unwrap()[100..4196]);
    assert!(gb.log().contains("206 Partial Content"), "{}", gb.log());
    let feedback = json!({"status": {"execution": "closed", "result": {"finished": "success"},
        "details": ["installed, booted and confirmed"]}});
    let fb = gb.curl(&[
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        &feedback.to_string(),
        &format!("{link}/feedback"),
    ]);
    assert_eq!(fb.status, 200, "{fb:?}");
    let r = gb.rollout_state(rollout);
    assert_eq!(
        (r["success_count"].as_i64(), r["failure_count"].as_i64()),
        (Some(1), Some(0))
    );
    let dev = gb.device("dev-1").unwrap();
    assert_eq!(dev["last_state"], "Finished", "{dev:?}");
    assert_eq!(dev["sw_version"], "1.1.0");
    assert!(gb.device_log("dev-1").contains("confirmed"));
}

/// goosebit offers a package only to hardware its manifest lists.
#[test]
fn a_device_of_another_hardware_revision_is_not_offered_the_package() {
    let fx = Fixture::new(SlotMode::Ab);
    let gb = Goosebit::shared();
    let pkg = fx.pack(
        &fx.spec_with("products = [\"revc-phone\"]"),
        &fx.key,
        "u.zip",
    );
    let sw = gb.upload_ok(&pkg);
    gb.rollout("revc", "default", sw);
    let base = gb.ddi("dev-c");
    gb.curl(&[&base]);
    let cfg = json!({"mode": "merge", "data": {"hw_boardname": "revc-phone",
        "hw_revision": "revC", "sw_version": "1.0.0"}});
    gb.curl(&[
        "-X",
        "PUT",
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        &cfg.to_string(),
        &format!("{base}/configData"),
    ]);
    let poll = gb.curl(&[&base]);
    assert_eq!(poll.status, 200);
    assert!(
        poll.body["_links"].get("deploymentBase").is_none(),
        "{poll:?}"
    );
}
