//! The scheduler's FailedScheduling message (`0/3 nodes are available: 1 Insufficient
//! nvidia.com/gpu, 2 node(s) had untolerated taint {k: v}. preemption: ...`).
#![no_main]
use libfuzzer_sys::fuzz_target;
use nodescope::analyze::gpu::parse_fit_error;

fuzz_target!(|data: &[u8]| {
    let msg = String::from_utf8_lossy(data);
    let Some((total, items)) = parse_fit_error(&msg) else {
        return;
    };
    // Written back as the scheduler writes it, the message splits the same way; but the
    // reason written last loses its trailing dots to the sentence's end, as any last reason
    // does (it need not have been last: a part with no reason after it is dropped).
    // A reason holding ", <digit>" or ", +" (possible when what follows is not a whole count
    // word; u32 parsing takes a leading `+`) has no unambiguous written form: such messages
    // are only parsed, not rewritten.
    let ambiguous = |r: &str| {
        r.match_indices(", ")
            .any(|(i, _)| r[i + 2..].starts_with(|c: char| c.is_ascii_digit() || c == '+'))
    };
    if items.iter().any(|(_, r)| ambiguous(r)) {
        return;
    }
    let reasons: Vec<String> = items.iter().map(|(n, r)| format!("{n} {r}")).collect();
    let again = format!("0/{total} nodes are available: {}.", reasons.join(", "));
    let mut want = items.clone();
    if let Some((_, r)) = want.last_mut() {
        *r = format!("{r}.").trim_end().trim_end_matches('.').to_string();
    }
    assert_eq!(
        parse_fit_error(&again),
        Some((total, want.clone())),
        "{again:?}"
    );
    let with_preemption = format!(
        "{again} preemption: 0/{total} nodes are available: 1 No preemption victims found."
    );
    assert_eq!(parse_fit_error(&with_preemption), Some((total, want)));
});
