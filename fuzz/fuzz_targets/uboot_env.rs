//! The U-Boot environment (fw_env format) decoder and encoder, and the slot state read from it.
//! Properties: decoding any bytes, in either layout, never panics; whatever decodes re-encodes
//! into an area of the same size and decodes to the same variables; encoding into any area size
//! (even smaller than the header) fails cleanly instead of panicking; the slot state derived
//! from any variables is one of the two slots.
#![no_main]

use libfuzzer_sys::fuzz_target;
use recovery_updater::device::uboot_env::{decode, encode, slot_state, SlotVars};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, bytes)) = data.split_first() else {
        return;
    };
    let redundant = sel & 1 == 1;
    let flag = redundant.then_some(sel >> 1);
    if let Ok(env) = decode(bytes, redundant) {
        let again = encode(&env.vars, bytes.len(), flag).expect("what decoded fits its own area");
        let back = decode(&again, redundant).expect("what we encode decodes");
        assert_eq!(back.vars, env.vars);
        let st = slot_state(&env.vars, &SlotVars::default(), true);
        let _ = st.active;
        // Any smaller area either holds the variables or refuses them.
        let _ = encode(&env.vars, usize::from(sel) % 8, flag);
    }
});
