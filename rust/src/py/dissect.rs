//! `kame._core.Dissector`: `kame dissect` over a capture fed by chunks.
//! Python reads the file (inflating gzip) and writes what comes back; the
//! records, the filter, the lines and the verdicts are all done here.

use std::ffi::{c_char, c_int, c_uint, c_void, CStr, CString};
use std::fmt::Write;
use std::fs::File;
use std::io::Write as _;
use std::mem::ManuallyDrop;
use std::os::fd::FromRawFd;

use pyo3::buffer::PyBuffer;
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};

use super::util::int_arg;
use crate::capture::map::Mapped;
use crate::error::Error;
use crate::wire::bpf::{Insn, Program};
use crate::wire::capfile::{self, Reader};
use crate::wire::dissect::{LinkType, Net, Settings, Upper};
use crate::wire::print::{self, Options, Printer, Verdict};

/// Octets of output gathered before a write by `Dissector.write_file`.
const OUT_PIECE: usize = 1 << 20;

/// Tally slots, in `TALLY_KEYS` order.
const TALLY_KEYS: [&str; 5] = ["ok", "cksum bad", "offload", "drop", "not ip"];

/// A capture being dissected: `feed` it the file's octets in chunks (any
/// size) and write out what each call returns; `close` ends it.
#[pyclass(module = "kame._core", name = "Dissector")]
pub struct Dissector {
    reader: Reader,
    buf: Vec<u8>,
    printer: Printer,
    opts: Options,
    json: bool,
    write: bool,
    count: u64,
    filtering: bool,
    /// (link type, program): a few entries, the capture's own first.
    programs: Vec<(u32, Program)>,
    filter_errors: Vec<(u32, String)>,
    frame_no: u64,
    selected: u64,
    t0: Option<i128>,
    tally: [u64; 5],
    error: Option<Error>,
    filter_error: Option<String>,
    unsupported: Option<(u64, u32)>,
    done: bool,
    header_written: bool,
    line: String,
}

/// `{:10.6}` of a time difference in nanoseconds, rounded to microseconds.
fn rel_time(out: &mut String, ns: i128) {
    let neg = ns < 0;
    let us = (ns.unsigned_abs() + 500) / 1000;
    let (s, f) = (us / 1_000_000, us % 1_000_000);
    let digits = if s == 0 { 1 } else { s.ilog10() as usize + 1 };
    let width = digits + 7 + usize::from(neg);
    for _ in width..10 {
        out.push(' ');
    }
    let _ = write!(out, "{}{s}.{f:06}", if neg { "-" } else { "" });
}

fn program_of(v: &Bound<'_, PyAny>) -> PyResult<Program> {
    let raw: Vec<(u16, u8, u8, u32)> = v.extract()?;
    let insns = raw.into_iter().map(|(code, jt, jf, k)| Insn { code, jt, jf, k }).collect();
    Program::new(insns).map_err(|e| PyValueError::new_err(format!("BPF program refused at instruction {}: {}", e.at, e.reason)))
}

#[pymethods]
impl Dissector {
    /// `filters` maps pcap link types to a compiled program (a list of
    /// `(code, jt, jf, k)`) or to the compiler's message when the
    /// expression cannot apply to that link type; None dissects every
    /// packet. `count` stops after that many selected packets (0: all);
    /// `write` returns each selected record as pcap (after a file header)
    /// and no lines (the verdicts are counted all the same).
    #[new]
    #[pyo3(signature = (*, hdrnestlimit = 50, verify_cksum = true, verbose = 0, link = false, quiet = false,
                        json = false, write = false, count = 0, filters = None, max_caplen = capfile::MAX_CAPLEN))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        #[pyo3(from_py_with = int_arg)] hdrnestlimit: u32,
        verify_cksum: bool,
        #[pyo3(from_py_with = int_arg)] verbose: u8,
        link: bool,
        quiet: bool,
        json: bool,
        write: bool,
        #[pyo3(from_py_with = int_arg)] count: u64,
        filters: Option<Bound<'_, PyDict>>,
        #[pyo3(from_py_with = int_arg)] max_caplen: u32,
    ) -> PyResult<Dissector> {
        let mut programs = Vec::new();
        let mut filter_errors = Vec::new();
        let filtering = filters.is_some();
        if let Some(f) = filters {
            for (k, v) in f.iter() {
                let lt: u32 = int_arg(&k)?;
                programs.retain(|(l, _)| *l != lt);
                filter_errors.retain(|(l, _)| *l != lt);
                if let Ok(s) = v.cast::<PyString>() {
                    filter_errors.push((lt, s.to_str()?.to_owned()));
                } else {
                    programs.push((lt, program_of(&v)?));
                }
            }
        }
        Ok(Dissector {
            reader: Reader::new(max_caplen),
            buf: Vec::new(),
            printer: Printer::default(),
            opts: Options { settings: Settings { hdrnestlimit, verify_cksum }, verbose, link, quiet },
            json,
            write,
            count,
            filtering,
            programs,
            filter_errors,
            frame_no: 0,
            selected: 0,
            t0: None,
            tally: [0; 5],
            error: None,
            filter_error: None,
            unsupported: None,
            done: false,
            header_written: false,
            line: String::new(),
        })
    }

    /// Dissect what `data` completes; `eof` when it is the last chunk.
    /// Returns (text to print, octets to write, whether to stop reading).
    /// `data` is any bytes-like object (a `memoryview` of a reused
    /// `bytearray` spares an allocation per chunk).
    fn feed<'py>(&mut self, py: Python<'py>, data: &Bound<'py, PyAny>, eof: bool) -> PyResult<(Bound<'py, PyString>, Bound<'py, PyBytes>, bool)> {
        let mut text = String::new();
        let mut w = Vec::new();
        if !self.done {
            if let Ok(b) = data.cast::<PyBytes>() {
                self.buf.extend_from_slice(b.as_bytes());
            } else {
                let pb = PyBuffer::<u8>::get(data)?;
                let old = self.buf.len();
                self.buf.resize(old + pb.len_bytes(), 0);
                pb.copy_to_slice(py, self.buf.get_mut(old..).unwrap_or(&mut []))?;
            }
            text.reserve(self.buf.len() / 4);
            self.run(&mut text, &mut w, eof);
        }
        Ok((PyString::new(py, &text), PyBytes::new(py, &w), self.done))
    }

    /// Dissect the regular capture file open as descriptor `infd` (all of
    /// it, mapped into memory, whatever the descriptor's position),
    /// writing what is selected to descriptor `outfd` as it goes: the
    /// records are copied from the map as they are, at most 1 MiB at a
    /// time. Neither descriptor is closed here. Only with `write`, and
    /// before anything was fed.
    fn write_file(&mut self, py: Python<'_>, #[pyo3(from_py_with = int_arg)] infd: i32, #[pyo3(from_py_with = int_arg)] outfd: i32) -> PyResult<()> {
        if !self.write {
            return Err(PyValueError::new_err("write_file needs a Dissector made with write=True and not fed"));
        }
        self.mapped(py, infd, outfd)
    }

    /// Dissect the regular capture file open as descriptor `infd` as
    /// `write_file` does, printing the lines (or JSON objects) to
    /// descriptor `outfd` in writes of about 1 MiB: no chunk of the file
    /// is copied, nor the text through Python. Only without `write`, and
    /// before anything was fed.
    fn print_file(&mut self, py: Python<'_>, #[pyo3(from_py_with = int_arg)] infd: i32, #[pyo3(from_py_with = int_arg)] outfd: i32) -> PyResult<()> {
        if self.write {
            return Err(PyValueError::new_err("print_file needs a Dissector made with write=False and not fed"));
        }
        self.mapped(py, infd, outfd)
    }

    /// The verdict counts (only those that occurred), or the error that
    /// ended the capture.
    fn close<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.done = true;
        self.buf = Vec::new();
        if let Some(e) = self.error.take() {
            return Err(e.into());
        }
        if let Some(m) = self.filter_error.take() {
            return Err(PyValueError::new_err(m));
        }
        let d = PyDict::new(py);
        for (k, v) in TALLY_KEYS.iter().zip(self.tally) {
            if v != 0 {
                d.set_item(*k, v)?;
            }
        }
        Ok(d)
    }

    /// (frame number, link type) of a packet whose link type is not read
    /// here, which ended the capture; None otherwise.
    #[getter]
    fn unsupported(&self) -> Option<(u64, u32)> {
        self.unsupported
    }

    /// The link type of the capture (of its first interface), once known.
    #[getter]
    fn linktype(&self) -> Option<u32> {
        self.reader.linktype()
    }

    /// Frames read so far, selected or not.
    #[getter]
    fn frames(&self) -> u64 {
        self.frame_no
    }
}

impl Dissector {
    /// `write_file` and `print_file`: the mapped file through `records`,
    /// what they give written to `outfd` a piece at a time.
    fn mapped(&mut self, py: Python<'_>, infd: i32, outfd: i32) -> PyResult<()> {
        if self.reader.started() || !self.buf.is_empty() {
            return Err(PyValueError::new_err("a Dissector reads a mapped file before anything is fed"));
        }
        if infd < 0 || outfd < 0 {
            return Err(PyValueError::new_err("file descriptors are not negative"));
        }
        py.detach(|| -> PyResult<()> {
            // SAFETY: both are the caller's open descriptors, lent for this
            // call: these Files are never dropped (so never close them).
            let input = ManuallyDrop::new(unsafe { File::from_raw_fd(infd) });
            let mut out = ManuallyDrop::new(unsafe { File::from_raw_fd(outfd) });
            let map = Mapped::file(&input)?;
            let bytes = map.bytes();
            let mut pos = 0usize;
            let mut populated = 0usize;
            let mut w = Vec::with_capacity(if self.write { OUT_PIECE + capfile::MAX_CAPLEN as usize + 65536 } else { 0 });
            let mut text = String::with_capacity(if self.write { 0 } else { OUT_PIECE + 65536 });
            while !self.done {
                populated = map.ahead_by(pos, populated, Mapped::ramp(pos));
                let at = pos;
                self.records(bytes, &mut pos, &mut text, &mut w, true, OUT_PIECE);
                out.write_all(&w)?;
                out.write_all(text.as_bytes())?;
                w.clear();
                text.clear();
                if pos == at && !self.done {
                    self.done = true;
                }
            }
            Ok(())
        })
    }

    fn write_header(&mut self, w: &mut Vec<u8>) {
        if !self.write || self.header_written || !self.reader.started() {
            return;
        }
        // A pcapng is copied block by block, its section header first.
        if self.reader.linktype().is_some() && !self.reader.is_pcap() {
            self.header_written = true;
            return;
        }
        let h = match self.reader.pcap_header {
            Some(h) if self.reader.is_pcap() => h,
            _ => match self.reader.linktype() {
                Some(lt) => capfile::pcap_header(lt, true),
                None => return,
            },
        };
        w.extend_from_slice(&h);
        self.header_written = true;
    }

    fn run(&mut self, text: &mut String, w: &mut Vec<u8>, eof: bool) {
        let mut pos = 0usize;
        let buf = std::mem::take(&mut self.buf);
        self.records(&buf, &mut pos, text, w, eof, usize::MAX);
        let mut buf = buf;
        buf.drain(..pos.min(buf.len()));
        self.reader.consumed(pos);
        self.buf = buf;
    }

    /// The records of `buf` from `*pos`, until the end of what it holds
    /// or `w` or `text` holds `max_out` octets. With `write`, a pcap's selected
    /// records are copied as they are, and so are a pcapng's selected
    /// packet blocks and all its other blocks (section and interface
    /// descriptions...): every packet stays under its own interface.
    fn records(&mut self, buf: &[u8], pos: &mut usize, text: &mut String, w: &mut Vec<u8>, eof: bool, max_out: usize) {
        while w.len() < max_out && text.len() < max_out {
            let before = *pos;
            let rec = match self.reader.next(buf, pos, eof) {
                Ok(Some(r)) => r,
                Ok(None) => {
                    if self.write && !self.reader.is_pcap() {
                        self.write_header(w);
                        w.extend_from_slice(buf.get(before..*pos).unwrap_or(&[]));
                    }
                    break;
                }
                Err(e) => {
                    self.error = Some(e);
                    self.done = true;
                    break;
                }
            };
            self.write_header(w);
            if self.write && !self.reader.is_pcap() {
                let start = pos.saturating_sub(rec.raw.len());
                w.extend_from_slice(buf.get(before..start).unwrap_or(&[]));
            }
            self.frame_no += 1;
            let t0 = *self.t0.get_or_insert(rec.ts_ns);
            if self.filtering {
                // a linear search: a record's link type is almost always
                // the first entry's (moved there when it is not)
                let hit = match self.programs.first() {
                    Some((l, _)) if *l == rec.linktype => Some(0),
                    _ => self.programs.iter().position(|(l, _)| *l == rec.linktype),
                };
                if let Some(i) = hit.filter(|&i| i != 0) {
                    self.programs.swap(0, i);
                }
                match hit.and_then(|_| self.programs.first()).map(|(_, p)| p) {
                    Some(p) => {
                        if p.filter(rec.frame, rec.orig_len) == 0 {
                            continue;
                        }
                    }
                    None => {
                        self.filter_error = Some(
                            self.filter_errors
                                .iter()
                                .find(|(l, _)| *l == rec.linktype)
                                .map(|(_, m)| m.clone())
                                .unwrap_or_else(|| format!("no filter program for link type {}", rec.linktype)),
                        );
                        self.done = true;
                        break;
                    }
                }
            }
            let Some(lt) = LinkType::from_linktype(rec.linktype) else {
                self.unsupported = Some((self.frame_no, rec.linktype));
                self.done = true;
                break;
            };
            if self.write {
                let v = self.printer.verdict(rec.frame, lt, &self.opts);
                self.count_verdict(v);
            } else if self.json {
                self.line.clear();
                let f = self.printer.frame(&mut self.line, rec.frame, rec.orig_len, lt, &self.opts);
                json_line(text, self.frame_no, rec.ts_ns, rec.linktype, rec.frame.len(), rec.orig_len, &f, &self.line);
                self.count_verdict(f.verdict);
            } else {
                let _ = write!(text, "{:4} ", self.frame_no);
                rel_time(text, rec.ts_ns - t0);
                text.push(' ');
                let f = self.printer.frame(text, rec.frame, rec.orig_len, lt, &self.opts);
                text.push('\n');
                self.count_verdict(f.verdict);
            }
            if self.write {
                w.extend_from_slice(rec.raw);
            }
            self.selected += 1;
            if self.count != 0 && self.selected >= self.count {
                self.done = true;
                break;
            }
        }
        self.write_header(w);
    }

    fn count_verdict(&mut self, v: Verdict) {
        match v {
            Verdict::Ok => self.tally[0] += 1,
            Verdict::CksumBad { offload } => {
                self.tally[1] += 1;
                if offload {
                    self.tally[2] += 1;
                }
            }
            Verdict::Drop => self.tally[3] += 1,
            Verdict::NotIp => self.tally[4] += 1,
        }
    }
}

/// One JSON object: the frame's facts and its line.
#[allow(clippy::too_many_arguments)]
fn json_line(out: &mut String, no: u64, ts_ns: i128, linktype: u32, caplen: usize, orig_len: u32, f: &print::Facts, line: &str) {
    let sec = ts_ns.div_euclid(1_000_000_000);
    let ns = ts_ns.rem_euclid(1_000_000_000);
    let _ = write!(out, "{{\"frame\":{no},\"time\":{sec}.{ns:09},\"linktype\":{linktype},\"caplen\":{caplen},\"len\":{orig_len}");
    if let Some(s) = &f.summary {
        let (v, src, dst) = match &s.net {
            Net::V6 { src, dst, .. } => (6, core::net::IpAddr::from(*src), core::net::IpAddr::from(*dst)),
            Net::V4 { src, dst, .. } => (4, core::net::IpAddr::from(*src), core::net::IpAddr::from(*dst)),
        };
        let _ = write!(out, ",\"ip\":{v},\"src\":\"{src}\",\"dst\":\"{dst}\",\"proto\":{}", s.upper_proto);
        match s.upper {
            Upper::Udp { sport, dport } | Upper::Tcp { sport, dport, .. } => {
                let _ = write!(out, ",\"sport\":{sport},\"dport\":{dport}");
            }
            Upper::Icmpv6 { icmp_type, code } | Upper::Icmp { icmp_type, code } => {
                let _ = write!(out, ",\"icmp_type\":{icmp_type},\"icmp_code\":{code}");
            }
            Upper::None => {}
        }
    }
    let verdict = match f.verdict {
        Verdict::Ok => "ok",
        Verdict::CksumBad { .. } => "cksum bad",
        Verdict::Drop => "drop",
        Verdict::NotIp => "not ip",
    };
    let _ = write!(out, ",\"verdict\":\"{verdict}\",\"line\":");
    print::json_str(out, line);
    out.push_str("}\n");
}

/// Run a classic BPF program (`(code, jt, jf, k)` tuples, checked as
/// `bpf_validate` does: ValueError when refused) over `packet`, whose
/// length on the wire was `wirelen` (default: its length); what it
/// returns, 0 rejecting the packet. What `Dissector` runs per record.
#[pyfunction]
#[pyo3(signature = (program, packet, wirelen = None))]
fn bpf_filter(program: &Bound<'_, PyAny>, packet: &[u8], wirelen: Option<Bound<'_, PyAny>>) -> PyResult<u32> {
    let p = program_of(program)?;
    let w = match wirelen {
        Some(w) => int_arg(&w)?,
        None => u32::try_from(packet.len()).unwrap_or(u32::MAX),
    };
    Ok(p.filter(packet, w))
}

/// libpcap's shared objects, newest first (Debian's libpcap0.8 installs
/// libpcap.so.0.8; upstream's soname is libpcap.so.1).
const PCAP_SONAMES: [&CStr; 4] = [c"libpcap.so.1", c"libpcap.so.0.8", c"libpcap.so", c"libpcap.dylib"];

/// `pcap_open_dead`'s snapshot length (libpcap's maximum).
const PCAP_SNAPLEN: c_int = 262_144;

#[repr(C)]
struct BpfInsn {
    code: u16,
    jt: u8,
    jf: u8,
    k: u32,
}

#[repr(C)]
struct BpfProgram {
    bf_len: c_uint,
    bf_insns: *mut BpfInsn,
}

type OpenDead = unsafe extern "C" fn(c_int, c_int) -> *mut c_void;
type Compile = unsafe extern "C" fn(*mut c_void, *mut BpfProgram, *const c_char, c_int, u32) -> c_int;
type GetErr = unsafe extern "C" fn(*mut c_void) -> *mut c_char;
type FreeCode = unsafe extern "C" fn(*mut BpfProgram);
type Close = unsafe extern "C" fn(*mut c_void);

/// The libpcap functions the compiler needs, once loaded.
struct Libpcap {
    open_dead: OpenDead,
    compile: Compile,
    geterr: GetErr,
    freecode: FreeCode,
    close: Close,
}

static LIBPCAP: std::sync::OnceLock<Option<Libpcap>> = std::sync::OnceLock::new();

fn libpcap() -> Option<&'static Libpcap> {
    LIBPCAP
        .get_or_init(|| {
            for name in PCAP_SONAMES {
                // SAFETY: dlopen of a NUL-terminated soname; the handle is
                // kept for the life of the process (never closed), so the
                // symbols taken from it stay valid.
                let h = unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
                if h.is_null() {
                    continue;
                }
                let sym = |n: &CStr| {
                    // SAFETY: a symbol of the open handle, by its NUL-terminated name.
                    let p = unsafe { libc::dlsym(h, n.as_ptr()) };
                    (!p.is_null()).then_some(p)
                };
                let (Some(od), Some(co), Some(ge), Some(fc), Some(cl)) =
                    (sym(c"pcap_open_dead"), sym(c"pcap_compile"), sym(c"pcap_geterr"), sym(c"pcap_freecode"), sym(c"pcap_close"))
                else {
                    continue;
                };
                // SAFETY: each symbol is libpcap's function of that name,
                // whose C signature (pcap/pcap.h) these types spell.
                return Some(unsafe {
                    Libpcap {
                        open_dead: std::mem::transmute::<*mut c_void, OpenDead>(od),
                        compile: std::mem::transmute::<*mut c_void, Compile>(co),
                        geterr: std::mem::transmute::<*mut c_void, GetErr>(ge),
                        freecode: std::mem::transmute::<*mut c_void, FreeCode>(fc),
                        close: std::mem::transmute::<*mut c_void, Close>(cl),
                    }
                });
            }
            None
        })
        .as_ref()
}

/// Compile `expr` with libpcap for captures of pcap link type `linktype`
/// (``pcap_compile`` on a dead handle, optimized, netmask 0: what
/// ``tcpdump -r FILE EXPR`` does), loading libpcap by its soname on first
/// use (no ctypes). Returns the program as `(code, jt, jf, k)` tuples;
/// ValueError with libpcap's message when the expression is not valid
/// there; OSError when no libpcap loads by a soname (the ctypes path of
/// `kame.link.bpf` also asks `ctypes.util.find_library`).
#[pyfunction]
fn pcap_compile(expr: &str, #[pyo3(from_py_with = int_arg)] linktype: u32) -> PyResult<Vec<(u16, u8, u8, u32)>> {
    let c = CString::new(expr).map_err(|_| PyValueError::new_err("a filter expression cannot hold a NUL character"))?;
    let lib = libpcap().ok_or_else(|| PyOSError::new_err("libpcap is not installed (Debian: libpcap0.8): filter expressions need it"))?;
    // libpcap takes a DLT_ value: the file's LINKTYPE_ but for raw IP
    // (LINKTYPE_RAW 101 is DLT_RAW, 12 on Linux).
    let dlt = if linktype == 101 { 12 } else { linktype };
    let dlt = c_int::try_from(dlt).map_err(|_| PyValueError::new_err(format!("libpcap does not know link type {linktype}")))?;
    // The GIL stays held: older libpcaps' compilers are not reentrant.
    {
        // SAFETY: libpcap's API as documented: a dead handle (checked for
        // NULL), compiled into a zeroed program that is freed with
        // pcap_freecode after its bf_len instructions are copied out, the
        // handle closed on every path; the strings are NUL-terminated.
        unsafe {
            let h = (lib.open_dead)(dlt, PCAP_SNAPLEN);
            if h.is_null() {
                return Err(PyValueError::new_err(format!("libpcap does not know link type {linktype}")));
            }
            let mut prog = BpfProgram { bf_len: 0, bf_insns: core::ptr::null_mut() };
            let out = if (lib.compile)(h, &mut prog, c.as_ptr(), 1, 0) != 0 {
                let e = (lib.geterr)(h);
                let msg = if e.is_null() { "invalid filter expression".to_owned() } else { CStr::from_ptr(e).to_string_lossy().into_owned() };
                Err(PyValueError::new_err(msg))
            } else {
                let insns = if prog.bf_insns.is_null() { &[][..] } else { core::slice::from_raw_parts(prog.bf_insns, prog.bf_len as usize) };
                let v = insns.iter().map(|i| (i.code, i.jt, i.jf, i.k)).collect();
                (lib.freecode)(&mut prog);
                Ok(v)
            };
            (lib.close)(h);
            out
        }
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Dissector>()?;
    m.add_function(wrap_pyfunction!(bpf_filter, m)?)?;
    m.add_function(wrap_pyfunction!(pcap_compile, m)?)?;
    Ok(())
}
