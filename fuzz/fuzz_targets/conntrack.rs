//! /proc/net/stat/nf_conntrack: a header naming the columns, then per-CPU rows of hex values.
#![no_main]
use libfuzzer_sys::fuzz_target;
use nodescope::collect::dns::parse_conntrack_stat;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let sums = parse_conntrack_stat(&text);
    if sums.is_empty() {
        return;
    }
    let header: Vec<&str> = text.lines().next().unwrap().split_whitespace().collect();
    let names: Vec<&str> = sums.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, header);
    // One CPU's row holding the sums reads back as those sums.
    let row: Vec<String> = sums.iter().map(|(_, v)| format!("{v:08x}")).collect();
    let again = format!("{}\n{}\n", header.join(" "), row.join(" "));
    assert_eq!(parse_conntrack_stat(&again), sums);
});
