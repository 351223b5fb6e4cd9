//! Protecting one packet for many receivers (the SFU forwarding hot path).

use crate::{SrtpContext, SrtpError};

/// Protects one plaintext RTP packet for many receivers, each under its own context.
///
/// For receiver `i` (in slice order) this does exactly three things, none of which allocates
/// or runs a key schedule:
/// 1. copies `plain` into the receiver's buffer `receivers[i].1` (one `memcpy`);
/// 2. calls `rewrite(i, packet)` on the copy, where `packet` is the plaintext RTP packet
///    (`plain.len()` bytes), so the caller can set that receiver's SSRC, sequence number,
///    timestamp or payload-descriptor fields; it must leave a valid RTP header of the same
///    length;
/// 3. protects the copy in place with `receivers[i].0` ([`SrtpContext::protect_rtp`]),
///    using that context's precomputed keys and per-SSRC state.
///
/// The outcome for receiver `i` goes to `results[i]`: the SRTP length, or why that receiver
/// was skipped; one receiver's failure does not stop the others. Each buffer needs
/// `plain.len() + ctx.rtp_overhead()` bytes.
///
/// Decrypt the incoming packet once with [`SrtpContext::unprotect_rtp`] and pass the
/// plaintext here; the costs per receiver are then one copy plus one protect.
///
/// # Errors
/// [`SrtpError::BufferTooSmall`] (with `needed` = the number of receivers), before doing any
/// work, when `results` is shorter than `receivers`.
pub fn protect_rtp_fanout<F>(
    plain: &[u8],
    receivers: &mut [(&mut SrtpContext, &mut [u8])],
    mut rewrite: F,
    results: &mut [Result<usize, SrtpError>],
) -> Result<(), SrtpError>
where
    F: FnMut(usize, &mut [u8]),
{
    if results.len() < receivers.len() {
        return Err(SrtpError::BufferTooSmall {
            needed: receivers.len(),
        });
    }
    for (i, ((ctx, out), result)) in receivers.iter_mut().zip(results.iter_mut()).enumerate() {
        *result = match out.get_mut(..plain.len()) {
            Some(dst) => {
                dst.copy_from_slice(plain);
                rewrite(i, dst);
                ctx.protect_rtp(out, plain.len())
            }
            None => Err(SrtpError::BufferTooSmall {
                needed: plain.len() + ctx.rtp_overhead(),
            }),
        };
    }
    Ok(())
}
