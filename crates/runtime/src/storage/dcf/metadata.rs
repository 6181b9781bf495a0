//! DCF's stored membership: `metadata/_dcf_metadata` and its copy `_dcf_metadata.bak`.
//!
//! Each file is a CRC32C (u32, little-endian) of the rest, then the members of every stream
//! as a JSON array of objects (`stream_id`, `node_id`, `ip`, `port`, `role`, `weight`,
//! `group`, `priority`), NUL-terminated. DCF writes the copy first, then the main file, and
//! reads the main file, falling back to the copy when the main one's checksum fails.

use crate::storage::crc::crc32c;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::consensus::{ConfRole, Member, Membership};
use crate::storage::error::{IoContext, StorageError};
use crate::types::StreamId;

pub const DIR: &str = "metadata";
pub const MAIN: &str = "_dcf_metadata";
pub const BACKUP: &str = "_dcf_metadata.bak";
pub const VERSION_FILE: &str = "_dcf_version";

/// One member of one stream, as DCF stores it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DcfMember {
    pub stream: StreamId,
    pub member: Member,
}

/// The stored membership and the file it was read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metadata {
    pub members: Vec<DcfMember>,
    pub file: PathBuf,
}

impl Metadata {
    /// The members of `stream`, in stored order.
    pub fn membership(&self, stream: StreamId) -> Membership {
        membership_of(&self.members, stream)
    }
}

pub fn membership_of(members: &[DcfMember], stream: StreamId) -> Membership {
    Membership {
        members: members
            .iter()
            .filter(|m| m.stream == stream)
            .map(|m| m.member.clone())
            .collect(),
    }
}

pub fn role_name(r: ConfRole) -> &'static str {
    match r {
        ConfRole::Leader => "LEADER",
        ConfRole::Follower => "FOLLOWER",
        ConfRole::Logger => "LOGGER",
        ConfRole::Passive => "PASSIVE",
    }
}

fn role_of(name: &str) -> Option<ConfRole> {
    match name.to_ascii_uppercase().as_str() {
        "LEADER" => Some(ConfRole::Leader),
        "FOLLOWER" => Some(ConfRole::Follower),
        "LOGGER" => Some(ConfRole::Logger),
        "PASSIVE" => Some(ConfRole::Passive),
        _ => None,
    }
}

/// Parses DCF's membership JSON (a trailing NUL is allowed). Missing weight, group and
/// priority take DCF's defaults (1, 0, 0), as DCF's parser does.
pub fn parse(text: &[u8]) -> Result<Vec<DcfMember>, String> {
    let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
    let v: Value = serde_json::from_slice(&text[..end]).map_err(|e| format!("bad JSON: {e}"))?;
    let items = v.as_array().ok_or("not a JSON array")?;
    let mut out = Vec::with_capacity(items.len());
    for (i, it) in items.iter().enumerate() {
        let num = |k: &str| -> Result<Option<i64>, String> {
            match it.get(k) {
                None => Ok(None),
                Some(n) => n
                    .as_f64()
                    .map(|f| Some(f as i64))
                    .ok_or(format!("member {i}: \"{k}\" is not a number")),
            }
        };
        let need = |k: &str| num(k)?.ok_or(format!("member {i}: \"{k}\" missing"));
        let text = |k: &str| -> Result<String, String> {
            it.get(k)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or(format!("member {i}: \"{k}\" missing or not a string"))
        };
        let role_text = text("role")?;
        let role = role_of(&role_text).ok_or(format!("member {i}: unknown role {role_text}"))?;
        out.push(DcfMember {
            stream: need("stream_id")? as StreamId,
            member: Member {
                id: need("node_id")? as u32,
                role,
                ip: text("ip")?,
                port: need("port")? as u16,
                weight: num("weight")?.unwrap_or(1) as u32,
                group: num("group")?.unwrap_or(0).max(0) as u32,
                priority: num("priority")?.unwrap_or(0).max(0) as u64,
            },
        });
    }
    Ok(out)
}

/// DCF's JSON of `members`, NUL-terminated as DCF stores it (and as its CONF entries carry it).
pub fn to_json(members: &[DcfMember]) -> Vec<u8> {
    let items: Vec<Value> = members
        .iter()
        .map(|m| {
            json!({
                "stream_id": m.stream, "node_id": m.member.id, "ip": m.member.ip,
                "port": m.member.port, "role": role_name(m.member.role),
                "weight": m.member.weight, "group": m.member.group,
                "priority": m.member.priority,
            })
        })
        .collect();
    let mut out = serde_json::to_vec(&Value::Array(items)).unwrap_or_default();
    out.push(0);
    out
}

/// One copy: its JSON, or where and why it is unusable.
type Copy = Result<Vec<u8>, (u64, String)>;

/// One file: Ok(None) when it does not exist.
fn read_file(path: &Path) -> Result<Option<Copy>, StorageError> {
    let b = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StorageError::io("read", path, e)),
    };
    if b.len() <= 4 {
        return Ok(Some(Err((
            b.len() as u64,
            "no membership after the checksum".into(),
        ))));
    }
    let crc = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    if crc32c(&b[4..]) != crc {
        return Ok(Some(Err((0, "checksum mismatch".into()))));
    }
    Ok(Some(Ok(b[4..].to_vec())))
}

/// The membership DCF's start would load from `data`; None if neither file exists (DCF
/// then stores the cluster JSON it is started with).
pub fn read(data: &Path) -> Result<Option<Metadata>, StorageError> {
    let dir = data.join(DIR);
    let (main, backup) = (dir.join(MAIN), dir.join(BACKUP));
    let m = read_file(&main)?;
    let b = read_file(&backup)?;
    let (text, file) = match (m, b) {
        (None, None) => return Ok(None),
        (Some(Ok(t)), _) => (t, main),
        (_, Some(Ok(t))) => (t, backup),
        (Some(Err((off, why))), _) => {
            return Err(StorageError::corrupt(
                &main,
                off,
                format!("{why}; the copy {BACKUP} is missing or damaged too"),
            ))
        }
        (None, Some(Err((off, why)))) => {
            return Err(StorageError::corrupt(
                &backup,
                off,
                format!("{why} (and no {MAIN})"),
            ))
        }
    };
    let members = parse(&text).map_err(|why| {
        StorageError::corrupt(&file, 4, format!("stored membership unreadable: {why}"))
    })?;
    Ok(Some(Metadata { members, file }))
}

/// Writes `members` as DCF does (copy first, then the main file) plus its version file.
pub fn write(data: &Path, members: &[DcfMember], version: &str) -> Result<(), StorageError> {
    let dir = data.join(DIR);
    fs::create_dir_all(&dir).ctx("create directory", &dir)?;
    let body = to_json(members);
    let mut bytes = crc32c(&body).to_le_bytes().to_vec();
    bytes.extend_from_slice(&body);
    for (name, b) in [
        (BACKUP, &bytes[..]),
        (MAIN, &bytes[..]),
        (VERSION_FILE, version.as_bytes()),
    ] {
        let path = dir.join(name);
        let mut f = fs::File::create(&path).ctx("create", &path)?;
        f.write_all(b).ctx("write", &path)?;
        f.sync_all().ctx("fsync", &path)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &[u8] = b"[{\"stream_id\":1,\"node_id\":1,\"ip\":\"127.0.0.1\",\"port\":1711,\
        \"role\":\"LEADER\",\"weight\":1,\"group\":0,\"priority\":0},{\"stream_id\":1,\
        \"node_id\":2,\"ip\":\"127.0.0.1\",\"port\":1712,\"role\":\"follower\"}]\0";

    fn put(path: &Path, body: &[u8]) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut b = crc32c(body).to_le_bytes().to_vec();
        b.extend_from_slice(body);
        fs::write(path, b).unwrap();
    }

    #[test]
    fn parses_dcf_json_with_defaults() {
        let m = parse(SAMPLE).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m[1].member.role, ConfRole::Follower);
        assert_eq!((m[1].member.weight, m[1].member.port), (1, 1712));
        assert_eq!(parse(&to_json(&m)).unwrap(), m);
        assert_eq!(membership_of(&m, 1).members.len(), 2);
        assert!(membership_of(&m, 2).members.is_empty());
    }

    #[test]
    fn falls_back_to_the_copy_and_refuses_when_both_are_bad() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(read(d.path()).unwrap(), None);
        let (main, bak) = (
            d.path().join(DIR).join(MAIN),
            d.path().join(DIR).join(BACKUP),
        );
        put(&bak, SAMPLE);
        fs::write(&main, b"\x01\x02\x03\x04garbage").unwrap();
        let m = read(d.path()).unwrap().unwrap();
        assert_eq!((m.members.len(), m.file), (2, bak.clone()));
        fs::write(&bak, b"xx").unwrap();
        let e = read(d.path()).unwrap_err().to_string();
        assert!(e.contains(MAIN) && e.contains("offset 0"), "{e}");
        put(&main, b"[{\"stream_id\":1}]\0");
        let e = read(d.path()).unwrap_err().to_string();
        assert!(e.contains("unreadable") && e.contains("offset 4"), "{e}");
    }

    #[test]
    fn written_files_read_back() {
        let d = tempfile::tempdir().unwrap();
        let m = parse(SAMPLE).unwrap();
        write(d.path(), &m, "DCF Release test").unwrap();
        assert_eq!(read(d.path()).unwrap().unwrap().members, m);
    }
}
