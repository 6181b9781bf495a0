//! The seam tests use to make a node's disk fail and to cut its links to peers
//! (DESIGN.md "Failures"). Held by the `Dcf` instance, so it outlives a restart.

use std::collections::HashSet;
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
}

impl FaultSeam {
    /// Drops every frame to and from `peer` until `heal`.
    pub fn cut(&self, peer: NodeId) {
        self.cut.lock().insert(peer);
    }

    pub fn heal(&self, peer: NodeId) {
        self.cut.lock().remove(&peer);
    }

    pub fn heal_all(&self) {
        self.cut.lock().clear();
        self.disk.clear();
    }

    pub(crate) fn is_cut(&self, peer: NodeId) -> bool {
        // Uncontended in production: nothing ever holds it but this check.
        self.cut.lock().contains(&peer)
    }
}
