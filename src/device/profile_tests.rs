//! Unit tests of the device profile (src/device/profile.rs): parsing, validation, defaults.

mod tests {
    use super::super::*;

    const SAMPLE: &str = r#"
product = "demo-phone"
hardware_revision = "revA"
baseband = { file = "baseband.txt", regex = "^(\\S+)" }
keys = ["keys/release.pub"]
state_dir = "state"
min_battery_percent = 20
[slots]
mode = "ab"
misc = "parts/misc.img"
[[partition]]
name = "boot"
path = "parts/boot_{slot}.img"
[[partition]]
name = "modem"
path = "/dev/block/by-name/modem"
"#;

    #[test]
    fn parses_sample_and_resolves_paths() {
        let p = Profile::parse(SAMPLE, Path::new("/r/device.toml"), Path::new("/r")).unwrap();
        assert_eq!(p.product, "demo-phone");
        assert_eq!(p.hardware_revision, Fact::Literal("revA".into()));
        assert_eq!(
            p.baseband,
            Some(Fact::File {
                file: "/r/baseband.txt".into(),
                regex: Some("^(\\S+)".into())
            })
        );
        assert_eq!(p.keys, vec![PathBuf::from("/r/keys/release.pub")]);
        assert_eq!(
            p.rollback_index_file,
            PathBuf::from("/r/state/rollback_index")
        );
        assert_eq!(p.slots.misc, Some(PathBuf::from("/r/parts/misc.img")));
        assert_eq!(p.partitions[0].path, "/r/parts/boot_{slot}.img");
        assert!(p.partitions[0].slotted());
        assert_eq!(p.partitions[1].path, "/dev/block/by-name/modem");
        assert_eq!(p.package_names, vec!["update.zip".to_string()]);
    }

    #[test]
    fn rejects_bad_profiles() {
        let cases = [
            (
                SAMPLE.replace("keys = [\"keys/release.pub\"]", "keys = []"),
                "no trusted keys",
            ),
            (
                SAMPLE.replace("misc = \"parts/misc.img\"", ""),
                "needs slots.misc",
            ),
            (
                SAMPLE.replace("name = \"modem\"", "name = \"boot\""),
                "listed twice",
            ),
            (
                SAMPLE.replace("name = \"modem\"", "name = \"../x\""),
                "bad partition name",
            ),
            (
                SAMPLE.replace("min_battery_percent = 20", "min_battery_percent = 120"),
                "above 100",
            ),
            (SAMPLE.replace("^(\\\\S+)", "(["), "bad regex"),
            (SAMPLE.replace("product =", "produkt ="), "unknown field"),
            (SAMPLE.replace("\"ab\"", "\"single\""), "uses {slot}"),
        ];
        for (text, want) in cases {
            let e = Profile::parse(&text, Path::new("d.toml"), Path::new(".")).unwrap_err();
            assert!(e.to_string().contains(want), "{e} should mention {want}");
            assert_eq!(crate::HasCode::code(&e), crate::Code::ProfileInvalid);
        }
    }

    #[test]
    fn partition_type_names_the_flash_handler() {
        let p = Profile::parse(SAMPLE, Path::new("d.toml"), Path::new("/r")).unwrap();
        assert_eq!(p.partitions[0].kind, FlashType::Block, "block by default");
        let typed = SAMPLE.replace("name = \"modem\"\n", "name = \"modem\"\ntype = \"block\"\n");
        let p = Profile::parse(&typed, Path::new("d.toml"), Path::new("/r")).unwrap();
        assert_eq!(p.partitions[1].kind, FlashType::Block);
        // A type without a handler is refused when the profile loads, not at the first write.
        let nand = SAMPLE.replace("name = \"modem\"\n", "name = \"modem\"\ntype = \"nand\"\n");
        let e = Profile::parse(&nand, Path::new("d.toml"), Path::new("/r")).unwrap_err();
        assert!(e.to_string().contains("unknown variant `nand`"), "{e}");
        assert_eq!(crate::HasCode::code(&e), crate::Code::ProfileInvalid);
        // Raw NAND and UBI by name: kept as names (not joined to the profile's directory).
        let flash = SAMPLE
            .replace("name = \"modem\"\n", "name = \"modem\"\ntype = \"mtd\"\n")
            .replace("/dev/block/by-name/modem", "mtd:modem")
            .replace("parts/boot_{slot}.img", "ubi:boot_{slot}")
            .replace("name = \"boot\"\n", "name = \"boot\"\ntype = \"ubi\"\n");
        let p = Profile::parse(&flash, Path::new("d.toml"), Path::new("/r")).unwrap();
        assert_eq!(p.partitions[0].kind, FlashType::Ubi);
        assert_eq!(p.partitions[0].path, "ubi:boot_{slot}");
        assert_eq!(p.partitions[1].kind, FlashType::Mtd);
        assert_eq!(p.partitions[1].path, "mtd:modem");
        // A name of one kind with a handler of another is refused.
        let wrong = flash.replace("type = \"ubi\"", "type = \"block\"");
        let e = Profile::parse(&wrong, Path::new("d.toml"), Path::new("/r")).unwrap_err();
        assert!(e.to_string().contains("names a ubi target"), "{e}");
    }
}

mod recovery_fields_tests {
    use super::super::*;
    use crate::device::power::PowerAction;

    const BASE: &str = r#"
product = "p"
hardware_revision = "r"
keys = ["k.pub"]
state_dir = "/state"
[slots]
mode = "ab"
[slots.uboot_env]
config = "fw_env.config"
[[partition]]
name = "boot"
path = "/dev/block/by-name/boot_{slot}"
"#;

    #[test]
    fn init_sideload_mode_and_network() {
        let text = format!(
            "{BASE}[init]\nmode = \"sideload\"\n[init.network]\naddress = \"10.0.2.15/24\"\n"
        );
        let p = Profile::parse(&text, Path::new("/r/d.toml"), Path::new("/r")).unwrap();
        assert_eq!(p.init.mode, InitMode::Sideload);
        assert_eq!(p.init.sideload_listen, "0.0.0.0:5555");
        let net = p.init.network.unwrap();
        assert_eq!(
            (net.interface, net.address.as_str()),
            (None, "10.0.2.15/24")
        );
        let typo = format!("{BASE}[init.network]\naddress = \"10.0.2.15/24\"\niface = \"eth0\"\n");
        assert!(Profile::parse(&typo, Path::new("/r/d.toml"), Path::new("/r")).is_err());
        for bad in [
            "[init.network]\naddress = \"10.0.2.15\"\n",
            "[init]\nsideload_listen = \"5555\"\n",
        ] {
            let e = Profile::parse(
                &format!("{BASE}{bad}"),
                Path::new("/r/d.toml"),
                Path::new("/r"),
            )
            .unwrap_err();
            assert!(e.to_string().contains("init."), "{e}");
        }
    }

    #[test]
    fn init_wipe_uboot_and_auto_battery() {
        let text = format!(
            "battery = \"auto\"\n{BASE}[[wipe]]\nname = \"userdata\"\npath = \"/dev/block/by-name/userdata\"\nrole = \"data\"\n\
             [init]\nmode = \"headless\"\nafter = \"poweroff\"\nmodules = [\"vfat\"]\n\
             [[init.mounts]]\nsource = \"/dev/vdg\"\ntarget = \"/state\"\nfstype = \"vfat\"\n"
        );
        let p = Profile::parse(&text, Path::new("/r/d.toml"), Path::new("/r")).unwrap();
        assert_eq!(p.battery, Some(BatterySource::Auto("auto".into())));
        assert_eq!(
            p.slots.uboot_env.as_ref().unwrap().config,
            PathBuf::from("/r/fw_env.config")
        );
        assert_eq!(p.slots.uboot_env.as_ref().unwrap().order_var, "BOOT_ORDER");
        assert_eq!(p.wipe[0].name, "userdata");
        assert_eq!(p.wipe[0].role, WipeRole::Data);
        assert_eq!(p.init.mode, InitMode::Headless);
        assert_eq!(p.init.after, PowerAction::PowerOff);
        assert_eq!(p.init.on_failure, PowerAction::Wait);
        assert_eq!(p.init.mounts[0].fstype, "vfat");
        assert_eq!(p.command_file(), PathBuf::from("/state/command"));

        let defaults = Profile::parse(BASE, Path::new("/r/d.toml"), Path::new("/r")).unwrap();
        assert_eq!(
            defaults.init,
            InitDef::default_with_command("/state/command")
        );
        assert!(defaults.wipe.is_empty());

        for (bad, want) in [
            (format!("battery = \"sysfs\"\n{BASE}"), "want \"auto\""),
            (
                format!("{BASE}[[wipe]]\nname = \"b\"\npath = \"/dev/block/by-name/boot_a\"\nrole = \"data\"\n"),
                "also an update",
            ),
            (
                format!("{BASE}[[wipe]]\nname = \"c\"\npath = \"/dev/block/by-name/cache\"\n"),
                "missing field `role`",
            ),
            (
                format!("{BASE}[[wipe]]\nname = \"c\"\npath = \"/dev/block/by-name/cache\"\nrole = \"all\"\n"),
                "unknown variant",
            ),
            (format!("{BASE}[init]\nviewport = \"80\"\n"), "COLSxROWS"),
            (
                format!("{BASE}[init]\nafter = \"halt\"\n"),
                "unknown variant",
            ),
            (
                BASE.replace("[slots.uboot_env]\nconfig = \"fw_env.config\"\n", ""),
                "needs slots.misc",
            ),
        ] {
            let e = Profile::parse(&bad, Path::new("d.toml"), Path::new(".")).unwrap_err();
            assert!(e.to_string().contains(want), "{e} should mention {want}");
        }
    }
}
