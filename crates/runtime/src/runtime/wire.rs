//! What the runtime puts in transport frames: every frame's header starts with the stream id
//! (4 bytes, little endian). Consensus messages use the consensus codec's kinds; the runtime's
//! own requests (user messages, forwarded writes, commit-index and membership requests) use
//! kinds from `RUNTIME_KIND_BASE` up, with headers in the project's one encoding.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::consensus::{codec, Message};
use crate::encoding;
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

fn encoded_header<T: Serialize>(stream: StreamId, value: &T) -> Bytes {
    with_stream(stream, &encoding::encode(value))
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
        header: encoded_header(stream, header),
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
        header: encoded_header(stream, header),
        payload: Vec::new(),
    }
}

pub fn peer_facts_frame(info: &PeerFacts) -> Frame {
    Frame {
        kind: KIND_PEER_FACTS,
        header: encoded_header(0, info),
        payload: Vec::new(),
    }
}

fn decode_header<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, WireError> {
    encoding::decode(body, MAX_RUNTIME_HEADER).map_err(|e| WireError::Header(e.to_string()))
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

/// The runtime headers' fixed bytes, and properties past the kind check.
#[cfg(test)]
mod golden {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// The runtime's headers as every released node sends them (stream id, then bincode 1:
    /// fixed-width little-endian integers, enum variants as u32, strings with a u64 length).
    #[test]
    fn request_and_response_headers_have_fixed_bytes() {
        let cases: Vec<(Frame, &str)> = vec![
            (
                request_frame(
                    3,
                    &RequestHeader {
                        id: 7,
                        request: Request::Write { key: 99 },
                    },
                    Bytes::new(),
                ),
                "030000000700000000000000000000006300000000000000",
            ),
            (
                request_frame(
                    3,
                    &RequestHeader {
                        id: 8,
                        request: Request::CommitIndex { consensus: true },
                    },
                    Bytes::new(),
                ),
                "0300000008000000000000000100000001",
            ),
            (
                request_frame(
                    3,
                    &RequestHeader {
                        id: 9,
                        request: Request::ChangeMember { json: "{}".into() },
                    },
                    Bytes::new(),
                ),
                "0300000009000000000000000200000002000000000000007b7d",
            ),
            (
                response_frame(
                    2,
                    &ResponseHeader {
                        id: 7,
                        response: Response::Written(Some(5)),
                    },
                ),
                "02000000070000000000000000000000010500000000000000",
            ),
            (
                response_frame(
                    2,
                    &ResponseHeader {
                        id: 8,
                        response: Response::CommitIndex(None),
                    },
                ),
                "0200000008000000000000000100000000",
            ),
            (
                response_frame(
                    2,
                    &ResponseHeader {
                        id: 9,
                        response: Response::Changed(Some(1)),
                    },
                ),
                "02000000090000000000000002000000010100000000000000",
            ),
        ];
        for (frame, want) in cases {
            assert_eq!(hex(&frame.header), want);
            decode(frame.kind, &frame.header, Bytes::new()).unwrap();
        }
    }

    fn request() -> impl proptest::strategy::Strategy<Value = RequestHeader> {
        use proptest::prelude::*;
        (
            any::<u64>(),
            prop_oneof![
                any::<u64>().prop_map(|key| Request::Write { key }),
                any::<bool>().prop_map(|consensus| Request::CommitIndex { consensus }),
                "[ -~]{0,40}".prop_map(|json| Request::ChangeMember { json }),
            ],
        )
            .prop_map(|(id, request)| RequestHeader { id, request })
    }

    fn response() -> impl proptest::strategy::Strategy<Value = ResponseHeader> {
        use proptest::prelude::*;
        let index = proptest::option::of(any::<u64>());
        (
            any::<u64>(),
            prop_oneof![
                index.clone().prop_map(Response::Written),
                index.clone().prop_map(Response::CommitIndex),
                index.prop_map(Response::Changed),
            ],
        )
            .prop_map(|(id, response)| ResponseHeader { id, response })
    }

    /// Whatever a runtime header decodes to re-encodes to the same bytes: nothing is ignored.
    fn accepted_is_canonical(
        kind: u8,
        header: &Bytes,
    ) -> Result<(), proptest::test_runner::TestCaseError> {
        let again = match decode(kind, header, Bytes::new()) {
            Ok(Incoming::Request(s, h, _)) => request_frame(s, &h, Bytes::new()).header,
            Ok(Incoming::Response(s, h)) => response_frame(s, &h).header,
            _ => return Ok(()),
        };
        proptest::prop_assert_eq!(&again, header);
        Ok(())
    }

    proptest::proptest! {
        #[test]
        fn requests_and_responses_round_trip(stream: u32, req in request(), resp in response()) {
            let f = request_frame(stream, &req, Bytes::new());
            let got = decode(f.kind, &f.header, Bytes::new()).unwrap();
            proptest::prop_assert!(matches!(got, Incoming::Request(s, h, _) if s == stream && h == req));
            let f = response_frame(stream, &resp);
            let got = decode(f.kind, &f.header, Bytes::new()).unwrap();
            proptest::prop_assert!(matches!(got, Incoming::Response(s, h) if s == stream && h == resp));
        }

        /// Valid headers with a few bytes changed or cut short, under their own kind or the
        /// other runtime kinds (past the kind check, into the header's decoding).
        #[test]
        fn mutated_headers_past_the_kind_check(req in request(), resp in response(), as_request: bool,
                                               kind in KIND_USER_MSG..=KIND_PEER_FACTS,
                                               edits in proptest::collection::vec((proptest::prelude::any::<usize>(), proptest::prelude::any::<u8>()), 0..4),
                                               cut in proptest::option::of(proptest::prelude::any::<usize>())) {
            let f = if as_request { request_frame(1, &req, Bytes::new()) } else { response_frame(1, &resp) };
            let mut h = f.header.to_vec();
            for (at, byte) in edits {
                let n = h.len();
                h[at % n] = byte;
            }
            if let Some(c) = cut {
                let n = h.len();
                h.truncate(c % (n + 1));
            }
            let h = Bytes::from(h);
            accepted_is_canonical(f.kind, &h)?;
            accepted_is_canonical(kind, &h)?;
        }
    }
}
