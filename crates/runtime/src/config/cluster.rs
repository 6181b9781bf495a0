//! Parsers of the cluster JSON of `dcf_start` (SPEC B3, Part C §3.1) and of the change
//! document of `dcf_change_member` (§3.2). Keys are case-insensitive, as with DCF's cJSON.
//!
//! Stricter than DCF, on purpose: ids of 0, ports of 0, invalid IP literals, fractional or
//! negative numbers, numbers given as strings, and one node id with two addresses are errors.
//! Unknown keys are ignored (CM's configs carry extra keys). Element indexes are 0-based.

use std::collections::HashMap;
use std::net::IpAddr;

use serde_json::{Map, Value};
use thiserror::Error;

use crate::consensus::ConfRole;
use crate::types::{NodeId, StreamId};

/// One node's membership in one stream, from the `dcf_start` cluster JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberConfig {
    pub stream_id: StreamId,
    pub node_id: NodeId,
    pub ip: String,
    pub port: u16,
    pub role: ConfRole,
    pub weight: u32,
    pub group: u32,
    pub priority: u64,
}

/// The change of `dcf_change_member`: the optional fields present are the ones to change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberChange {
    pub stream_id: StreamId,
    pub node_id: NodeId,
    pub group: Option<u32>,
    pub priority: Option<u64>,
    /// Only FOLLOWER or PASSIVE.
    pub role: Option<ConfRole>,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ClusterError {
    #[error("malformed JSON at line {line} column {column}: {msg}")]
    Json {
        line: usize,
        column: usize,
        msg: String,
    },
    #[error("expected a JSON array of member objects, got {got}")]
    NotArray { got: String },
    #[error("the array is empty")]
    Empty,
    #[error("expected exactly one element, got {count}")]
    NotOne { count: usize },
    #[error("element {index}: expected an object, got {got}")]
    NotObject { index: usize, got: String },
    #[error("element {index}: missing key \"{key}\"")]
    Missing { index: usize, key: &'static str },
    #[error("element {index}: key \"{key}\": expected {expected}, got {got}")]
    BadValue {
        index: usize,
        key: &'static str,
        expected: &'static str,
        got: String,
    },
    #[error("element {index}: key \"{key}\" is given more than once (keys are case-insensitive)")]
    DuplicateKey { index: usize, key: &'static str },
    #[error(
        "element {index}: stream {stream_id} node {node_id} is already defined by element {first}"
    )]
    DuplicateMember {
        index: usize,
        first: usize,
        stream_id: StreamId,
        node_id: NodeId,
    },
    #[error(
        "element {index}: node {node_id} is at {addr}, but element {first} puts it at {first_addr}"
    )]
    AddressConflict {
        index: usize,
        first: usize,
        node_id: NodeId,
        addr: String,
        first_addr: String,
    },
    #[error(
        "element {index}: node {node_id} uses {addr}, which element {first} gives to node {other}"
    )]
    SharedAddress {
        index: usize,
        first: usize,
        node_id: NodeId,
        other: NodeId,
        addr: String,
    },
}

/// Parses the `dcf_start` cluster JSON: an array of member objects.
pub fn parse_cluster(json: &str) -> Result<Vec<MemberConfig>, ClusterError> {
    let items = parse_array(json)?;
    if items.is_empty() {
        return Err(ClusterError::Empty);
    }
    let mut members: Vec<MemberConfig> = Vec::with_capacity(items.len());
    let mut seen: HashMap<(StreamId, NodeId), usize> = HashMap::new();
    let mut node_addr: HashMap<NodeId, (usize, IpAddr, u16)> = HashMap::new();
    let mut addr_node: HashMap<(IpAddr, u16), (usize, NodeId)> = HashMap::new();
    for (index, item) in items.iter().enumerate() {
        let obj = Element::new(index, item)?;
        let stream_id = obj.required_num("stream_id", 1, 63, "a number 1..63")? as StreamId;
        let node_id = obj.required_num("node_id", 1, 255, "a number 1..255")? as NodeId;
        let ip_text = obj.required_str("ip", "a string holding an IPv4 or IPv6 address")?;
        let ip: IpAddr = ip_text.parse().map_err(|_| ClusterError::BadValue {
            index,
            key: "ip",
            expected: "an IPv4 or IPv6 address",
            got: describe(obj.get("ip").unwrap_or(&Value::Null)),
        })?;
        let port = obj.required_num("port", 1, 65535, "a number 1..65535")? as u16;
        let role = obj.role("role", "LEADER, FOLLOWER, LOGGER or PASSIVE", true)?;
        let Some(role) = role else {
            return Err(ClusterError::Missing { index, key: "role" });
        };
        let weight = obj
            .optional_num("weight", 0, 255, "a number 0..255")?
            .unwrap_or(1) as u32;
        let group = obj
            .optional_num("group", 0, u64::from(u32::MAX), "a number 0..4294967295")?
            .unwrap_or(0) as u32;
        let priority = obj
            .optional_num("priority", 0, u64::MAX, "a non-negative integer")?
            .unwrap_or(0);

        if let Some(&first) = seen.get(&(stream_id, node_id)) {
            return Err(ClusterError::DuplicateMember {
                index,
                first,
                stream_id,
                node_id,
            });
        }
        seen.insert((stream_id, node_id), index);
        // Nodes are global (one address per id), so every stream must agree.
        match node_addr.get(&node_id) {
            Some(&(first, fip, fport)) if (fip, fport) != (ip, port) => {
                return Err(ClusterError::AddressConflict {
                    index,
                    first,
                    node_id,
                    addr: show_addr(ip, port),
                    first_addr: show_addr(fip, fport),
                })
            }
            Some(_) => {}
            None => {
                if let Some(&(first, other)) = addr_node.get(&(ip, port)) {
                    return Err(ClusterError::SharedAddress {
                        index,
                        first,
                        node_id,
                        other,
                        addr: show_addr(ip, port),
                    });
                }
                node_addr.insert(node_id, (index, ip, port));
                addr_node.insert((ip, port), (index, node_id));
            }
        }
        members.push(MemberConfig {
            stream_id,
            node_id,
            ip: ip_text.to_string(),
            port,
            role,
            weight,
            group,
            priority,
        });
    }
    Ok(members)
}

/// Parses the `dcf_change_member` document: a one-element array.
pub fn parse_change_member(json: &str) -> Result<MemberChange, ClusterError> {
    let items = parse_array(json)?;
    match items.len() {
        0 => return Err(ClusterError::Empty),
        1 => {}
        count => return Err(ClusterError::NotOne { count }),
    }
    let obj = Element::new(0, &items[0])?;
    let stream_id = obj.required_num("stream_id", 1, 63, "a number 1..63")? as StreamId;
    let node_id = obj.required_num("node_id", 1, 255, "a number 1..255")? as NodeId;
    let group = obj
        .optional_num("group", 0, u64::from(u32::MAX), "a number 0..4294967295")?
        .map(|g| g as u32);
    let priority = obj.optional_num("priority", 0, u64::MAX, "a non-negative integer")?;
    let role = obj.role("role", "FOLLOWER or PASSIVE", false)?;
    Ok(MemberChange {
        stream_id,
        node_id,
        group,
        priority,
        role,
    })
}

fn parse_array(json: &str) -> Result<Vec<Value>, ClusterError> {
    let value: Value = serde_json::from_str(json).map_err(|e| ClusterError::Json {
        line: e.line(),
        column: e.column(),
        msg: e.to_string(),
    })?;
    match value {
        Value::Array(items) => Ok(items),
        other => Err(ClusterError::NotArray {
            got: describe(&other),
        }),
    }
}

fn show_addr(ip: IpAddr, port: u16) -> String {
    std::net::SocketAddr::new(ip, port).to_string()
}

/// A short rendering of a JSON value for error messages.
fn describe(v: &Value) -> String {
    const MAX: usize = 40;
    let text = v.to_string();
    if text.len() <= MAX {
        return text;
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

/// One array element, with case-insensitive key lookup.
struct Element<'a> {
    index: usize,
    map: &'a Map<String, Value>,
}

impl<'a> Element<'a> {
    fn new(index: usize, v: &'a Value) -> Result<Element<'a>, ClusterError> {
        match v {
            Value::Object(map) => Ok(Element { index, map }),
            other => Err(ClusterError::NotObject {
                index,
                got: describe(other),
            }),
        }
    }

    fn lookup(&self, key: &'static str) -> Result<Option<&'a Value>, ClusterError> {
        let mut found = self
            .map
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v);
        let first = found.next();
        if found.next().is_some() {
            return Err(ClusterError::DuplicateKey {
                index: self.index,
                key,
            });
        }
        Ok(first)
    }

    fn get(&self, key: &'static str) -> Option<&'a Value> {
        self.lookup(key).ok().flatten()
    }

    fn bad(&self, key: &'static str, expected: &'static str, v: &Value) -> ClusterError {
        ClusterError::BadValue {
            index: self.index,
            key,
            expected,
            got: describe(v),
        }
    }

    fn optional_num(
        &self,
        key: &'static str,
        min: u64,
        max: u64,
        expected: &'static str,
    ) -> Result<Option<u64>, ClusterError> {
        let Some(v) = self.lookup(key)? else {
            return Ok(None);
        };
        match v.as_u64() {
            Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(self.bad(key, expected, v)),
        }
    }

    fn required_num(
        &self,
        key: &'static str,
        min: u64,
        max: u64,
        expected: &'static str,
    ) -> Result<u64, ClusterError> {
        self.optional_num(key, min, max, expected)?
            .ok_or(ClusterError::Missing {
                index: self.index,
                key,
            })
    }

    fn required_str(
        &self,
        key: &'static str,
        expected: &'static str,
    ) -> Result<&'a str, ClusterError> {
        match self.lookup(key)? {
            None => Err(ClusterError::Missing {
                index: self.index,
                key,
            }),
            Some(Value::String(s)) => Ok(s),
            Some(v) => Err(self.bad(key, expected, v)),
        }
    }

    /// `all_roles` = any configured role; otherwise only FOLLOWER or PASSIVE (change_member).
    fn role(
        &self,
        key: &'static str,
        expected: &'static str,
        all_roles: bool,
    ) -> Result<Option<ConfRole>, ClusterError> {
        let Some(v) = self.lookup(key)? else {
            return Ok(None);
        };
        let role = v.as_str().and_then(crate::host::conf_role_named);
        match role {
            Some(r) if all_roles || matches!(r, ConfRole::Follower | ConfRole::Passive) => {
                Ok(Some(r))
            }
            _ => Err(self.bad(key, expected, v)),
        }
    }
}
