//! Candidate and pair priorities (RFC 8445 §5.1.2, §6.1.2.3).

/// Candidate types with their recommended type preferences (RFC 8445 §5.1.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CandidateType {
    /// A local interface address (type preference 126).
    Host,
    /// Learnt from a check (type preference 110); the PRIORITY a check carries uses it.
    PeerReflexive,
    /// Learnt from a STUN server (type preference 100).
    ServerReflexive,
    /// A TURN relay address (type preference 0).
    Relayed,
}

impl CandidateType {
    /// The RFC 8445 §5.1.2.2 recommended type preference.
    pub const fn type_preference(self) -> u32 {
        match self {
            Self::Host => 126,
            Self::PeerReflexive => 110,
            Self::ServerReflexive => 100,
            Self::Relayed => 0,
        }
    }
}

/// A candidate priority: 2^24·type-pref + 2^8·local-pref + (256 − component)
/// (RFC 8445 §5.1.2.1). `component` is 1 for the BUNDLEd RTP/RTCP-mux component.
pub const fn candidate_priority(typ: CandidateType, local_preference: u16, component: u8) -> u32 {
    (typ.type_preference() << 24) | ((local_preference as u32) << 8) | (256 - component as u32)
}

/// A pair priority: 2^32·min(G,D) + 2·max(G,D) + (G>D ? 1 : 0), where G is the controlling
/// agent's candidate priority and D the controlled agent's (RFC 8445 §6.1.2.3).
pub const fn pair_priority(controlling: u32, controlled: u32) -> u64 {
    let (g, d) = (controlling as u64, controlled as u64);
    let (min, max) = if g < d { (g, d) } else { (d, g) };
    (min << 32) + 2 * max + if g > d { 1 } else { 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_priority_matches_rfc_formula() {
        assert_eq!(
            candidate_priority(CandidateType::Host, 65535, 1),
            2_130_706_431
        );
        assert_eq!(
            candidate_priority(CandidateType::PeerReflexive, 65535, 1),
            1_862_270_975
        );
    }

    #[test]
    fn pair_priority_orders_by_minimum_then_maximum_then_role() {
        assert!(pair_priority(10, 20) > pair_priority(5, 100));
        assert_eq!(pair_priority(10, 20), (10 << 32) + 40);
        assert_eq!(pair_priority(20, 10), (10 << 32) + 41);
    }
}
