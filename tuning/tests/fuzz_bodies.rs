//! Arbitrary bytes through every fuzz body, so `cargo test` exercises them.

use portunus_tune::fuzzing;
use proptest::prelude::*;

proptest! {
    #[test]
    fn cpu_list_body_never_panics(data in proptest::collection::vec(any::<u8>(), 0..64)) {
        fuzzing::cpu_list(&data);
    }

    #[test]
    fn cpu_list_body_round_trips_lists(list in "[0-9]{1,3}(-[0-9]{1,3})?(,[0-9]{1,3}(-[0-9]{1,3})?){0,4}") {
        fuzzing::cpu_list(list.as_bytes());
    }

    #[test]
    fn cpu_mask_body_never_panics(data in proptest::collection::vec(any::<u8>(), 0..64)) {
        fuzzing::cpu_mask(&data);
    }

    #[test]
    fn cpu_mask_body_round_trips_masks(mask in "[0-9a-f]{1,8}(,[0-9a-f]{8}){0,3}") {
        fuzzing::cpu_mask(mask.as_bytes());
    }

    #[test]
    fn proc_text_body_never_panics(data in proptest::collection::vec(any::<u8>(), 0..256)) {
        fuzzing::proc_text(&data);
    }

    #[test]
    fn proc_text_body_takes_interrupt_like_lines(
        lines in proptest::collection::vec("[ 0-9A-Za-z:,.@-]{0,40}", 0..8)
    ) {
        fuzzing::proc_text(lines.join("\n").as_bytes());
    }
}
