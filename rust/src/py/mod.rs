//! PyO3 bindings: the extension module `kame._core`. One file per area;
//! each has a `register` that adds its functions and classes. Errors cross
//! the boundary only through `errors.rs`.

use pyo3::prelude::*;

mod cksum;
mod capture; // a capture as Arrow columns (issue 12)
mod dissect;
mod dns; // the resolver's DNS messages (issue 11)
mod errors;
mod hdr6;
mod ike; // IKE (issue 10)
mod ikev1; // IKEv1 messages (issue 10)
mod inet; // IPv4 and ARP (issue 9)
mod ipcomp;
mod ipsec;
mod link;
mod mh; // the Mobility Header (RFC 6275)
mod nd6;
mod reass;
mod tcp; // TCP byte paths (issue 9)
mod srh;
mod upper;
mod util;
mod wire;
mod xlat; // the header translator (issue 13)

#[pymodule]
#[pyo3(name = "_core")]
fn kame_core_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    wire::register(m)?;
    dissect::register(m)?;
    capture::register(m)?;
    link::register(m)?;
    hdr6::register(m)?;
    srh::register(m)?;
    upper::register(m)?;
    cksum::register(m)?;
    reass::register(m)?;
    ipsec::register(m)?;
    ipcomp::register(m)?;
    nd6::register(m)?;
    tcp::register(m)?;
    inet::register(m)?;
    dns::register(m)?;
    ike::register(m)?;
    ikev1::register(m)?;
    xlat::register(m)?;
    mh::register(m)?;
    Ok(())
}
