#![no_main]
// The body lives in the crate (`portunus_ice::fuzzing::lite_datagram`) so that it always compiles and unit tests run it too.
libfuzzer_sys::fuzz_target!(|data: &[u8]| portunus_ice::fuzzing::lite_datagram(data));
