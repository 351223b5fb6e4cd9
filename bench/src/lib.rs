//! The bundled load generator (`portunus-bench`). Not written yet.
