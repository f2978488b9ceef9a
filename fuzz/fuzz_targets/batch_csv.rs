//! The input CSV of `kakunin batch` (UTF-8 with or without BOM, or CP932 as Japanese
//! Excel saves it): any bytes are rows or a message, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match kakunin::cli::batch::count_input_rows(data) {
        Ok(_rows) => {}
        Err(e) => {
            let _ = format!("{e:#}");
        }
    }
});
