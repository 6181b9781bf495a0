//! Quorums with DCF's weights, majority groups and minority work mode.

use std::collections::BTreeMap;

use super::types::{Member, Membership, WorkMode};
use crate::types::{Index, NodeId};

/// Weight needed: voter_num/2+1 in NORMAL mode, vote_num in MINORITY mode.
pub(crate) fn quorum(m: &Membership, mode: WorkMode) -> u64 {
    match mode {
        WorkMode::Normal => m.voter_weight() / 2 + 1,
        WorkMode::Minority { vote_num } => u64::from(vote_num).max(1),
    }
}

/// In MINORITY mode every voter counts 1.
pub(crate) fn weight(member: &Member, mode: WorkMode) -> u64 {
    match mode {
        WorkMode::Normal => u64::from(member.weight),
        WorkMode::Minority { .. } => 1,
    }
}

/// Outcome of an election: `Some(true)` won, `Some(false)` can no longer win, `None` pending.
pub(crate) fn tally(
    m: &Membership,
    mode: WorkMode,
    votes: &BTreeMap<NodeId, bool>,
) -> Option<bool> {
    let q = quorum(m, mode);
    let (mut granted, mut rejected, mut total) = (0u64, 0u64, 0u64);
    for v in m.voters() {
        let w = weight(v, mode);
        total += w;
        match votes.get(&v.id) {
            Some(true) => granted += w,
            Some(false) => rejected += w,
            None => {}
        }
    }
    if granted >= q {
        Some(true)
    } else if total.saturating_sub(rejected) < q {
        Some(false)
    } else {
        None
    }
}

/// Whether the voters for which `active` holds reach the quorum.
pub(crate) fn has_quorum(m: &Membership, mode: WorkMode, active: impl Fn(NodeId) -> bool) -> bool {
    let sum: u64 = m
        .voters()
        .filter(|v| active(v.id))
        .map(|v| weight(v, mode))
        .sum();
    sum >= quorum(m, mode)
}

/// The highest index held by a quorum of voters (`match_of` gives None for voters that do
/// not count), such that every group of `groups` that has a voter holds it too.
pub(crate) fn committed(
    m: &Membership,
    mode: WorkMode,
    groups: &[u32],
    match_of: impl Fn(NodeId) -> Option<Index>,
) -> Index {
    let mut acks: Vec<(Index, u64, u32)> = m
        .voters()
        .filter_map(|v| match_of(v.id).map(|i| (i, weight(v, mode), v.group)))
        .collect();
    acks.sort_unstable_by_key(|a| std::cmp::Reverse(a.0));
    let required: Vec<u32> = groups
        .iter()
        .copied()
        .filter(|g| m.voters().any(|v| v.group == *g))
        .collect();
    let q = quorum(m, mode);
    let mut sum = 0u64;
    let mut seen: Vec<u32> = Vec::with_capacity(required.len());
    for (index, w, group) in acks {
        sum += w;
        if required.contains(&group) && !seen.contains(&group) {
            seen.push(group);
        }
        if sum >= q && seen.len() == required.len() {
            return index;
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consensus::types::ConfRole;

    fn ms(spec: &[(NodeId, ConfRole, u32, u32)]) -> Membership {
        Membership {
            members: spec
                .iter()
                .map(|&(id, role, weight, group)| Member {
                    weight,
                    group,
                    ..Member::new(id, role)
                })
                .collect(),
        }
    }

    #[test]
    fn weights_count_in_the_quorum() {
        use ConfRole::*;
        let m = ms(&[
            (1, Follower, 3, 0),
            (2, Follower, 1, 0),
            (3, Follower, 1, 0),
            (4, Passive, 9, 0),
        ]);
        assert_eq!(quorum(&m, WorkMode::Normal), 3);
        // Node 1 alone (weight 3) commits; 2 and 3 together (weight 2) do not.
        assert_eq!(
            committed(&m, WorkMode::Normal, &[], |id| Some(if id == 1 {
                7
            } else {
                3
            })),
            7
        );
        assert_eq!(
            committed(&m, WorkMode::Normal, &[], |id| Some(if id == 1 {
                2
            } else {
                5
            })),
            2
        );
        let votes: BTreeMap<NodeId, bool> = [(2, true), (3, true)].into();
        assert_eq!(tally(&m, WorkMode::Normal, &votes), None);
        let votes: BTreeMap<NodeId, bool> = [(1, false), (2, true)].into();
        assert_eq!(tally(&m, WorkMode::Normal, &votes), Some(false));
    }

    #[test]
    fn majority_groups_must_hold_the_commit() {
        use ConfRole::*;
        let m = ms(&[
            (1, Follower, 1, 1),
            (2, Follower, 1, 1),
            (3, Follower, 1, 2),
        ]);
        let at = |id: NodeId| Some([0, 9, 8, 4][id as usize]);
        assert_eq!(committed(&m, WorkMode::Normal, &[], at), 8);
        assert_eq!(committed(&m, WorkMode::Normal, &[2], at), 4);
        // A listed group without voters does not block.
        assert_eq!(committed(&m, WorkMode::Normal, &[7], at), 8);
    }

    #[test]
    fn minority_mode_counts_vote_num_nodes() {
        use ConfRole::*;
        let m = ms(&[(1, Follower, 5, 0), (2, Follower, 1, 0), (3, Logger, 1, 0)]);
        let mode = WorkMode::Minority { vote_num: 1 };
        assert_eq!(quorum(&m, mode), 1);
        assert_eq!(committed(&m, mode, &[], |id| (id == 2).then_some(6)), 6);
        let votes: BTreeMap<NodeId, bool> = [(2, true)].into();
        assert_eq!(tally(&m, mode, &votes), Some(true));
    }
}
