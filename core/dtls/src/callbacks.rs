//! OpenSSL hooks the `openssl` crate does not wrap: the DTLS retransmission timer (its
//! callback, query and expiry) and the info callback that reports alerts.
//!
//! Per-connection state for the C callbacks lives in the `SSL`'s ex_data slot, which OpenSSL
//! owns and frees with the `SSL`. The callbacks only run inside OpenSSL calls this crate
//! makes through `&mut DtlsConnection`, so they never race with Rust code reading the state.

use std::sync::OnceLock;
use std::time::Duration;

use foreign_types::ForeignTypeRef;
use libc::{c_int, c_long, c_uint, c_void};
use openssl::ex_data::Index;
use openssl::ssl::{Ssl, SslRef};
use openssl_sys::SSL;

use crate::AlertDescription;

unsafe extern "C" {
    // Both in libssl since OpenSSL 1.1.1 (ssl/d1_lib.c, ssl/ssl_lib.c); openssl-sys 0.9 binds
    // neither. openssl-sys already links libssl.
    fn DTLS_set_timer_cb(s: *mut SSL, cb: Option<unsafe extern "C" fn(*mut SSL, c_uint) -> c_uint>);
    fn SSL_set_info_callback(
        ssl: *mut SSL,
        cb: Option<unsafe extern "C" fn(*const SSL, c_int, c_int)>,
    );
}

/// `DTLS_CTRL_GET_TIMEOUT` from `<openssl/ssl.h>` (`DTLSv1_get_timeout` is a macro over it).
const DTLS_CTRL_GET_TIMEOUT: c_int = 73;
/// `DTLS_CTRL_HANDLE_TIMEOUT` (`DTLSv1_handle_timeout`).
const DTLS_CTRL_HANDLE_TIMEOUT: c_int = 74;
/// `SSL_CB_READ`, `SSL_CB_WRITE`, `SSL_CB_ALERT` from `<openssl/ssl.h>`.
const SSL_CB_READ: c_int = 0x04;
const SSL_CB_WRITE: c_int = 0x08;
const SSL_CB_ALERT: c_int = 0x4000;
/// Alert level "fatal" (RFC 5246 §7.2).
const ALERT_LEVEL_FATAL: u8 = 2;
/// Received alerts kept between two drains; more in one datagram are dropped (a peer could
/// pack dozens of warnings into one datagram).
const MAX_QUEUED_ALERTS: usize = 8;

/// The ex_data slot holding [`CallbackState`].
pub(crate) type StateIndex = Index<Ssl, CallbackState>;

/// One process-wide ex_data slot: the C callbacks have no user pointer of their own, so they
/// find the slot through this static.
static STATE_INDEX: OnceLock<StateIndex> = OnceLock::new();

/// The ex_data slot, created on first use.
pub(crate) fn state_index() -> Result<StateIndex, openssl::error::ErrorStack> {
    if let Some(index) = STATE_INDEX.get() {
        return Ok(*index);
    }
    let fresh = Ssl::new_ex_index::<CallbackState>()?;
    // A racing thread may have won; its slot is used and ours is merely unused.
    Ok(*STATE_INDEX.get_or_init(|| fresh))
}

/// An alert seen by the info callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SeenAlert {
    pub(crate) fatal: bool,
    pub(crate) description: AlertDescription,
}

/// State the C callbacks read and write, one per connection.
#[derive(Debug)]
pub(crate) struct CallbackState {
    initial_timeout_us: c_uint,
    max_timeout_us: c_uint,
    /// Retransmission timer expiries since the connection started (each one retransmits).
    pub(crate) timeouts: u32,
    /// Alerts received from the peer since the last drain.
    pub(crate) received: Vec<SeenAlert>,
    /// The last alert this side sent.
    pub(crate) sent: Option<SeenAlert>,
}

impl CallbackState {
    pub(crate) fn new(initial: Duration, max: Duration) -> Self {
        let us = |d: Duration| {
            c_uint::try_from(d.as_micros())
                .unwrap_or(c_uint::MAX)
                .max(1)
        };
        Self {
            initial_timeout_us: us(initial),
            max_timeout_us: us(max),
            timeouts: 0,
            received: Vec::new(),
            sent: None,
        }
    }
}

/// Installs the timer and info callbacks on `ssl`, whose ex_data slot `index` must already
/// hold a [`CallbackState`].
pub(crate) fn install(ssl: &mut SslRef) {
    // SAFETY: `ssl` is a live SSL; both functions only store the function pointer. The
    // callbacks tolerate a missing ex_data slot.
    unsafe {
        DTLS_set_timer_cb(ssl.as_ptr(), Some(timer_cb));
        SSL_set_info_callback(ssl.as_ptr(), Some(info_cb));
    }
}

/// Runs `f` on the callback state of `ssl`; `None` when the slot is empty.
pub(crate) fn with_state<R>(ssl: &SslRef, f: impl FnOnce(&mut CallbackState) -> R) -> Option<R> {
    let index = STATE_INDEX.get()?;
    // SAFETY: the slot holds a `Box<CallbackState>` put there by `Ssl::set_ex_data` (or is
    // null) and lives as long as the SSL. The only other code touching it is the callbacks,
    // which run inside OpenSSL calls; `f` gets no access to the SSL, so it makes none, and
    // the borrow ends before this returns.
    let state = unsafe { state_from_raw(ssl.as_ptr(), index.as_raw()) }?;
    Some(f(state))
}

/// `DTLSv1_get_timeout`: time left on the retransmission timer, `None` when no timer runs.
/// OpenSSL measures it against its own wall clock (`gettimeofday`); expiry within 15 ms
/// reads as zero.
pub(crate) fn get_timeout(ssl: &SslRef) -> Option<Duration> {
    let mut tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 0,
    };
    // SAFETY: `ssl` is a live SSL and DTLS_CTRL_GET_TIMEOUT writes one `struct timeval`
    // through `parg`, which points at `tv`.
    let running = unsafe {
        openssl_sys::SSL_ctrl(
            ssl.as_ptr(),
            DTLS_CTRL_GET_TIMEOUT,
            0,
            (&raw mut tv).cast::<c_void>(),
        )
    };
    if running <= 0 {
        return None;
    }
    let secs = u64::try_from(tv.tv_sec).unwrap_or(0);
    let micros = u32::try_from(tv.tv_usec).unwrap_or(0).min(999_999);
    Some(Duration::new(secs, micros * 1000))
}

/// `DTLSv1_handle_timeout`: retransmits the current flight if OpenSSL's timer has expired.
/// Returns 1 when it retransmitted, 0 when nothing was due, negative on a fatal error (the
/// error queue says which).
pub(crate) fn handle_timeout(ssl: &SslRef) -> c_long {
    // SAFETY: `ssl` is a live SSL; DTLS_CTRL_HANDLE_TIMEOUT takes no argument.
    unsafe {
        openssl_sys::SSL_ctrl(
            ssl.as_ptr(),
            DTLS_CTRL_HANDLE_TIMEOUT,
            0,
            std::ptr::null_mut(),
        )
    }
}

/// # Safety
/// `ssl` must be a live SSL and `index` the [`STATE_INDEX`] slot, holding a boxed
/// [`CallbackState`] or null; no other reference to that state may be live.
unsafe fn state_from_raw<'a>(ssl: *const SSL, index: c_int) -> Option<&'a mut CallbackState> {
    // SAFETY: per this function's contract.
    let data = unsafe { openssl_sys::SSL_get_ex_data(ssl, index) };
    // SAFETY: non-null slots hold a `Box<CallbackState>` that outlives the SSL call.
    unsafe { data.cast::<CallbackState>().as_mut() }
}

/// `DTLS_timer_cb`: OpenSSL asks for the first timeout of a flight with `previous_us == 0`
/// and for the next one on each expiry. Doubling follows RFC 6347 §4.2.4.1.
unsafe extern "C" fn timer_cb(ssl: *mut SSL, previous_us: c_uint) -> c_uint {
    let Some(index) = STATE_INDEX.get() else {
        return fallback_timeout(previous_us);
    };
    // SAFETY: OpenSSL passes the live SSL it is working on; the slot is ours (see
    // `state_mut`), and no Rust borrow of it is live while OpenSSL runs.
    let Some(state) = (unsafe { state_from_raw(ssl, index.as_raw()) }) else {
        return fallback_timeout(previous_us);
    };
    if previous_us == 0 {
        state.initial_timeout_us
    } else {
        state.timeouts = state.timeouts.saturating_add(1);
        previous_us.saturating_mul(2).min(state.max_timeout_us)
    }
}

/// OpenSSL's own policy: 1 s, doubling up to 60 s.
fn fallback_timeout(previous_us: c_uint) -> c_uint {
    if previous_us == 0 {
        1_000_000
    } else {
        previous_us.saturating_mul(2).min(60_000_000)
    }
}

/// `SSL_set_info_callback`: records alerts. For alerts `value` is `level << 8 | description`.
unsafe extern "C" fn info_cb(ssl: *const SSL, location: c_int, value: c_int) {
    if location & SSL_CB_ALERT == 0 {
        return;
    }
    let Some(index) = STATE_INDEX.get() else {
        return;
    };
    // SAFETY: as in `timer_cb`.
    let Some(state) = (unsafe { state_from_raw(ssl, index.as_raw()) }) else {
        return;
    };
    let [_, _, level, description] = value.to_be_bytes();
    let alert = SeenAlert {
        fatal: level == ALERT_LEVEL_FATAL,
        description: AlertDescription(description),
    };
    if location & SSL_CB_READ != 0 {
        if state.received.len() < MAX_QUEUED_ALERTS {
            state.received.push(alert);
        }
    } else if location & SSL_CB_WRITE != 0 {
        state.sent = Some(alert);
    }
}
