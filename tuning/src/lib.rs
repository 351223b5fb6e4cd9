//! Host checks and tuning for bare-metal deployments (`portunus-tune`). Not written yet.
