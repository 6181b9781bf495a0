//! The seam tests use to make a node's disk fail and to cut its links to peers
//! (DESIGN.md "Failures"). Held by the `Dcf` instance, so it outlives a restart.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::storage::Faults as DiskFaults;
use crate::types::NodeId;

#[derive(Default)]
pub struct FaultSeam {
    /// Errors and delays of this node's disk operations.
    pub disk: Arc<DiskFaults>,
    /// Peers this node neither sends to nor hears from.
    cut: Mutex<HashSet<NodeId>>,
    /// Some link is cut: every frame checks this flag, not the lock.
    any_cut: AtomicBool,
    /// `dcf_stop` skips the leader's hand-over, as a crashed process would.
    pub stop_as_crash: AtomicBool,
}

impl FaultSeam {
    /// Drops every frame to and from `peer` until `heal`.
    pub fn cut(&self, peer: NodeId) {
        self.update(|c| {
            c.insert(peer);
        });
    }

    pub fn heal(&self, peer: NodeId) {
        self.update(|c| {
            c.remove(&peer);
        });
    }

    pub fn heal_all(&self) {
        self.update(HashSet::clear);
        self.disk.clear();
    }

    fn update(&self, f: impl FnOnce(&mut HashSet<NodeId>)) {
        let mut c = self.cut.lock();
        f(&mut c);
        self.any_cut.store(!c.is_empty(), Ordering::Release);
    }

    pub(crate) fn is_cut(&self, peer: NodeId) -> bool {
        self.any_cut.load(Ordering::Acquire) && self.cut.lock().contains(&peer)
    }
}
