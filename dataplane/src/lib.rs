//! The shard-per-core dataplane: UDP I/O, routing, forwarding and RTCP for every
//! PeerConnection. Not written yet; ARCHITECTURE.md describes the design it will follow.
