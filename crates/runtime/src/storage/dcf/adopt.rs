//! Adoption: a DATA_PATH that holds DCF's layout and none of ours is converted into our
//! storage on start, before the node talks to anyone.
//!
//! The new storage is built in `DATA_PATH/adopt.tmp` with the library's own storage code,
//! its stream directories are then renamed into DATA_PATH, and the marker file
//! `ADOPTED_FROM_DCF` (holding the summary line) is written last. A start that finds the
//! work directory without the marker was interrupted: it deletes the work directory and
//! any stream directory already moved, and adopts again from scratch. DCF's files are
//! only read. Damage found while reading removes the work directory again, so a refused
//! adoption leaves DATA_PATH as it was.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use rustix::fs::FlockOperation;

use super::log::{DcfEntry, Torn, KIND_CONF};
use super::metadata::{self, DcfMember};
use super::{ctrl, is_dcf_layout, log, stream_dirs};
use crate::consensus::Membership;
use crate::storage::error::{IoContext, StorageError};
use crate::storage::meta::fsync_dir;
use crate::storage::{inspect, Storage, StorageOptions};
use crate::types::{Entry, EntryKind, HardState, Index, StreamId, Term};

pub const MARKER: &str = "ADOPTED_FROM_DCF";
pub const WORK_DIR: &str = "adopt.tmp";
/// Test hook: adoption pauses for good after this many entries (a test then kills it).
pub const STOP_AFTER_ENV: &str = "DCF_TEST_ADOPT_STOP_AFTER";
/// Created in the work directory when the hook pauses.
pub const PAUSED_FILE: &str = "paused";

/// Entries are handed to storage in batches of this many payload bytes, each made durable
/// before the next, so memory stays bounded whatever the log's size.
const BATCH_BYTES: usize = 16 << 20;

/// What was adopted from one stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdoptedStream {
    pub id: StreamId,
    pub entries: u64,
    pub first_index: Index,
    pub last_index: Index,
    /// DCF's numbers (as the interface reports terms).
    pub term: Term,
    pub last_entry_term: Term,
    pub voted_for: u32,
    pub members: usize,
    pub torn: Option<Torn>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// No DCF layout, or an adoption finished before.
    Nothing,
    /// DCF's files sit beside streams of ours that no adoption made (an earlier version
    /// of this library started there); they are left alone.
    OursBeside,
    Adopted(Vec<AdoptedStream>),
}

/// The one line the run log gets.
pub fn summary(streams: &[AdoptedStream]) -> String {
    let parts: Vec<String> = streams
        .iter()
        .map(|s| {
            let torn = s.torn.as_ref().map_or(String::new(), |t| {
                format!(
                    ", torn tail of {} bytes cut at {} offset {}",
                    t.len,
                    t.file.display(),
                    t.offset
                )
            });
            format!(
                "stream {}: {} entries, index {}..={}, term {} (last entry's term {}), voted for {}, {} members{torn}",
                s.id, s.entries, s.first_index, s.last_index, s.term, s.last_entry_term,
                s.voted_for, s.members
            )
        })
        .collect();
    format!("adopted DCF's data directory: {}", parts.join("; "))
}

/// Holds an exclusive flock on the DATA_PATH directory itself, which takes no file, so
/// two starts cannot adopt at once.
struct DirLock(File);

impl DirLock {
    fn take(data: &Path) -> Result<DirLock, StorageError> {
        let f = File::open(data).ctx("open", data)?;
        crate::storage::lock_dir(&f, FlockOperation::NonBlockingLockExclusive, data)?;
        Ok(DirLock(f))
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = rustix::fs::flock(&self.0, FlockOperation::Unlock);
    }
}

/// Adopts `data` when it holds DCF's layout and none of ours (see the module comment).
/// `opts` are the storage options the node will run with.
pub fn adopt_if_needed(data: &Path, opts: &StorageOptions) -> Result<Outcome, StorageError> {
    if !data.is_dir() {
        return Ok(Outcome::Nothing);
    }
    let _lock = DirLock::take(data)?;
    let work = data.join(WORK_DIR);
    if data.join(MARKER).exists() {
        if work.exists() {
            // The marker is written before the work directory goes.
            fs::remove_dir_all(&work).ctx("remove", &work)?;
        }
        return Ok(Outcome::Nothing);
    }
    if work.exists() {
        // Interrupted: everything of ours here came from that attempt.
        for (_, dir) in inspect::streams(data)? {
            fs::remove_dir_all(&dir).ctx("remove", &dir)?;
        }
        fs::remove_dir_all(&work).ctx("remove", &work)?;
        fsync_dir(data)?;
    }
    if !is_dcf_layout(data)? {
        return Ok(Outcome::Nothing);
    }
    if !inspect::streams(data)?.is_empty() {
        return Ok(Outcome::OursBeside);
    }
    fs::create_dir(&work).ctx("create directory", &work)?;
    let built = build(data, &work, opts);
    let streams = match built {
        Ok(s) => s,
        Err(e) => {
            let _ = fs::remove_dir_all(&work);
            return Err(e);
        }
    };
    for s in &streams {
        let name = format!("stream_{:02}", s.id);
        fs::rename(work.join(&name), data.join(&name)).ctx("rename", &work.join(&name))?;
    }
    fsync_dir(data)?;
    let tmp = data.join(format!("{MARKER}.tmp"));
    let mut f = File::create(&tmp).ctx("create", &tmp)?;
    f.write_all(format!("{}\n", summary(&streams)).as_bytes())
        .ctx("write", &tmp)?;
    f.sync_all().ctx("fsync", &tmp)?;
    fs::rename(&tmp, data.join(MARKER)).ctx("rename", &tmp)?;
    fsync_dir(data)?;
    fs::remove_dir_all(&work).ctx("remove", &work)?;
    fsync_dir(data)?;
    Ok(Outcome::Adopted(streams))
}

/// Our CONF entries carry our membership JSON: DCF's (all streams' members) becomes the
/// members of `stream`. A payload that does not parse is kept as it is (it changes
/// nothing, as in DCF).
pub fn conf_payload(dcf: &[u8], stream: StreamId) -> Vec<u8> {
    match metadata::parse(dcf) {
        Ok(m) => {
            let ours = metadata::membership_of(&m, stream);
            if ours.members.is_empty() {
                dcf.to_vec()
            } else {
                ours.to_json()
            }
        }
        Err(_) => dcf.to_vec(),
    }
}

/// DCF's entry as ours: terms one lower, CONF payloads converted.
pub fn to_entry(e: DcfEntry, stream: StreamId) -> Entry {
    let (kind, data) = if e.kind == KIND_CONF {
        (EntryKind::Conf, conf_payload(&e.data, stream))
    } else {
        (EntryKind::Normal, e.data)
    };
    Entry {
        index: e.index,
        term: e.term.saturating_sub(1),
        key: e.key,
        kind,
        data: Bytes::from(data),
    }
}

fn stop_after() -> Option<u64> {
    std::env::var(STOP_AFTER_ENV).ok()?.parse().ok()
}

fn build(
    data: &Path,
    work: &Path,
    opts: &StorageOptions,
) -> Result<Vec<AdoptedStream>, StorageError> {
    let md = metadata::read(data)?;
    let dcf_streams = stream_dirs(data)?;
    let st_opts = StorageOptions {
        cache_bytes: 1 << 20,
        ..opts.clone()
    };
    let st = Storage::open(work, st_opts, Box::new(|_, _, _| {}))?;
    let hook = stop_after();
    let mut done = 0u64;
    let mut out = Vec::new();
    for (id, dir) in dcf_streams {
        let c = ctrl::read(&dir)?;
        let first = log::layout(&dir)?.first_index;
        st.open_stream(id, Some(first - 1))?;
        st.save_hard_state(
            id,
            HardState {
                term: c.term.saturating_sub(1),
                vote: c.voted_for,
            },
        )?;
        let members: Vec<DcfMember> = md.as_ref().map(|m| m.members.clone()).unwrap_or_default();
        let ms: Membership = metadata::membership_of(&members, id);
        if !ms.members.is_empty() {
            st.save_membership(id, &ms.to_json())?;
        }
        let mut batch: Vec<Entry> = Vec::new();
        let mut bytes = 0usize;
        let sum = log::read(&dir, |e| {
            bytes += e.data.len();
            batch.push(to_entry(e, id));
            if bytes >= BATCH_BYTES || hook.is_some_and(|n| done + batch.len() as u64 >= n) {
                done += batch.len() as u64;
                st.append(id, std::mem::take(&mut batch))?;
                st.flush(id)?;
                bytes = 0;
                if hook.is_some_and(|n| done >= n) {
                    pause(work);
                }
            }
            Ok(())
        })?;
        st.append(id, batch)?;
        st.flush(id)?;
        out.push(AdoptedStream {
            id,
            entries: sum.entries,
            first_index: sum.first_index,
            last_index: sum.last_index,
            term: c.term,
            last_entry_term: sum.last_term,
            voted_for: c.voted_for,
            members: ms.members.len(),
            torn: sum.torn,
        });
    }
    st.close()?;
    let lock: PathBuf = work.join("LOCK");
    fs::remove_file(&lock).ctx("remove", &lock)?;
    fsync_dir(work)?;
    Ok(out)
}

/// The test hook's pause: says so in the work directory and waits to be killed.
fn pause(work: &Path) -> ! {
    let _ = File::create(work.join(PAUSED_FILE));
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}

#[cfg(test)]
mod tests {
    use super::super::log::{encode_ctrl, SegmentWriter, KIND_LOG, LOG_CTRL};
    use super::*;
    use crate::consensus::{ConfRole, Member};
    use crate::storage::inspect;

    fn member(stream: StreamId, id: u32, role: ConfRole) -> DcfMember {
        DcfMember {
            stream,
            member: Member {
                id,
                role,
                weight: 1,
                group: 0,
                priority: 0,
                ip: "127.0.0.1".into(),
                port: 1000 + id as u16,
            },
        }
    }

    /// Streams 1 and 2 in DCF's layout, `n` entries each (the first a CONF entry carrying
    /// every stream's members, as DCF's do).
    fn dcf_dir(data: &Path, n: u64) -> Vec<DcfMember> {
        let members = vec![
            member(1, 1, ConfRole::Leader),
            member(1, 2, ConfRole::Follower),
            member(2, 1, ConfRole::Follower),
            member(2, 3, ConfRole::Logger),
        ];
        metadata::write(data, &members, "test").unwrap();
        for s in [1u32, 2] {
            let dir = data.join(format!("stream{s:02}"));
            fs::create_dir_all(&dir).unwrap();
            ctrl::write(&dir, 5 + u64::from(s), s).unwrap();
            fs::write(dir.join(LOG_CTRL), encode_ctrl(1)).unwrap();
            let mut w = SegmentWriter::new(&dir, 4096);
            for i in 1..=n {
                let conf = i == 1;
                w.push(&DcfEntry {
                    index: i,
                    term: 2,
                    key: i * 10 + u64::from(s),
                    kind: if conf { KIND_CONF } else { KIND_LOG },
                    data: if conf {
                        metadata::to_json(&members)
                    } else {
                        vec![s as u8; i as usize]
                    },
                })
                .unwrap();
            }
            w.finish().unwrap();
        }
        members
    }

    fn entries(data: &Path, s: StreamId) -> Vec<Entry> {
        let mut out = Vec::new();
        inspect::dump(data, s, 0, u64::MAX, |e| out.push(e.clone())).unwrap();
        out
    }

    #[test]
    fn every_stream_is_adopted_with_its_own_members() {
        let d = tempfile::tempdir().unwrap();
        let members = dcf_dir(d.path(), 50);
        let r = adopt_if_needed(d.path(), &StorageOptions::default()).unwrap();
        let Outcome::Adopted(s) = r else {
            panic!("{r:?}")
        };
        assert_eq!(s.len(), 2);
        for (i, sid) in [1u32, 2].into_iter().enumerate() {
            assert_eq!(
                (s[i].id, s[i].entries, s[i].term),
                (sid, 50, 5 + u64::from(sid))
            );
            let info = &inspect::info(d.path()).unwrap()[i];
            let meta = info.meta.clone().unwrap();
            assert_eq!(
                meta.hard_state,
                HardState {
                    term: 4 + u64::from(sid),
                    vote: sid
                }
            );
            let ms = metadata::membership_of(&members, sid);
            assert_eq!(meta.membership, Some(ms.to_json()));
            let es = entries(d.path(), sid);
            assert_eq!(es.len(), 50);
            assert_eq!(
                (es[0].kind, &es[0].data[..]),
                (EntryKind::Conf, &ms.to_json()[..])
            );
            assert_eq!(
                (es[9].term, es[9].key, es[9].data.len()),
                (1, 100 + u64::from(sid), 10)
            );
        }
        assert!(!d.path().join(WORK_DIR).exists());
        // Once adopted, never again.
        let again = adopt_if_needed(d.path(), &StorageOptions::default()).unwrap();
        assert_eq!(again, Outcome::Nothing);
    }

    #[test]
    fn an_interrupted_adoption_is_redone_and_ours_beside_is_left_alone() {
        let d = tempfile::tempdir().unwrap();
        dcf_dir(d.path(), 20);
        // What a kill after the first rename leaves: the work directory and one stream.
        fs::create_dir_all(d.path().join(WORK_DIR).join("stream_02")).unwrap();
        fs::create_dir_all(d.path().join("stream_01")).unwrap();
        fs::write(d.path().join("stream_01").join("junk"), b"x").unwrap();
        let r = adopt_if_needed(d.path(), &StorageOptions::default()).unwrap();
        assert!(matches!(r, Outcome::Adopted(_)), "{r:?}");
        assert!(!d.path().join("stream_01").join("junk").exists());
        assert_eq!(entries(d.path(), 1).len(), 20);

        let e = tempfile::tempdir().unwrap();
        dcf_dir(e.path(), 5);
        fs::create_dir_all(e.path().join("stream_01")).unwrap();
        let r = adopt_if_needed(e.path(), &StorageOptions::default()).unwrap();
        assert_eq!(r, Outcome::OursBeside);
        assert!(!e.path().join(MARKER).exists());
    }

    #[test]
    fn damage_removes_the_work_directory() {
        let d = tempfile::tempdir().unwrap();
        dcf_dir(d.path(), 30);
        fs::write(d.path().join("stream02").join(LOG_CTRL), b"short").unwrap();
        let e = adopt_if_needed(d.path(), &StorageOptions::default()).unwrap_err();
        assert!(e.to_string().contains("log_ctrl"), "{e}");
        let mut names: Vec<_> = fs::read_dir(d.path())
            .unwrap()
            .map(|x| x.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["metadata", "stream01", "stream02"]);
    }
}
