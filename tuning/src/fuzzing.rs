//! Fuzz bodies for the parsers of kernel files, compiled always so `cargo test` and
//! cargo-fuzz shims share them. Each parses arbitrary bytes and, where a parse succeeds,
//! formats the value back, re-parses it and asserts both agree.

use crate::CpuSet;
use crate::checks::parse_interrupts;

/// A CPU list (`0-3,8`): parse, format, re-parse.
pub fn cpu_list(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(set) = CpuSet::parse_list(text) else {
        return;
    };
    let again = CpuSet::parse_list(&set.to_list()).expect("a formatted list parses");
    assert_eq!(again, set);
    let via_mask = CpuSet::parse_mask(&set.to_mask()).expect("a formatted mask parses");
    assert_eq!(via_mask, set);
}

/// A CPU mask (`00000000,0000000f`): parse, format, re-parse.
pub fn cpu_mask(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(set) = CpuSet::parse_mask(text) else {
        return;
    };
    let again = CpuSet::parse_mask(&set.to_mask()).expect("a formatted mask parses");
    assert_eq!(again, set);
    let via_list = CpuSet::parse_list(&set.to_list()).expect("a formatted list parses");
    assert_eq!(via_list, set);
}

/// `/proc/interrupts` and `/proc/cmdline` text: must not panic.
pub fn proc_text(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for (_, name) in parse_interrupts(&text) {
        assert!(!name.is_empty(), "an interrupt name is never empty");
    }
    let _ = crate::checks::KernelParams::parse(&text);
}
