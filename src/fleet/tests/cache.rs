use crate::fleet::ddi::Hashes;
use crate::fleet::download::{self, check_hash, Wanted};
use crate::fleet::log::{Log, MAX};
use crate::fleet::state::{self, Action, AgentState, Phase};

/// SHA-256 and SHA-1 of "abc".
const ABC_256: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const ABC_1: &str = "a9993e364706816aba3e25717850c26c9cd0d89d";

#[test]
fn sha256_first_else_sha1() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("p");
    std::fs::write(&f, b"abc").unwrap();
    let h = |sha256: Option<&str>, sha1: Option<&str>| Hashes {
        sha256: sha256.map(str::to_string),
        sha1: sha1.map(str::to_string),
        md5: None,
    };
    assert!(check_hash(&f, &h(Some(ABC_256), None)).is_ok());
    assert!(check_hash(&f, &h(None, Some(ABC_1))).is_ok());
    assert!(check_hash(&f, &h(None, Some(&ABC_1.to_uppercase()))).is_ok());
    // sha256 wins: a right sha1 does not save a wrong sha256.
    let e = check_hash(&f, &h(Some(&"0".repeat(64)), Some(ABC_1))).unwrap_err();
    assert!(e.to_string().contains("sha256"), "{e}");
    assert!(check_hash(&f, &h(None, Some(&"0".repeat(40)))).is_err());
}

#[test]
fn the_cache_belongs_to_one_artifact() {
    let dir = tempfile::tempdir().unwrap();
    let want = Wanted {
        path: "/download/a.zip".into(),
        size: 10,
        hashes: Hashes::default(),
    };
    assert_eq!(download::have(dir.path(), &want), 0);
    std::fs::write(
        dir.path().join(download::META),
        serde_json::to_vec(&want).unwrap(),
    )
    .unwrap();
    std::fs::write(dir.path().join(download::PART), b"12345").unwrap();
    assert_eq!(download::have(dir.path(), &want), 5);
    // Another artifact's part is not resumed.
    let other = Wanted {
        path: "/download/b.zip".into(),
        ..want.clone()
    };
    assert_eq!(download::have(dir.path(), &other), 0);
    assert!(download::cached(dir.path(), &want).is_none());
    download::clear(dir.path()).unwrap();
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
}

#[test]
fn state_survives_and_a_damaged_file_is_set_aside() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(state::load(dir.path()), AgentState::default());
    let st = AgentState {
        action: Some(Action {
            id: "8".into(),
            href: "https://h/x/deploymentBase/8?c=1".into(),
            phase: Phase::AwaitingBoot,
            version: Some("1.1.0".into()),
            hashes: Hashes::default(),
            target_slot: Some("b".into()),
            installed_from: Some("a".into()),
            since: 5,
            reported_percent: 100,
        }),
    };
    state::save(dir.path(), &st).unwrap();
    assert_eq!(state::load(dir.path()), st);
    std::fs::write(state::path(dir.path()), b"{not json").unwrap();
    assert_eq!(state::load(dir.path()), AgentState::default());
    assert!(dir.path().join("agent.json.bad").exists());
}

#[test]
fn the_log_stays_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::new(dir.path(), true);
    let line = "x".repeat(1000);
    for _ in 0..(3 * MAX / 1000) {
        log.line(&line);
    }
    let cur = std::fs::metadata(log.path()).unwrap().len();
    let old = std::fs::metadata(dir.path().join("agent.log.1"))
        .unwrap()
        .len();
    assert!(cur <= MAX && old <= MAX, "{cur} {old}");
}
