//! Cross-crate test scenarios live in this package's `tests/` directory: interop between a
//! peer built on `core/` and an independent WebRTC stack (str0m), and simulated networks.
