//! Wire form of `Message`: a kind byte, a bincode header, and entry payloads sent raw (never
//! copied into the header). Decoding is strict: bounded sizes, no trailing bytes, checked
//! arithmetic; it never panics on hostile input. Headers are in the project's one encoding
//! (`crate::encoding`: bincode 1, fixed-width little-endian integers; README,
//! "Dependencies", says why bincode 1).

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::message::{
    AppendHeader, AppendResponse, Heartbeat, HeartbeatResponse, Message, TimeoutNow,
    TransferRequest, VoteRequest, VoteResponse,
};
use crate::encoding;
use crate::types::{Entry, EntryKind, Index, Term};

pub const KIND_APPEND: u8 = 1;
pub const KIND_APPEND_RESPONSE: u8 = 2;
pub const KIND_HEARTBEAT: u8 = 3;
pub const KIND_HEARTBEAT_RESPONSE: u8 = 4;
pub const KIND_VOTE: u8 = 5;
pub const KIND_VOTE_RESPONSE: u8 = 6;
pub const KIND_TIMEOUT_NOW: u8 = 7;
pub const KIND_TRANSFER_REQUEST: u8 = 8;

/// Largest header accepted.
pub const MAX_HEADER_BYTES: u64 = 4 << 20;
/// Most entries in one AppendEntries.
pub const MAX_ENTRIES: usize = 1 << 16;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CodecError {
    #[error("unknown message kind {0}")]
    UnknownKind(u8),
    #[error("bad header of message kind {kind}: {reason}")]
    Header { kind: u8, reason: String },
    #[error("bad entries: {0}")]
    Entries(String),
}

#[derive(Serialize, Deserialize)]
struct EntryMeta {
    index: Index,
    term: Term,
    key: u64,
    kind: u8,
    len: u32,
}

#[derive(Serialize, Deserialize)]
struct AppendWire {
    header: AppendHeader,
    entries: Vec<EntryMeta>,
}

fn ser<T: Serialize>(v: &T) -> Vec<u8> {
    encoding::encode(v)
}

/// `(kind, header, payloads)`; the payloads are the entries' data in order.
pub fn encode(msg: &Message) -> (u8, Vec<u8>, Vec<Bytes>) {
    match msg {
        Message::Append { header, entries } => {
            let wire = AppendWire {
                header: header.clone(),
                entries: entries
                    .iter()
                    .map(|e| EntryMeta {
                        index: e.index,
                        term: e.term,
                        key: e.key,
                        kind: e.kind as u8,
                        len: e.data.len() as u32,
                    })
                    .collect(),
            };
            let payloads = entries.iter().map(|e| e.data.clone()).collect();
            (KIND_APPEND, ser(&wire), payloads)
        }
        Message::AppendResponse(m) => (KIND_APPEND_RESPONSE, ser(m), Vec::new()),
        Message::Heartbeat(m) => (KIND_HEARTBEAT, ser(m), Vec::new()),
        Message::HeartbeatResponse(m) => (KIND_HEARTBEAT_RESPONSE, ser(m), Vec::new()),
        Message::Vote(m) => (KIND_VOTE, ser(m), Vec::new()),
        Message::VoteResponse(m) => (KIND_VOTE_RESPONSE, ser(m), Vec::new()),
        Message::TimeoutNow(m) => (KIND_TIMEOUT_NOW, ser(m), Vec::new()),
        Message::TransferRequest(m) => (KIND_TRANSFER_REQUEST, ser(m), Vec::new()),
    }
}

fn de<'a, T: Deserialize<'a>>(kind: u8, header: &'a [u8]) -> Result<T, CodecError> {
    if header.len() as u64 > MAX_HEADER_BYTES {
        return Err(CodecError::Header {
            kind,
            reason: format!("{} bytes exceed the limit {MAX_HEADER_BYTES}", header.len()),
        });
    }
    encoding::decode(header, MAX_HEADER_BYTES).map_err(|e| CodecError::Header {
        kind,
        reason: e.to_string(),
    })
}

/// Inverse of `encode`, with `payload` the concatenated entry payloads (empty for
/// messages without entries).
pub fn decode(kind: u8, header: &[u8], payload: Bytes) -> Result<Message, CodecError> {
    if kind != KIND_APPEND && !payload.is_empty() {
        return Err(CodecError::Entries(format!(
            "message kind {kind} carries no entries but {} payload bytes came",
            payload.len()
        )));
    }
    let msg = match kind {
        KIND_APPEND => {
            let wire: AppendWire = de(kind, header)?;
            return decode_entries(wire, payload);
        }
        KIND_APPEND_RESPONSE => Message::AppendResponse(de::<AppendResponse>(kind, header)?),
        KIND_HEARTBEAT => Message::Heartbeat(de::<Heartbeat>(kind, header)?),
        KIND_HEARTBEAT_RESPONSE => {
            Message::HeartbeatResponse(de::<HeartbeatResponse>(kind, header)?)
        }
        KIND_VOTE => Message::Vote(de::<VoteRequest>(kind, header)?),
        KIND_VOTE_RESPONSE => Message::VoteResponse(de::<VoteResponse>(kind, header)?),
        KIND_TIMEOUT_NOW => Message::TimeoutNow(de::<TimeoutNow>(kind, header)?),
        KIND_TRANSFER_REQUEST => Message::TransferRequest(de::<TransferRequest>(kind, header)?),
        other => return Err(CodecError::UnknownKind(other)),
    };
    Ok(msg)
}

fn decode_entries(wire: AppendWire, payload: Bytes) -> Result<Message, CodecError> {
    if wire.entries.len() > MAX_ENTRIES {
        return Err(CodecError::Entries(format!(
            "{} entries exceed the limit {MAX_ENTRIES}",
            wire.entries.len()
        )));
    }
    let mut total: u64 = 0;
    for m in &wire.entries {
        total += u64::from(m.len);
    }
    if total != payload.len() as u64 {
        return Err(CodecError::Entries(format!(
            "entry lengths sum to {total} but the payload has {} bytes",
            payload.len()
        )));
    }
    let mut entries = Vec::with_capacity(wire.entries.len());
    let mut off = 0usize;
    // Terms along a log never fall, and none is above the sender's term.
    let mut floor = wire.header.prev_term;
    for (k, m) in wire.entries.iter().enumerate() {
        if m.term < floor || m.term > wire.header.term {
            return Err(CodecError::Entries(format!(
                "entry {} has term {} outside {floor}..={}",
                m.index, m.term, wire.header.term
            )));
        }
        floor = m.term;
        let kind = EntryKind::from_u8(m.kind).ok_or_else(|| {
            CodecError::Entries(format!("entry {} has unknown kind {}", m.index, m.kind))
        })?;
        let expected = wire.header.prev_index.checked_add(k as u64 + 1);
        if expected != Some(m.index) {
            return Err(CodecError::Entries(format!(
                "entry {k} has index {} after prev_index {}",
                m.index, wire.header.prev_index
            )));
        }
        let len = m.len as usize;
        entries.push(Entry {
            index: m.index,
            term: m.term,
            key: m.key,
            kind,
            data: payload.slice(off..off + len),
        });
        off += len;
    }
    Ok(Message::Append {
        header: wire.header,
        entries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn concat(p: &[Bytes]) -> Bytes {
        let mut v = Vec::new();
        for b in p {
            v.extend_from_slice(b);
        }
        Bytes::from(v)
    }

    fn sample_append() -> Message {
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
                minority: false,
            },
            entries: (10..12)
                .map(|i| Entry {
                    index: i,
                    term: 3,
                    key: i * 7,
                    kind: if i == 10 {
                        EntryKind::Conf
                    } else {
                        EntryKind::Normal
                    },
                    data: Bytes::from(vec![i as u8; i as usize]),
                })
                .collect(),
        }
    }

    #[test]
    fn round_trip_every_kind() {
        let msgs = vec![
            sample_append(),
            Message::Vote(VoteRequest {
                term: 1,
                candidate: 3,
                last_index: 4,
                last_term: 1,
                pre_vote: true,
                force: false,
                minority: true,
            }),
            Message::VoteResponse(VoteResponse {
                term: 1,
                granted: true,
                pre_vote: false,
                minority: false,
            }),
            Message::TimeoutNow(TimeoutNow { term: 4, leader: 1 }),
            Message::TransferRequest(TransferRequest { term: 4 }),
        ];
        for m in msgs {
            let (kind, header, payloads) = encode(&m);
            assert_eq!(decode(kind, &header, concat(&payloads)).unwrap(), m);
        }
    }

    #[test]
    fn rejects_inconsistent_payload() {
        let (kind, header, payloads) = encode(&sample_append());
        let mut p = concat(&payloads).to_vec();
        p.push(0);
        assert!(decode(kind, &header, Bytes::from(p)).is_err());
        assert!(decode(kind, &header[..header.len() - 1], concat(&payloads)).is_err());
        assert!(decode(99, &header, Bytes::new()).is_err());
    }

    #[test]
    fn entries_with_terms_out_of_order_or_above_the_sender_are_refused() {
        let bad = |f: fn(&mut Vec<Entry>, &mut AppendHeader)| {
            let Message::Append {
                mut header,
                mut entries,
            } = sample_append()
            else {
                unreachable!()
            };
            f(&mut entries, &mut header);
            let (kind, h, p) = encode(&Message::Append { header, entries });
            decode(kind, &h, concat(&p)).unwrap_err()
        };
        bad(|e, _| e[0].term = 4);
        bad(|e, _| e[1].term = 1);
        bad(|_, h| h.prev_term = 4);
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(kind in 0u8..10, header in proptest::collection::vec(any::<u8>(), 0..400),
                                    payload in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode(kind, &header, Bytes::from(payload));
        }

        #[test]
        fn mutated_append_never_panics(pos in 0usize..400, byte in any::<u8>()) {
            let (kind, mut header, payloads) = encode(&sample_append());
            let n = header.len();
            header[pos % n] = byte;
            let _ = decode(kind, &header, concat(&payloads));
        }
    }
}
