//! What the runtime puts in transport frames: every frame's header starts with the stream id
//! (4 bytes, little endian). Consensus messages use the consensus codec's kinds; the runtime's
//! own requests (user messages, forwarded writes, commit-index and membership requests) use
//! kinds from `RUNTIME_KIND_BASE` up, with bincode headers.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::consensus::{codec, Message};
use crate::transport::{Channel, Frame};
use crate::types::{Index, StreamId};

pub const RUNTIME_KIND_BASE: u8 = 200;
pub const KIND_USER_MSG: u8 = 200;
pub const KIND_REQUEST: u8 = 201;
pub const KIND_RESPONSE: u8 = 202;
pub const KIND_PEER_FACTS: u8 = 203;

/// Requests a node sends to the leader on behalf of a caller, answered by `Response`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// `dcf_universal_write` from a non-leader: the payload is the entry.
    Write { key: u64 },
    /// `dcf_get_data_commit_index` LEADER/CONSENSUS from a non-leader.
    CommitIndex { consensus: bool },
    /// `dcf_change_member` on a non-leader about itself.
    ChangeMember { json: String },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    Written(Option<Index>),
    CommitIndex(Option<Index>),
    /// The index of the change entry, or None when the leader refused it.
    Changed(Option<Index>),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestHeader {
    pub id: u64,
    pub request: Request,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseHeader {
    pub id: u64,
    pub response: Response,
}

/// Sent once a connection is up: facts a peer asks about (`dcf_is_diff_endian`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerFacts {
    pub big_endian: bool,
}

/// A frame received from a peer, decoded.
#[derive(Debug)]
pub enum Incoming {
    Consensus(StreamId, Message),
    UserMsg(StreamId, Bytes),
    Request(StreamId, RequestHeader, Bytes),
    Response(StreamId, ResponseHeader),
    PeerFacts(PeerFacts),
}

#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("frame header shorter than the stream id")]
    Short,
    #[error("unknown frame kind {0}")]
    UnknownKind(u8),
    #[error("bad consensus message: {0}")]
    Consensus(String),
    #[error("bad runtime header: {0}")]
    Header(String),
}

/// Largest runtime header accepted (requests carry at most a small JSON document).
const MAX_RUNTIME_HEADER: u64 = 64 * 1024;

fn with_stream(stream: StreamId, body: &[u8]) -> Bytes {
    let mut h = Vec::with_capacity(4 + body.len());
    h.extend_from_slice(&stream.to_le_bytes());
    h.extend_from_slice(body);
    Bytes::from(h)
}

fn bincode_header<T: Serialize>(stream: StreamId, value: &T) -> Bytes {
    // Plain owned data of known shape: serialization cannot fail.
    let body = bincode::serialize(value).unwrap_or_default();
    with_stream(stream, &body)
}

/// The channel each message travels on: entries on Data, the rest of consensus on Control.
pub fn consensus_frame(stream: StreamId, msg: &Message) -> (Channel, Frame) {
    let (kind, header, payload) = codec::encode(msg);
    let channel = match msg {
        Message::Append { .. } => Channel::Data,
        _ => Channel::Control,
    };
    let frame = Frame {
        kind,
        header: with_stream(stream, &header),
        payload,
    };
    (channel, frame)
}

pub fn user_msg_frame(stream: StreamId, data: Bytes) -> Frame {
    Frame {
        kind: KIND_USER_MSG,
        header: with_stream(stream, &[]),
        payload: vec![data],
    }
}

pub fn request_frame(stream: StreamId, header: &RequestHeader, payload: Bytes) -> Frame {
    Frame {
        kind: KIND_REQUEST,
        header: bincode_header(stream, header),
        payload: if payload.is_empty() {
            Vec::new()
        } else {
            vec![payload]
        },
    }
}

pub fn response_frame(stream: StreamId, header: &ResponseHeader) -> Frame {
    Frame {
        kind: KIND_RESPONSE,
        header: bincode_header(stream, header),
        payload: Vec::new(),
    }
}

pub fn peer_facts_frame(info: &PeerFacts) -> Frame {
    Frame {
        kind: KIND_PEER_FACTS,
        header: bincode_header(0, info),
        payload: Vec::new(),
    }
}

fn decode_header<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, WireError> {
    use bincode::Options;
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .allow_trailing_bytes()
        .with_limit(MAX_RUNTIME_HEADER)
        .deserialize(body)
        .map_err(|e| WireError::Header(e.to_string()))
}

pub fn decode(kind: u8, header: &Bytes, payload: Bytes) -> Result<Incoming, WireError> {
    if header.len() < 4 {
        return Err(WireError::Short);
    }
    let stream = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let body = &header[4..];
    match kind {
        // No sender makes a longer one (dcf_send_msg refuses it).
        KIND_USER_MSG if payload.len() > crate::transport::MAX_USER_MESSAGE_BYTES => Err(
            WireError::Header(format!("user message of {} bytes", payload.len())),
        ),
        KIND_USER_MSG => Ok(Incoming::UserMsg(stream, payload)),
        KIND_REQUEST => Ok(Incoming::Request(stream, decode_header(body)?, payload)),
        KIND_RESPONSE => Ok(Incoming::Response(stream, decode_header(body)?)),
        KIND_PEER_FACTS => Ok(Incoming::PeerFacts(decode_header(body)?)),
        k if k < RUNTIME_KIND_BASE => codec::decode(k, body, payload)
            .map(|m| Incoming::Consensus(stream, m))
            .map_err(|e| WireError::Consensus(e.to_string())),
        k => Err(WireError::UnknownKind(k)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_frames_round_trip() {
        let h = RequestHeader {
            id: 7,
            request: Request::Write { key: 99 },
        };
        let f = request_frame(3, &h, Bytes::from_static(b"data"));
        match decode(f.kind, &f.header, f.payload[0].clone()).unwrap() {
            Incoming::Request(3, got, p) => {
                assert_eq!(got, h);
                assert_eq!(&p[..], b"data");
            }
            other => panic!("unexpected {other:?}"),
        }
        let f = user_msg_frame(1, Bytes::from_static(b"hello"));
        assert!(matches!(
            decode(f.kind, &f.header, Bytes::from_static(b"hello")).unwrap(),
            Incoming::UserMsg(1, _)
        ));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(decode(KIND_REQUEST, &Bytes::from_static(b"\x01"), Bytes::new()).is_err());
        assert!(decode(
            KIND_REQUEST,
            &Bytes::from_static(&[1, 0, 0, 0, 0xff, 0xff, 0xff]),
            Bytes::new()
        )
        .is_err());
        assert!(decode(250, &Bytes::from_static(&[1, 0, 0, 0]), Bytes::new()).is_err());
        let too_long = Bytes::from(vec![0u8; crate::transport::MAX_USER_MESSAGE_BYTES + 1]);
        let f = user_msg_frame(1, too_long.clone());
        assert!(decode(f.kind, &f.header, too_long).is_err());
        let mut rng = 12345u64;
        for _ in 0..2000 {
            let len = (rng % 40) as usize;
            let mut h = Vec::new();
            for _ in 0..len {
                rng = rng
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                h.push((rng >> 33) as u8);
            }
            let _ = decode((rng >> 20) as u8, &Bytes::from(h), Bytes::new());
        }
    }
}
