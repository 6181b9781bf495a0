//! Encode and decode time of the consensus wire header, the per-message cost every frame
//! pays: an AppendEntries of `DCF_BENCH_BATCH` entries (header and entry table; payloads
//! are sent raw and not touched) and an AppendResponse.
//!
//! `cargo bench -p dcf-core --bench codec` (env: DCF_BENCH_ROUNDS, DCF_BENCH_BATCH).

use std::hint::black_box;
use std::time::Instant;

use bytes::Bytes;
use dcf_core::consensus::codec::{decode, encode};
use dcf_core::consensus::{AppendHeader, AppendResponse, Message};
use dcf_core::types::{Entry, EntryKind};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn append(batch: u64) -> Message {
    // Realistic magnitudes: indexes in the millions, small terms, 16-byte payloads.
    let base = 3_000_000u64;
    Message::Append {
        header: AppendHeader {
            term: 7,
            leader: 1,
            prev_index: base,
            prev_term: 7,
            commit: base - 40,
            leader_last_index: base + batch,
            leader_first_index: 1,
            cluster_min_applied: base - 300,
            minority: false,
        },
        entries: (1..=batch)
            .map(|k| Entry {
                index: base + k,
                term: 7,
                key: 1_000_000 + k,
                kind: EntryKind::Normal,
                data: Bytes::from_static(&[7u8; 16]),
            })
            .collect(),
    }
}

fn response() -> Message {
    Message::AppendResponse(AppendResponse {
        term: 7,
        reject: false,
        index: 3_000_256,
        hint_term: 0,
        reject_prev: 0,
        durable: 3_000_256,
        last_index: 3_000_256,
        applied: 3_000_200,
        priority: 0,
        minority: false,
    })
}

/// Nanoseconds per encode+decode of `msg`, median of 7 runs of `rounds`.
fn measure(msg: &Message, rounds: u64) -> (f64, usize) {
    let (kind, header, payloads) = encode(msg);
    let payload: Bytes = payloads.iter().flat_map(|p| p.iter().copied()).collect();
    let mut runs = Vec::new();
    for _ in 0..7 {
        let t = Instant::now();
        for _ in 0..rounds {
            let (k, h, _) = encode(black_box(msg));
            let m = decode(k, black_box(&h), payload.clone()).expect("decode");
            black_box(m);
        }
        runs.push(t.elapsed().as_nanos() as f64 / rounds as f64);
    }
    runs.sort_by(|a, b| a.total_cmp(b));
    let _ = kind;
    (runs[3], header.len())
}

fn main() {
    let rounds = env("DCF_BENCH_ROUNDS", 20_000);
    let batch = env("DCF_BENCH_BATCH", 256);
    let (ns, bytes) = measure(&append(batch), rounds);
    println!(
        "codec_append_roundtrip: {ns:.0} ns/message ({:.1} ns/entry, {batch} entries, header {bytes} B, median of 7 x {rounds})",
        ns / batch as f64
    );
    let (ns, bytes) = measure(&response(), rounds * 20);
    println!(
        "codec_append_response_roundtrip: {ns:.0} ns/message (header {bytes} B, median of 7 x {})",
        rounds * 20
    );
}
