//! TCP byte paths (RFC 9293): what `tcp_input`/`tcp_output` do per octet.
//!
//! - [`seg`]: a segment parsed in one pass with its options pulled out
//!   (MSS, Window Scale, SACK-permitted, SACK, Timestamps), and a segment
//!   (or a whole IPv6 packet) built and checksummed in one pass;
//! - [`reass`]: the out-of-order queue (`tcp_reass`), bounded in octets and
//!   blocks, which also yields the SACK blocks to report (RFC 2018 §4);
//! - [`sockbuf`]: the send and receive buffers (`so_snd`, `so_rcv`).
//!
//! Sequence numbers here are 64-bit "absolute" numbers: the state machine
//! (Python) unwraps each 32-bit wire number against its own state before it
//! calls in, so no comparison here needs modular arithmetic.

pub mod reass;
pub mod seg;
pub mod sockbuf;
pub mod syncache;
pub mod syncache_ops;

pub use reass::Reass;
pub use seg::{Segment, SegmentOpts};
pub use sockbuf::{RecvBuf, SendBuf};
