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

/// Entries after `prev_index` whose terms do not fall and lie within `prev_term..=term`, as
/// a leader sends them.
fn entries(prev_index: u64, prev_term: u64, term: u64) -> impl Strategy<Value = Vec<Entry>> {
    proptest::collection::vec(
        (
            any::<u64>(),
            any::<u64>(),
            any::<bool>(),
            proptest::collection::vec(any::<u8>(), 0..24),
        ),
        0..6,
    )
    .prop_map(move |v| {
        let span = term - prev_term;
        let mut terms: Vec<u64> = v
            .iter()
            .map(|(t, ..)| prev_term + t.checked_rem(span.wrapping_add(1)).unwrap_or(*t))
            .collect();
        terms.sort_unstable();
        v.into_iter()
            .zip(terms)
            .enumerate()
            .map(|(k, ((_, key, conf, data), term))| Entry {
                index: prev_index + k as u64 + 1,
                term,
                key,
                kind: if conf {
                    EntryKind::Conf
                } else {
                    EntryKind::Normal
                },
                data: Bytes::from(data),
            })
            .collect()
    })
}

fn append() -> impl Strategy<Value = Message> {
    (
        (any::<u64>(), any::<u32>(), 0..u64::MAX - 16, any::<u64>()),
        (any::<u64>(), any::<u64>(), any::<u64>(), any::<u64>()),
        any::<bool>(),
    )
        .prop_flat_map(|((term, leader, prev_index, prev_term), rest, minority)| {
            let (commit, leader_last_index, leader_first_index, cluster_min_applied) = rest;
            let prev_term = prev_term
                .checked_rem(term.wrapping_add(1))
                .unwrap_or(prev_term);
            let header = AppendHeader {
                term,
                leader,
                prev_index,
                prev_term,
                commit,
                leader_last_index,
                leader_first_index,
                cluster_min_applied,
                minority,
            };
            entries(prev_index, prev_term, term).prop_map(move |entries| Message::Append {
                header: header.clone(),
                entries,
            })
        })
}

/// Every kind, every field arbitrary (an append's entry terms as a leader sends them).
fn message() -> impl Strategy<Value = Message> {
    let u = any::<u64>;
    let b = any::<bool>;
    prop_oneof![
        append(),
        ((u(), b(), u(), u(), u()), (u(), u(), u(), u(), b())).prop_map(
            |((term, reject, index, hint_term, reject_prev), rest)| {
                let (durable, last_index, applied, priority, minority) = rest;
                Message::AppendResponse(AppendResponse {
                    term,
                    reject,
                    index,
                    hint_term,
                    reject_prev,
                    durable,
                    last_index,
                    applied,
                    priority,
                    minority,
                })
            }
        ),
        (u(), any::<u32>(), u(), u(), u(), u(), b()).prop_map(
            |(term, leader, commit, leader_last_index, leader_first_index, min, minority)| {
                Message::Heartbeat(Heartbeat {
                    term,
                    leader,
                    commit,
                    leader_last_index,
                    leader_first_index,
                    cluster_min_applied: min,
                    minority,
                })
            }
        ),
        (u(), u(), u(), u(), u(), u(), b()).prop_map(
            |(term, matched, durable, last_index, applied, priority, minority)| {
                Message::HeartbeatResponse(HeartbeatResponse {
                    term,
                    matched,
                    durable,
                    last_index,
                    applied,
                    priority,
                    minority,
                })
            }
        ),
        (u(), any::<u32>(), u(), u(), b(), b(), b()).prop_map(
            |(term, candidate, last_index, last_term, pre_vote, force, minority)| {
                Message::Vote(VoteRequest {
                    term,
                    candidate,
                    last_index,
                    last_term,
                    pre_vote,
                    force,
                    minority,
                })
            }
        ),
        (u(), b(), b(), b()).prop_map(|(term, granted, pre_vote, minority)| {
            Message::VoteResponse(VoteResponse {
                term,
                granted,
                pre_vote,
                minority,
            })
        }),
        (u(), any::<u32>())
            .prop_map(|(term, leader)| Message::TimeoutNow(TimeoutNow { term, leader })),
        u().prop_map(|term| Message::TransferRequest(TransferRequest { term })),
    ]
}

/// What the decoder accepted must be exactly what the encoder writes for it: nothing in a
/// header is ignored, and no two inputs decode to the same message.
fn accepted_is_canonical(kind: u8, header: &[u8], payload: &Bytes) -> Result<(), TestCaseError> {
    if let Ok(m) = decode(kind, header, payload.clone()) {
        let (k, h, p) = encode(&m);
        prop_assert_eq!(k, kind);
        prop_assert_eq!(&h[..], header);
        prop_assert_eq!(&concat(&p), payload);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_kind_round_trips(m in message()) {
        let (kind, header, payloads) = encode(&m);
        prop_assert_eq!(decode(kind, &header, concat(&payloads)).unwrap(), m);
    }

    /// Headers of a valid kind and exactly a valid header's length, every byte random.
    #[test]
    fn random_header_of_the_right_length(m in message(), seed in proptest::collection::vec(any::<u8>(), 512)) {
        let (kind, header, payloads) = encode(&m);
        let random: Vec<u8> = seed.iter().cycle().take(header.len()).copied().collect();
        accepted_is_canonical(kind, &random, &concat(&payloads))?;
    }

    /// A valid message with a few bytes of its header or payload changed, or cut short.
    #[test]
    fn mutated_valid_message(m in message(),
                             edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
                             in_payload in any::<bool>(), cut in proptest::option::of(any::<usize>())) {
        let (kind, mut header, payloads) = encode(&m);
        let mut payload = concat(&payloads).to_vec();
        let target = if in_payload && !payload.is_empty() { &mut payload } else { &mut header };
        for (at, byte) in edits {
            let n = target.len();
            target[at % n] = byte;
        }
        if let Some(c) = cut {
            let n = target.len();
            target.truncate(c % (n + 1));
        }
        accepted_is_canonical(kind, &header, &Bytes::from(payload))?;
    }

    /// The header of one kind under another kind's byte.
    #[test]
    fn header_under_another_kind(m in message(), kind in 1u8..=8) {
        let (_, header, payloads) = encode(&m);
        accepted_is_canonical(kind, &header, &concat(&payloads))?;
    }
}

#[test]
fn unknown_kinds_are_refused() {
    for kind in
        (0..=u8::MAX).filter(|k| !(codec::KIND_APPEND..=codec::KIND_TRANSFER_REQUEST).contains(k))
    {
        assert_eq!(
            decode(kind, &[], Bytes::new()),
            Err(codec::CodecError::UnknownKind(kind))
        );
    }
}
