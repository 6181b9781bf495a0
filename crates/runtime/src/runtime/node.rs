//! Starting and stopping a node: storage, replicas, transport and threads, in that order,
//! and the reverse on stop.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::channel;
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::Instant;

use parking_lot::Mutex;

use super::mailbox::Mailbox;
use super::net::{Handler, NetEvent, Rpc};
use super::stream::Stream;
use super::{callbacks, ExceptionSlot, Shared};
use crate::config::{self, MemberConfig, Params};
use crate::consensus::{
    ConfRole, LogSource, Member, Membership, RecoveredLog, Replica, ReplicaConfig, RunMode,
};
use crate::error::{DcfError, DcfResult, ErrorCode};
use crate::host::CallbackRegistry;
use crate::storage::dcf::adopt;
use crate::storage::{Storage, StorageOptions};
use crate::transport::{TlsSettings, Transport, TransportConfig};
use crate::types::{Entry, Index, NodeId, StreamId};
use crate::{dcf_info, dcf_warn};

/// Upper bound of a log segment (DATA_FILE_SIZE is honoured below it).
const MAX_SEGMENT_BYTES: u64 = 64 << 20;
/// Durable payloads the replica keeps for sending to followers; older ones come from the
/// storage cache or the disk.
const REPLICA_CACHE_BYTES: usize = 8 << 20;

/// Payloads of recent entries kept by storage per stream: DCF has two STG_POOL_MAX_SIZE
/// pools per stream (cache and read); ours is one cache of half that, since the replica's
/// cache and the storage cache share the payloads they both hold.
fn storage_cache_bytes(p: &Params) -> usize {
    usize::try_from(p.stg_pool_max_size / 2).unwrap_or(usize::MAX)
}

/// The replica reads evicted payloads back through storage (its cache, else the disk).
/// Weak: storage reaches the replicas through its callbacks, and a cycle would keep the
/// DATA_PATH lock after stop.
struct LogReader {
    storage: std::sync::Weak<Storage>,
    stream: StreamId,
}

impl LogSource for LogReader {
    fn read(&self, lo: Index, hi: Index, max_bytes: usize) -> Result<Vec<Entry>, String> {
        let storage = self.storage.upgrade().ok_or("storage is closed")?;
        storage
            .read(self.stream, lo, hi, max_bytes)
            .map_err(|e| e.to_string())
    }
}

/// Everything `dcf_start` needs.
pub struct NodeConfig {
    pub node_id: NodeId,
    /// The parsed cluster JSON (used only when DATA_PATH holds no membership yet).
    pub members: Vec<MemberConfig>,
    pub params: Params,
    pub callbacks: Arc<CallbackRegistry>,
    /// `dcf_set_applied_index` before start, per stream.
    pub applied_seeds: HashMap<StreamId, Index>,
    pub exception: Arc<ExceptionSlot>,
    pub faults: Arc<super::FaultSeam>,
}

/// A running node. Dropping it stops it.
pub struct Node {
    pub(super) shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    net: Mutex<Option<tokio::runtime::Runtime>>,
    stopped: AtomicBool,
    pub(super) stats: Mutex<Option<super::info::StatWindow>>,
}

pub fn member_of(m: &MemberConfig) -> Member {
    Member {
        id: m.node_id,
        role: m.role,
        weight: m.weight,
        group: m.group,
        priority: m.priority,
        ip: m.ip.clone(),
        port: m.port,
    }
}

fn replica_config(id: NodeId, p: &Params) -> ReplicaConfig {
    let mut c = ReplicaConfig::new(id);
    c.election_timeout = p.election_timeout;
    c.heartbeat_interval = p.heartbeat_interval;
    c.run_mode = match p.run_mode {
        config::RunMode::Auto => RunMode::Auto,
        config::RunMode::Manual => RunMode::Manual,
        config::RunMode::Disable => RunMode::Disabled,
    };
    c.auto_priority = p.auto_elc_priority_en;
    c.switch_threshold = p.election_switch_threshold;
    c.majority_groups = p.majority_groups.clone();
    c
}

/// Takes over a data directory the C library left (storage::dcf::adopt), before anything
/// of ours is written there.
fn adopt_dcf_layout(data: &std::path::Path, opts: &StorageOptions) -> DcfResult<()> {
    match adopt::adopt_if_needed(data, opts) {
        Ok(adopt::Outcome::Adopted(streams)) => {
            dcf_info!("{}", adopt::summary(&streams));
            Ok(())
        }
        Ok(adopt::Outcome::OursBeside) => {
            dcf_warn!(
                "{} holds DCF's files beside this library's storage, which no adoption made; \
                 DCF's files are left alone",
                data.display()
            );
            Ok(())
        }
        Ok(adopt::Outcome::Nothing) => Ok(()),
        Err(e) => Err(DcfError::new(
            ErrorCode::Storage,
            format!("cannot adopt DCF's data directory: {e}"),
        )),
    }
}

fn seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    t ^ (u64::from(std::process::id()) << 32)
}

/// A thread body marked as one of this library's threads, so that a `dcf_stop` reached from
/// it refuses to join itself (callback threads are marked by `init_callback_thread`).
fn library_thread(f: impl FnOnce() + Send + 'static) -> Box<dyn FnOnce() + Send> {
    Box::new(move || {
        super::OWN_THREAD.with(|c| c.set(true));
        f()
    })
}

impl Node {
    pub fn start(cfg: NodeConfig) -> DcfResult<Node> {
        let p = &cfg.params;
        if p.data_path.as_os_str().is_empty() {
            return Err(DcfError::new(
                ErrorCode::Parameter,
                "DATA_PATH is not set: call dcf_set_param(\"DATA_PATH\", ...) before dcf_start",
            ));
        }
        let mut by_stream: BTreeMap<StreamId, Vec<Member>> = BTreeMap::new();
        for m in &cfg.members {
            by_stream.entry(m.stream_id).or_default().push(member_of(m));
        }
        for (s, members) in &by_stream {
            if !members.iter().any(|m| m.id == cfg.node_id) {
                return Err(DcfError::new(
                    ErrorCode::ParseConfig,
                    format!(
                        "node {} is not a member of stream {s} in the cluster configuration",
                        cfg.node_id
                    ),
                ));
            }
        }
        if by_stream.is_empty() {
            return Err(DcfError::new(
                ErrorCode::ParseConfig,
                "the cluster configuration lists no stream",
            ));
        }

        // quinn's and rustls' lines; the transport's own go to the log by default.
        crate::logging::forward_log_crate();
        // Storage reports into the streams' mailboxes, which exist before recovery (the
        // streams themselves are built from what recovery finds).
        let mailboxes: Arc<BTreeMap<StreamId, Arc<Mailbox>>> = Arc::new(
            by_stream
                .keys()
                .map(|s| (*s, Arc::new(Mailbox::default())))
                .collect(),
        );
        let boxes = mailboxes.clone();
        let opts = StorageOptions {
            // Recovery reads the open segment and its preallocated spare whole, so segments
            // stay small enough to scan quickly whatever DATA_FILE_SIZE says.
            segment_size: p.data_file_size.min(MAX_SEGMENT_BYTES),
            cache_bytes: storage_cache_bytes(p),
            sync: true,
            faults: cfg.faults.disk.clone(),
        };
        adopt_dcf_layout(&p.data_path, &opts)?;
        let storage = Storage::open(
            &p.data_path,
            opts,
            Box::new(move |s, index, term| {
                if let Some(m) = boxes.get(&s) {
                    m.post_durable(index, term);
                }
            }),
        )?;
        let storage = Arc::new(storage);
        let boxes = mailboxes.clone();
        storage.on_failure(Box::new(move |why| {
            for m in boxes.values() {
                m.post_storage_failure(why);
            }
        }));

        let now = Instant::now();
        let mut streams = BTreeMap::new();
        for (sid, cfg_members) in by_stream {
            let seed_applied = cfg.applied_seeds.get(&sid).copied();
            let rec = storage.open_stream(sid, seed_applied)?;
            let mut membership = match &rec.membership {
                Some(blob) => Membership::from_json(blob).map_err(|e| {
                    DcfError::new(ErrorCode::Storage, format!("the stored membership: {e}"))
                })?,
                None => {
                    let m = Membership {
                        members: cfg_members,
                    };
                    storage.save_membership(sid, &m.to_json())?;
                    m
                }
            };
            // Changes in the log past the saved membership take effect as they are appended.
            if let Some(e) = rec.conf_entries.last() {
                if let Ok(m) = Membership::from_json(&e.data) {
                    membership = m;
                }
            }
            let is_logger =
                membership.member(cfg.node_id).map(|m| m.role) == Some(ConfRole::Logger);
            let base = (rec.first_index.saturating_sub(1), rec.base_term);
            let first = rec.first_index;
            let log = RecoveredLog {
                last_index: rec.last_index,
                terms: rec.terms,
                conf_entries: rec.conf_entries,
                tail: Vec::new(),
            };
            let mut replica = Replica::new(
                replica_config(cfg.node_id, p),
                membership,
                rec.hard_state,
                base,
                log,
                seed() ^ u64::from(sid),
                now,
            )?;
            let source = Arc::new(LogReader {
                storage: Arc::downgrade(&storage),
                stream: sid,
            });
            replica.set_log_source(REPLICA_CACHE_BYTES, source);
            // Without a seed, apply from the start of what the log still holds.
            let applied = seed_applied.unwrap_or(0).max(first.saturating_sub(1));
            let mailbox = mailboxes[&sid].clone();
            let stream = Stream::new(sid, mailbox, replica, applied, is_logger);
            streams.insert(sid, Arc::new(stream));
        }

        let (ev_tx, ev_rx) = channel();
        let (msg_tx, msg_rx) = channel();
        let shared = Arc::new(Shared {
            id: cfg.node_id,
            params: {
                // The password is used once, below; the node keeps no copy.
                let mut p = cfg.params.clone();
                p.ssl_pwd_plaintext = None;
                p
            },
            storage,
            transport: OnceLock::new(),
            streams,
            callbacks: cfg.callbacks.clone(),
            exception: cfg.exception.clone(),
            events: Mutex::new(Some(ev_tx)),
            messages: Mutex::new(Some(msg_tx)),
            rpc: Rpc::default(),
            stats: Arc::default(),
            limits: Default::default(),
            peer_big_endian: Mutex::new(HashMap::new()),
            stop: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            faults: cfg.faults.clone(),
        });
        let node = Node {
            shared: shared.clone(),
            threads: Mutex::new(Vec::new()),
            net: Mutex::new(None),
            stopped: AtomicBool::new(false),
            stats: Mutex::new(None),
        };
        // From here on, a failure stops what was started (Drop).
        let (net_tx, net_rx) = channel();
        node.start_transport(&cfg, net_tx)?;
        node.spawn_threads(ev_rx, msg_rx, net_rx)?;
        dcf_info!(
            "node {} started with {} stream(s)",
            cfg.node_id,
            shared.streams.len()
        );
        Ok(node)
    }

    fn start_transport(
        &self,
        cfg: &NodeConfig,
        net_events: std::sync::mpsc::Sender<NetEvent>,
    ) -> DcfResult<()> {
        let shared = &self.shared;
        let me = shared
            .streams
            .values()
            .find_map(|s| s.replica.lock().membership().member(cfg.node_id).cloned())
            .ok_or_else(|| {
                DcfError::new(ErrorCode::ParseConfig, "own node missing from membership")
            })?;
        let ip: IpAddr = me.ip.parse().map_err(|_| {
            DcfError::new(
                ErrorCode::ParseConfig,
                format!("node {}: bad ip {:?}", me.id, me.ip),
            )
        })?;
        // One network thread on a machine with 2 cores or fewer: a second one mostly wakes
        // up to steal tasks from the first and competes with the storage writer, the apply
        // thread and the application (commit latency p99 halved in `make bench` on 2 cores).
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(if cores <= 2 { 1 } else { 2 })
            .thread_name("dcf-net")
            .on_thread_start(|| super::OWN_THREAD.with(|c| c.set(true)))
            .enable_all()
            .build()
            .map_err(|e| DcfError::new(ErrorCode::Internal, format!("network runtime: {e}")))?;
        let p = &cfg.params;
        let key_password = key_password(p, &cfg.callbacks)?;
        if !p.ssl_cipher.is_empty() {
            crate::dcf_warn!("SSL_CIPHER is ignored: peers always use TLS 1.3 (AES-GCM, ChaCha20)");
        }
        if p.compress_algorithm != crate::config::Compression::None {
            crate::dcf_warn!("COMPRESS_ALGORITHM is ignored: entries are sent uncompressed");
        }
        let opt_path = |p: &std::path::Path| (!p.as_os_str().is_empty()).then(|| p.to_path_buf());
        let tcfg = TransportConfig {
            node_id: cfg.node_id,
            listen: SocketAddr::new(ip, me.port),
            peers: shared.peer_addrs(),
            tls: TlsSettings {
                ca: opt_path(&p.ssl_ca),
                cert: opt_path(&p.ssl_cert),
                key: opt_path(&p.ssl_key),
                crl: opt_path(&p.ssl_crl),
                key_password,
                cert_notify_days: p.ssl_cert_notify_time,
            },
            // The largest entry plus its header must fit one frame.
            max_frame_bytes: usize::try_from(p.max_write_size())
                .unwrap_or(usize::MAX)
                .saturating_add(1 << 20)
                .max(16 << 20),
            cluster_id: 0,
            election_timeout: p.election_timeout,
            heartbeat_interval: p.heartbeat_interval,
        };
        let handler = Arc::new(Handler {
            mailboxes: Arc::new(
                shared
                    .streams
                    .iter()
                    .map(|(id, s)| (*id, s.mailbox.clone()))
                    .collect(),
            ),
            faults: shared.faults.clone(),
            events: net_events,
            stats: shared.stats.clone(),
            limits: shared.limits.clone(),
        });
        let t = Transport::start(tcfg, handler, rt.handle()).map_err(|e| {
            use crate::transport::TransportError as E;
            let code = match e {
                E::TlsFile { .. } | E::Tls(_) | E::KeyPassword(_) => ErrorCode::Tls,
                _ => ErrorCode::PortInUse,
            };
            DcfError::new(
                code,
                format!("starting the transport on {ip}:{}: {e}", me.port),
            )
        })?;
        let _ = shared.transport.set(t);
        *self.net.lock() = Some(rt);
        Ok(())
    }

    fn spawn_threads(
        &self,
        ev_rx: std::sync::mpsc::Receiver<super::callbacks::EventItem>,
        msg_rx: std::sync::mpsc::Receiver<(StreamId, NodeId, bytes::Bytes)>,
        net_rx: std::sync::mpsc::Receiver<NetEvent>,
    ) -> DcfResult<()> {
        let mut threads = self.threads.lock();
        let weak = Arc::downgrade(&self.shared);
        let spawn = |name: String, f: Box<dyn FnOnce() + Send>| {
            let weak = weak.clone();
            let label = name.clone();
            std::thread::Builder::new()
                .name(name)
                .spawn(move || {
                    // A panic stops every stream loudly rather than leaving it to hang.
                    if let Err(p) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
                        let what = panic_text(&p);
                        if let Some(sh) = weak.upgrade() {
                            for st in sh.streams.values() {
                                st.fail(&sh, format!("thread {label} panicked: {what}"));
                            }
                        }
                    }
                })
                .map_err(|e| DcfError::new(ErrorCode::Internal, format!("spawning a thread: {e}")))
        };
        for s in self.shared.streams.values() {
            let (sh, st) = (self.shared.clone(), s.clone());
            threads.push(spawn(
                format!("dcf-drive-{}", s.id),
                library_thread(move || super::driver::run_driver(sh, st)),
            )?);
            let (sh, st) = (self.shared.clone(), s.clone());
            threads.push(spawn(
                format!("dcf-standin-{}", s.id),
                library_thread(move || super::driver::run_stand_in(sh, st)),
            )?);
            let (sh, st) = (self.shared.clone(), s.clone());
            threads.push(spawn(
                format!("dcf-apply-{}", s.id),
                Box::new(move || super::apply::run_apply(sh, st)),
            )?);
        }
        let sh = self.shared.clone();
        threads.push(spawn(
            "dcf-events".into(),
            Box::new(move || callbacks::run_events(sh, ev_rx)),
        )?);
        let sh = self.shared.clone();
        threads.push(spawn(
            "dcf-net-events".into(),
            library_thread(move || super::net::run_net(sh, net_rx)),
        )?);
        let sh = self.shared.clone();
        threads.push(spawn(
            "dcf-probe".into(),
            library_thread(move || super::probe::run_probe(&sh)),
        )?);
        let sh = self.shared.clone();
        threads.push(spawn(
            "dcf-msg".into(),
            Box::new(move || callbacks::run_messages(sh, msg_rx)),
        )?);
        Ok(())
    }

    /// Stops every thread, closes the network and the files. Idempotent.
    pub fn stop(&self) -> DcfResult<()> {
        if super::on_own_thread() {
            return Err(DcfError::new(
                ErrorCode::InvalidArgument,
                "dcf_stop cannot be called from a DCF callback thread (it would wait for itself)",
            ));
        }
        if self.stopped.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let sh = &self.shared;
        sh.closing.store(true, Ordering::Release);
        // Only with the drivers running (a start that failed before spawning them has
        // nothing to hand over, and nobody would carry the hand-over out).
        let running = !self.threads.lock().is_empty();
        if running {
            super::handover::hand_over_all(sh);
        }
        sh.stop.store(true, Ordering::Release);
        *sh.events.lock() = None;
        *sh.messages.lock() = None;
        for s in sh.streams.values() {
            s.mailbox.wake.notify();
            s.apply_wake.notify();
        }
        for t in self.threads.lock().drain(..) {
            let _ = t.join();
        }
        if let Some(t) = sh.transport.get() {
            t.shutdown();
        }
        if let Some(rt) = self.net.lock().take() {
            rt.shutdown_timeout(std::time::Duration::from_secs(2));
        }
        if let Err(e) = sh.storage.shutdown() {
            crate::dcf_error!("closing storage: {e}");
        }
        dcf_info!("node {} stopped", sh.id);
        Ok(())
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if !super::on_own_thread() {
            let _ = self.stop();
        }
    }
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// The private key's password: SSL_PWD_PLAINTEXT, or SSL_PWD_CIPHERTEXT through decrypt_pwd
/// (the transport's rule; the registered callback adapted to it).
fn key_password(p: &Params, cbs: &CallbackRegistry) -> DcfResult<Option<String>> {
    let plain = p
        .ssl_pwd_plaintext
        .as_ref()
        .map(|s| String::from_utf8_lossy(s.expose()).into_owned());
    let decrypt = cbs.snapshot().decrypt_pwd.map(|f| {
        move |cipher: &str| {
            f(cipher.as_bytes())
                .map(|mut b| {
                    let s = String::from_utf8_lossy(&b).into_owned();
                    b.fill(0);
                    std::hint::black_box(&b);
                    s
                })
                .ok_or_else(|| "the callback refused SSL_PWD_CIPHERTEXT".to_string())
        }
    });
    let resolved = crate::transport::resolve_key_password(
        plain.as_deref(),
        Some(p.ssl_pwd_ciphertext.as_str()),
        decrypt.as_ref().map(|f| f as &crate::transport::DecryptPwd),
    )
    .map_err(|e| DcfError::new(ErrorCode::Tls, e.to_string()));
    // The transport wipes the copy it gets once the key is open; this one goes now.
    if let Some(p) = plain {
        crate::transport::wipe(p);
    }
    resolved
}
