//! The Janus plugins (EchoTest, VideoRoom, Streaming, TextRoom, …) as state machines on the
//! control-plane thread. Not written yet; ARCHITECTURE.md describes the design they follow.
