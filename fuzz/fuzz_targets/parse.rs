//! Both parsers on arbitrary bytes: they must return (families or an error), never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nvidia_nim_core::parse::{openmetrics, prom};
use nvidia_nim_core::scrape::decode_utf8;

fuzz_target!(|data: &[u8]| {
    let text = decode_utf8(data);
    let mut samples = 0usize;
    let _ = prom::parse(&text, &mut |f| {
        samples += f.samples.len();
        Ok(())
    });
    let _ = openmetrics::parse(&text, &mut |f| {
        samples += f.samples.len();
        Ok(())
    });
    std::hint::black_box(samples);
});
