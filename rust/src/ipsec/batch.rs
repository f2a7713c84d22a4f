//! Batches of IPsec packets over the machine's cores.
//!
//! `output_many` / `input_many` give exactly what one call per packet, in
//! order, would give, and leave the SA in the same state; only the
//! cryptography, which depends on nothing but a packet, its sequence number
//! and the keys, runs in parallel:
//!
//! * output: sequence numbers, padding and IVs are assigned in order
//!   (`prepare`), then encryption and ICVs run on the calling thread and
//!   a persistent pool of worker threads (`finish`), then the counters
//!   are added in order;
//! * input: the header walk, SPI and the replay pre-check run against the
//!   window as it stands before the batch (`check`), the ICV checks and
//!   decryption of the packets that passed run in parallel (`crypt`), then,
//!   in order, each packet is checked again against the window as the
//!   packets before it left it and the window moves only for a packet whose
//!   ICV verified (RFC 4303 §3.4.3, RFC 4302 §3.4.3). A duplicate inside one
//!   batch is refused as a replay, exactly as one call after another would
//!   refuse it; a packet whose extended sequence number the earlier packets
//!   changed is verified again under the new one.
//!
//! On more than one thread a batch goes in runs of about `RUN_WORK`
//! (see [`pipelined`]): the calling thread prepares a run in order, every
//! thread takes 16 packets at a time of its cryptography, then the calling
//! thread settles it in order; the caller turns a run's results into
//! objects while the next run's cryptography goes on.
//!
//! Batches into one arena ([`output_arena`], [`input_arena`]) copy each
//! packet into one buffer once and seal or open it there in place; on
//! more than one thread the workers touch only the slots of the run in
//! hand ([`ArenaSa`]), so a batch allocates nothing per packet and, when
//! the arena is a buffer a previous batch used, touches no fresh page.
//!
//! Batches run on the calling thread unless the caller asks for more
//! threads: on a loaded machine (every core busy) the workers are not
//! scheduled in time, and the calling thread, which then does the work
//! alone, spends more per packet than the plain loop (measured in
//! benches/bench_batch.py). Small batches stay on the calling thread
//! whatever is asked: waking a worker costs more than a few dozen packets'
//! cryptography.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError, RwLock};

use crate::error::{Error, ErrorKind, Layer, Result};

/// The outcome of the cryptographic half of input.
pub enum Opened {
    /// refused before the ICV verified (the window does not move)
    Refused(Error),
    /// the ICV verified (the window moves), then decapsulation gave this
    Verified(Result<Vec<u8>>),
}

/// An SA whose output and input split into a sequential and a parallel
/// half.
pub trait BatchSa: Send + Sync {
    type OutJob: Send;
    type InCheck: Send + Sync;

    /// An empty output job (its buffer is filled by `prepare`).
    fn out_job(&self, packet_len: usize) -> Self::OutJob;
    /// Sequential: everything that takes SA state (sequence number, IV).
    fn out_prepare(&mut self, packet: &[u8], job: &mut Self::OutJob) -> Result<()>;
    /// Parallel: the cryptography.
    fn out_finish(&self, job: Self::OutJob) -> Result<Vec<u8>>;
    /// Sequential: the counters of one output.
    fn out_count(&mut self, r: &Result<Vec<u8>>);

    /// The checks before any cryptography against the current state.
    fn in_check(&self, packet: &[u8]) -> Result<Self::InCheck>;
    /// The sequence number a check found (what the cryptography depends on).
    fn in_seq(c: &Self::InCheck) -> u64;
    /// Parallel: ICV, decryption, decapsulation.
    fn in_crypt(&self, packet: &[u8], c: &Self::InCheck) -> Opened;
    /// Sequential: the window update after a verified ICV.
    fn in_commit(&mut self, c: &Self::InCheck, o: Opened) -> Result<Vec<u8>>;
    /// Sequential: the counters of one input.
    fn in_count(&mut self, r: &Result<Vec<u8>>, len: usize);

    /// One whole output (sequence number, cryptography, counters), its
    /// packet appended to `buf`; nothing is appended when it is refused.
    fn out_append(&mut self, packet: &[u8], buf: &mut Vec<u8>) -> Result<()>;
    /// One whole input (checks, ICV, decryption, window, counters), the
    /// packet it gives appended to `buf`; nothing is appended when it is
    /// dropped.
    fn in_append(&mut self, packet: &[u8], buf: &mut Vec<u8>) -> Result<()>;
}

/// Where a packet of a batch is in the batch's buffer, or its error.
pub type Span = Result<(usize, usize)>;

/// Most threads a batch uses.
pub const MAX_THREADS: usize = 8;
/// Octets of work (packet octets plus `PACKET_COST` per packet) below
/// which another thread is not worth starting.
pub const MIN_WORK_PER_THREAD: usize = 64 * 1024;
const PACKET_COST: usize = 256;

/// How many threads a batch of `n` packets of `octets` in all gets.
pub fn threads_for(n: usize, octets: usize) -> usize {
    let work = octets.saturating_add(n.saturating_mul(PACKET_COST));
    let want = (work / MIN_WORK_PER_THREAD).min(n);
    if want < 2 {
        // before asking for the cores: that reads the cgroup files, tens
        // of microseconds, more than a small batch's cryptography
        return 1;
    }
    cores().min(want).max(1)
}

/// The cores this process may use, asked once.
fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |c| c.get()).min(MAX_THREADS))
}

fn internal() -> Error {
    Error::new(Layer::Ipsec, ErrorKind::Config, 0, "batch worker thread failed")
}


/// The batch workers (the cores but one: the calling thread works too):
/// one persistent pool for the process, made on the first batch big
/// enough to want it, so that a batch pays a wake-up, not
/// a thread creation (tens of microseconds each on a loaded machine, which
/// ate the gain of the `std::thread::scope` threads made per run). None if
/// the system refused the threads: batches then stay on the calling thread.
pub(crate) fn pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: std::sync::OnceLock<Option<rayon::ThreadPool>> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(cores().saturating_sub(1).max(1))
            .thread_name(|i| format!("kame-ipsec-{i}"))
            .build()
            .ok()
    })
    .as_ref()
}

/// Packets a thread claims at a time in a run (one atomic increment and
/// one uncontended lock per claim, not per packet).
const CHUNK: usize = 16;
/// Work (packet octets plus `PACKET_COST` per packet) in one run of a
/// threaded batch: the runs are short enough that the results of one run
/// are turned into objects while the next run's cryptography goes on, long
/// enough that the workers' wake-up (one per run) is paid on hundreds of
/// packets.
const RUN_WORK: usize = 128 * 1024;

/// The runs of a threaded batch: consecutive ranges of about `RUN_WORK`.
fn runs(packets: &[&[u8]]) -> Vec<std::ops::Range<usize>> {
    let mut v = Vec::new();
    let (mut start, mut work) = (0, 0usize);
    for (i, p) in packets.iter().enumerate() {
        work = work.saturating_add(p.len() + PACKET_COST);
        if work >= RUN_WORK {
            v.push(start..i + 1);
            (start, work) = (i + 1, 0);
        }
    }
    if start < packets.len() {
        v.push(start..packets.len());
    }
    v
}

/// One claim of a run: the jobs of `CHUNK` packets, then what the
/// cryptography made of them.
struct Claim<J, M> {
    jobs: Vec<J>,
    done: Vec<M>,
}

/// One run of a threaded batch as the threads see it.
struct Run<'p, J, M> {
    /// the run's packets
    here: &'p [&'p [u8]],
    claims: Vec<Mutex<Claim<J, M>>>,
    /// the next claim to take, and how many are done
    next: AtomicUsize,
    finished: AtomicUsize,
}

/// What the board holds: (run number, the run, batch over).
type Post<'p, J, M> = (u64, Option<Arc<Run<'p, J, M>>>, bool);

/// Where the calling thread posts each run for the workers.
struct Board<'p, J, M> {
    post: Mutex<Post<'p, J, M>>,
    wake: Condvar,
}

/// Times a worker with nothing to do yields its core before it sleeps:
/// the calling thread settles one run and prepares the next in a few tens
/// of microseconds, less than a sleeping worker takes to wake.
const SPIN_YIELDS: usize = 32;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Take the claims of `run` one after another until none is left, the
/// cryptography done with the SA read-locked (the calling thread locks it
/// for writing only between runs, when no claim is in hand).
fn take_claims<S, J, M>(run: &Run<'_, J, M>, sa: &RwLock<&mut S>, crypt: &(impl Fn(&S, &[u8], J) -> M + Sync)) {
    loop {
        let c = run.next.fetch_add(1, Ordering::Relaxed);
        let Some(claim) = run.claims.get(c) else { break };
        // a panic loses this claim's packets (they fail when settled),
        // not the batch: the claim still counts as done
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let sa = sa.read().unwrap_or_else(PoisonError::into_inner);
            let shared: &S = &sa;
            let mut g = lock(claim);
            let jobs = std::mem::take(&mut g.jobs);
            let at = c * CHUNK;
            g.done = jobs
                .into_iter()
                .enumerate()
                .map(|(k, j)| crypt(shared, run.here.get(at + k).copied().unwrap_or(&[]), j))
                .collect();
        }));
        run.finished.fetch_add(1, Ordering::Release);
    }
}

/// A pool worker's part of a batch: every run posted until the batch is
/// over.
fn worker<S, J, M>(board: &Board<'_, J, M>, sa: &RwLock<&mut S>, crypt: &(impl Fn(&S, &[u8], J) -> M + Sync)) {
    let mut seen = 0u64;
    let mut idle = 0usize;
    loop {
        let run = {
            let mut post = lock(&board.post);
            loop {
                if post.2 {
                    return;
                }
                if post.0 != seen {
                    seen = post.0;
                    break post.1.clone();
                }
                if idle < SPIN_YIELDS {
                    idle += 1;
                    drop(post);
                    std::thread::yield_now();
                    post = lock(&board.post);
                } else {
                    post = board.wake.wait(post).unwrap_or_else(PoisonError::into_inner);
                }
            }
        };
        idle = 0;
        if let Some(run) = run {
            take_claims(&run, sa, crypt);
        }
    }
}

/// A batch in three stages, on the calling thread and up to `threads - 1`
/// of the pool's workers, run after run:
///
/// * `prepare` (calling thread, in order, the SA mutable): what takes SA
///   state, e.g. the sequence number;
/// * `crypt` (every thread, the SA shared): the cryptography; the threads
///   claim `CHUNK` packets at a time from a shared counter, so a late or
///   descheduled worker leaves its share to the others rather than hold
///   the run up;
/// * `settle` (calling thread, in order, the SA mutable): the window and
///   counters, giving each packet's result (`None`: its cryptography was
///   lost to a panicking worker).
///
/// The workers are woken once for the whole batch (not once per run) and
/// wait between runs yielding their core, then asleep. `emit` gets each
/// run's results in order, on the calling thread, while the next run's
/// cryptography runs on the workers (the caller turns them into objects
/// there: that work overlaps the cryptography instead of following it).
#[allow(clippy::too_many_arguments)]
pub fn pipelined<S: Send + Sync, J: Send, M: Send, R>(
    sa: &mut S,
    packets: &[&[u8]],
    threads: usize,
    mut prepare: impl FnMut(&mut S, &[u8]) -> J,
    crypt: impl Fn(&S, &[u8], J) -> M + Sync,
    mut settle: impl FnMut(&mut S, &[u8], Option<M>) -> R,
    emit: &mut dyn FnMut(Vec<R>),
) {
    let pool = if threads <= 1 || packets.len() < 2 * CHUNK { None } else { pool() };
    let parts = pool.map_or(1, |p| threads.min(p.current_num_threads() + 1));
    let sa = RwLock::new(sa);
    let board: Board<'_, J, M> = Board { post: Mutex::new((0, None, false)), wake: Condvar::new() };
    let (sa, board, crypt) = (&sa, &board, &crypt);
    let mut calling = |emit: &mut dyn FnMut(Vec<R>)| {
        let mut pending: Option<Vec<R>> = None;
        for (k, range) in runs(packets).into_iter().enumerate() {
            let here = packets.get(range).unwrap_or(&[]);
            let claims = {
                let mut sa = sa.write().unwrap_or_else(PoisonError::into_inner);
                here.chunks(CHUNK)
                    .map(|part| Mutex::new(Claim { jobs: part.iter().map(|p| prepare(&mut sa, p)).collect(), done: Vec::new() }))
                    .collect()
            };
            let run = Arc::new(Run { here, claims, next: AtomicUsize::new(0), finished: AtomicUsize::new(0) });
            if parts > 1 {
                let mut post = lock(&board.post);
                *post = (k as u64 + 1, Some(run.clone()), false);
                board.wake.notify_all();
            }
            if let Some(p) = pending.take() {
                emit(p);
            }
            take_claims(&run, sa, crypt);
            // the claims the workers hold: a few packets' cryptography
            while run.finished.load(Ordering::Acquire) < run.claims.len() {
                std::hint::spin_loop();
                std::thread::yield_now();
            }
            let mut sa = sa.write().unwrap_or_else(PoisonError::into_inner);
            let mut results = Vec::with_capacity(here.len());
            let mut ps = here.iter();
            for claim in &run.claims {
                let mut done = std::mem::take(&mut lock(claim).done).into_iter();
                for _ in 0..CHUNK {
                    let Some(p) = ps.next() else { break };
                    results.push(settle(&mut sa, p, done.next()));
                }
            }
            pending = Some(results);
        }
        let mut post = lock(&board.post);
        *post = (post.0, None, true);
        board.wake.notify_all();
        drop(post);
        if let Some(p) = pending.take() {
            emit(p);
        }
    };
    match pool {
        Some(pool) if parts > 1 => pool.in_place_scope(|s| {
            for _ in 1..parts {
                s.spawn(move |_| worker(board, sa, crypt));
            }
            calling(emit);
        }),
        _ => calling(emit),
    }
}

/// `output` over a batch: the same packets, sequence numbers and counters
/// as one call per packet in order.
/// At most `max_threads` threads, and only as many as the batch's work
/// pays for (see [`threads_for`]).
pub fn output_many<S: BatchSa>(sa: &mut S, packets: &[&[u8]], max_threads: usize) -> Vec<Result<Vec<u8>>> {
    output_many_on(sa, packets, threads_up_to(packets, max_threads))
}

/// The threads a batch gets: one when `max_threads` is 1 (the lengths are
/// not even summed), else what its work pays for, at most `max_threads`.
pub fn threads_up_to(packets: &[&[u8]], max_threads: usize) -> usize {
    if max_threads <= 1 {
        return 1;
    }
    let octets = packets.iter().map(|p| p.len()).sum();
    threads_for(packets.len(), octets).min(max_threads)
}

/// [`output_many`] on `threads` threads.
pub fn output_many_on<S: BatchSa>(sa: &mut S, packets: &[&[u8]], threads: usize) -> Vec<Result<Vec<u8>>> {
    if threads <= 1 {
        // one thread: each packet prepared, sealed and counted in one pass
        // (it stays in the cache between the steps)
        return packets
            .iter()
            .map(|p| {
                let mut job = sa.out_job(p.len());
                let r = sa.out_prepare(p, &mut job).and_then(|()| sa.out_finish(job));
                sa.out_count(&r);
                r
            })
            .collect();
    }
    let mut all = Vec::with_capacity(packets.len());
    output_pipelined(sa, packets, threads, &mut |r| all.extend(r));
    all
}

/// [`output_many`] on `threads` threads through [`pipelined`]: `emit`
/// gets the results run after run.
pub fn output_pipelined<S: BatchSa>(sa: &mut S, packets: &[&[u8]], threads: usize, emit: &mut dyn FnMut(Vec<Result<Vec<u8>>>)) {
    pipelined(
        sa,
        packets,
        threads,
        |sa, p| {
            let mut job = sa.out_job(p.len());
            sa.out_prepare(p, &mut job).map(|()| job)
        },
        |sa, _, j| j.and_then(|j| sa.out_finish(j)),
        |sa, _, r| {
            let r = r.unwrap_or_else(|| Err(internal()));
            sa.out_count(&r);
            r
        },
        emit,
    );
}

/// [`output_many`] on the calling thread, every packet written into
/// `buf` (after what it holds) and its place in it pushed to `spans`: one
/// buffer for the batch, no allocation or copy per packet (the work a
/// batch shares that one call per packet cannot: the keys were scheduled
/// when the SA was made).
pub fn output_spans<S: BatchSa>(sa: &mut S, packets: &[&[u8]], buf: &mut Vec<u8>, spans: &mut Vec<Span>) {
    for p in packets {
        let at = buf.len();
        spans.push(sa.out_append(p, buf).map(|()| (at, buf.len())));
    }
}

/// [`input_many`] on the calling thread into one buffer (see
/// [`output_spans`]).
pub fn input_spans<S: BatchSa>(sa: &mut S, packets: &[&[u8]], buf: &mut Vec<u8>, spans: &mut Vec<Span>) {
    for p in packets {
        let at = buf.len();
        spans.push(sa.in_append(p, buf).map(|()| (at, buf.len())));
    }
}

/// `input` over a batch: the same results, window and counters as one
/// call per packet in order.
/// At most `max_threads` threads, as [`output_many`].
pub fn input_many<S: BatchSa>(sa: &mut S, packets: &[&[u8]], max_threads: usize) -> Vec<Result<Vec<u8>>> {
    input_many_on(sa, packets, threads_up_to(packets, max_threads))
}

/// [`input_many`] on `threads` threads.
pub fn input_many_on<S: BatchSa>(sa: &mut S, packets: &[&[u8]], threads: usize) -> Vec<Result<Vec<u8>>> {
    if threads <= 1 {
        // one thread: the plain order, no work wasted on replays
        return packets
            .iter()
            .map(|p| {
                let r = sa.in_check(p).and_then(|c| {
                    let o = sa.in_crypt(p, &c);
                    sa.in_commit(&c, o)
                });
                sa.in_count(&r, p.len());
                r
            })
            .collect();
    }
    let mut all = Vec::with_capacity(packets.len());
    input_pipelined(sa, packets, threads, &mut |r| all.extend(r));
    all
}

/// [`input_many`] on `threads` threads through [`pipelined`]: the checks
/// run against the window as it stands when a run is prepared (a packet
/// refused then is refused later too: the window only moves right and
/// marks more), the ICV checks and decryption of the packets that passed
/// in parallel, then each packet is checked again, in order, against the
/// window as the packets before it left it; one whose extended sequence
/// number changed meanwhile, or that was not checked, is verified again
/// under the new one.
pub fn input_pipelined<S: BatchSa>(sa: &mut S, packets: &[&[u8]], threads: usize, emit: &mut dyn FnMut(Vec<Result<Vec<u8>>>)) {
    pipelined(
        sa,
        packets,
        threads,
        |sa, p| sa.in_check(p).ok(),
        |sa, p, c| c.map(|c| (S::in_seq(&c), sa.in_crypt(p, &c))),
        |sa, p, done| {
            let r = sa.in_check(p).and_then(|c| {
                let o = match done.flatten() {
                    Some((seq, o)) if seq == S::in_seq(&c) => o,
                    _ => sa.in_crypt(p, &c),
                };
                sa.in_commit(&c, o)
            });
            sa.in_count(&r, p.len());
            r
        },
        emit,
    );
}

/// The outcome of the cryptographic half of input done in place on a copy
/// of the packet: where in that copy the packet it gives now lies.
pub enum OpenedAt {
    /// refused before the ICV verified (the window does not move)
    Refused(Error),
    /// the ICV verified (the window moves), then decapsulation gave this
    Verified(Result<(usize, usize)>),
}

/// An SA whose batches write their packets into one buffer (an arena),
/// each packet copied into it once and transformed there in place: the
/// cryptography of each packet touches only its own octets of the arena,
/// so it runs on several threads with no allocation per packet.
pub trait ArenaSa: BatchSa {
    /// What the cryptography of output needs of a packet laid out.
    type Plan: Send;

    /// The most octets output adds to a packet.
    fn out_growth(&self) -> usize;
    /// Sequential: append the packet as output lays it out (sequence
    /// number, IV, padding, plaintext, room for the ICV) to `buf`; the
    /// caller truncates `buf` when it fails.
    fn out_layout(&mut self, packet: &[u8], buf: &mut Vec<u8>) -> Result<Self::Plan>;
    /// Parallel: encryption and ICV in place in the packet `pkt` laid out.
    fn out_seal(&self, pkt: &mut [u8], plan: &Self::Plan) -> Result<()>;
    /// Sequential: the counters of one output (its octets in the arena).
    fn out_counted(&mut self, r: &Span);

    /// Parallel: ICV, decryption, decapsulation in place in `pkt`, a copy
    /// of the packet `in_check` let through; no SA state changes.
    fn in_open(&self, pkt: &mut [u8], c: &Self::InCheck) -> OpenedAt;
    /// Sequential: the window update after a verified ICV.
    fn in_accept(&mut self, c: &Self::InCheck);
    /// Sequential: the counters of one input of `len` octets.
    fn in_counted(&mut self, r: &Span, len: usize);
}

/// Octets an output batch into an arena may take: reserved before the
/// batch, so the arena is not moved while it runs (and, when it is a
/// buffer a previous batch used, no fresh page is touched).
pub fn output_room<S: ArenaSa>(sa: &S, packets: &[&[u8]]) -> usize {
    let grow = sa.out_growth();
    packets.iter().fold(0usize, |a, p| a.saturating_add(p.len()).saturating_add(grow))
}

/// The arena's address, for the threads that seal or open its packets.
///
/// SAFETY (the invariant its users keep): the calling thread stores the
/// address after every append to the arena, in `prepare` or `settle` of
/// [`pipelined`]; the workers use it only in `crypt`, on the octets of
/// the packets of the run in hand, which were appended before the run was
/// posted (the post is under a mutex: it orders the store before the
/// load) and which no other thread touches: the runs' packets are
/// disjoint, and the calling thread appends to the arena again only after
/// every claim of the run is finished ([`pipelined`] waits for them
/// before `settle` and the next `prepare`).
struct ArenaAt(std::sync::atomic::AtomicPtr<u8>);

impl ArenaAt {
    fn new(buf: &mut Vec<u8>) -> ArenaAt {
        ArenaAt(std::sync::atomic::AtomicPtr::new(buf.as_mut_ptr()))
    }
    fn moved(&self, buf: &mut Vec<u8>) {
        self.0.store(buf.as_mut_ptr(), Ordering::Release);
    }
    /// The octets `at..at + len` of the arena.
    ///
    /// # Safety
    /// `at + len` is within the arena's length when it was last stored,
    /// and no other reference to those octets exists until the slice is
    /// dropped (see the type's invariant).
    #[allow(clippy::mut_from_ref)]
    unsafe fn slot(&self, at: usize, len: usize) -> &mut [u8] {
        // SAFETY: the caller's contract above.
        unsafe { std::slice::from_raw_parts_mut(self.0.load(Ordering::Acquire).add(at), len) }
    }
}

/// One whole `output` (sequence number, cryptography, counters), the
/// packet appended to `buf` (nothing left of it when it is refused): what
/// a batch on one thread does per packet, and a single call into a buffer
/// the SA keeps (no allocation).
pub fn output_one<S: ArenaSa>(sa: &mut S, packet: &[u8], buf: &mut Vec<u8>) -> Span {
    let at = buf.len();
    let r = sa.out_layout(packet, buf).and_then(|plan| sa.out_seal(buf.get_mut(at..).unwrap_or(&mut []), &plan));
    let r = match r {
        Ok(()) => Ok((at, buf.len())),
        Err(e) => {
            buf.truncate(at);
            Err(e)
        }
    };
    sa.out_counted(&r);
    r
}

/// One whole `input` (checks, ICV, decryption, window, counters): the
/// packet copied to the end of `buf` and opened there (nothing left of it
/// when it is dropped); its span is where the packet it gives lies.
pub fn input_one<S: ArenaSa>(sa: &mut S, packet: &[u8], buf: &mut Vec<u8>) -> Span {
    let at = buf.len();
    let r = sa.in_check(packet).and_then(|c| {
        buf.extend_from_slice(packet);
        let o = sa.in_open(buf.get_mut(at..).unwrap_or(&mut []), &c);
        match o {
            OpenedAt::Refused(e) => Err(e),
            OpenedAt::Verified(r) => {
                sa.in_accept(&c);
                r.map(|(a, b)| (at + a, at + b))
            }
        }
    });
    if r.is_err() {
        buf.truncate(at);
    }
    sa.in_counted(&r, packet.len());
    r
}

/// `output` over a batch into the arena `buf`: every packet appended
/// to it (after what it holds) and its place pushed to `spans` (its error
/// when refused: nothing of it is left in `buf` then, or, refused by a
/// worker, octets no span points at). The same packets, sequence
/// numbers and counters as one call per packet in order; on `threads` > 1
/// the sealing runs on the pool's workers too (see [`pipelined`]): the
/// calling thread lays the packets out in order (the one copy of each),
/// every thread seals them in place.
pub fn output_arena<S: ArenaSa>(sa: &mut S, packets: &[&[u8]], threads: usize, buf: &mut Vec<u8>, spans: &mut Vec<Span>) {
    buf.reserve(output_room(sa, packets));
    spans.reserve(packets.len());
    if threads <= 1 {
        spans.extend(packets.iter().map(|p| output_one(sa, p, buf)));
        return;
    }
    let arena = ArenaAt::new(buf);
    let arena = &arena;
    pipelined(
        sa,
        packets,
        threads,
        |sa, p| {
            let at = buf.len();
            let r = match sa.out_layout(p, buf) {
                Ok(plan) => Ok((at, buf.len(), plan)),
                Err(e) => {
                    buf.truncate(at);
                    Err(e)
                }
            };
            arena.moved(buf);
            r
        },
        |sa, _, j| {
            let (at, end, plan) = j?;
            // SAFETY: `prepare` appended `at..end` in this run (ArenaAt)
            let pkt = unsafe { arena.slot(at, end - at) };
            sa.out_seal(pkt, &plan).map(|()| (at, end))
        },
        |sa, _, done| {
            let r = done.unwrap_or_else(|| Err(internal()));
            sa.out_counted(&r);
            r
        },
        &mut |r| spans.extend(r),
    );
}

/// `input` over a batch into the arena `buf` (see [`output_arena`]):
/// each packet that passes the checks is copied into the arena once and
/// verified, decrypted and decapsulated there; its span is where the
/// packet it gives lies (the payload is not moved: in transport mode the
/// headers before ESP or AH are moved up to it). The same results, window
/// and counters as one call per packet in order, on `threads` > 1 as
/// [`input_pipelined`] gives them.
pub fn input_arena<S: ArenaSa>(sa: &mut S, packets: &[&[u8]], threads: usize, buf: &mut Vec<u8>, spans: &mut Vec<Span>) {
    buf.reserve(packets.iter().fold(0usize, |a, p| a.saturating_add(p.len())));
    spans.reserve(packets.len());
    /// Copy `p` to `buf[at..]` (appended when `at` is the end) and open it.
    fn open_at<S: ArenaSa>(sa: &S, p: &[u8], c: &S::InCheck, buf: &mut Vec<u8>, at: usize) -> OpenedAt {
        if at == buf.len() {
            buf.extend_from_slice(p);
        } else if let Some(d) = buf.get_mut(at..at + p.len()) {
            d.copy_from_slice(p);
        }
        sa.in_open(buf.get_mut(at..at + p.len()).unwrap_or(&mut []), c)
    }
    /// The window and the result of an opened packet at `at`.
    fn commit<S: ArenaSa>(sa: &mut S, c: &S::InCheck, o: OpenedAt, at: usize) -> Span {
        match o {
            OpenedAt::Refused(e) => Err(e),
            OpenedAt::Verified(r) => {
                sa.in_accept(c);
                r.map(|(a, b)| (at + a, at + b))
            }
        }
    }
    if threads <= 1 {
        spans.extend(packets.iter().map(|p| input_one(sa, p, buf)));
        return;
    }
    let arena = ArenaAt::new(buf);
    let arena = &arena;
    let buf = std::cell::RefCell::new(buf);
    let buf = &buf;
    pipelined(
        sa,
        packets,
        threads,
        |sa, p| {
            // a packet refused against the window as it stands is refused
            // again when settled (the window only moves right)
            let c = sa.in_check(p).ok()?;
            let mut b = buf.borrow_mut();
            let at = b.len();
            b.extend_from_slice(p);
            arena.moved(&mut b);
            Some((at, c))
        },
        |sa, p, j| {
            let (at, c) = j?;
            // SAFETY: `prepare` appended `at..at + p.len()` in this run
            let pkt = unsafe { arena.slot(at, p.len()) };
            Some((at, S::in_seq(&c), sa.in_open(pkt, &c)))
        },
        |sa, p, done| {
            let mut b = buf.borrow_mut();
            let r = sa.in_check(p).and_then(|c| {
                let (at, o) = match done.flatten() {
                    Some((at, seq, o)) if seq == S::in_seq(&c) => (at, o),
                    // opened under another sequence number (the packets
                    // before it moved the window): again from the packet
                    Some((at, _, _)) => (at, open_at(sa, p, &c, &mut b, at)),
                    None => {
                        let at = b.len();
                        (at, open_at(sa, p, &c, &mut b, at))
                    }
                };
                commit(sa, &c, o, at)
            });
            arena.moved(&mut b);
            sa.in_counted(&r, p.len());
            r
        },
        &mut |r| spans.extend(r),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipsec::algo::{AuthSpec, EncAlg};
    use crate::ipsec::{AhConfig, AhSa, EspConfig, EspSa};

    fn udp6(n: usize, tag: u8) -> Vec<u8> {
        let mut p = vec![0x60, 0, 0, 0];
        p.extend_from_slice(&((n + 8) as u16).to_be_bytes());
        p.extend_from_slice(&[17, 64]);
        p.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        p.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        p.extend_from_slice(&[4, 210, 0, 53]);
        p.extend_from_slice(&((n + 8) as u16).to_be_bytes());
        p.extend_from_slice(&[0, 0]);
        p.extend((0..n).map(|i| (i as u8).wrapping_add(tag)));
        p
    }

    fn esp(enc: &str, esn: bool) -> EspSa {
        let alg = EncAlg::parse(enc).unwrap();
        let key: &[u8] = if alg.is_aead() { &[7; 20] } else { &[7; 16] };
        let mut c = EspConfig::new(0x1000, alg, key);
        if !alg.is_aead() {
            c.auth = Some(AuthSpec::parse("hmac-sha256", false).unwrap());
            c.auth_key = vec![9; 32];
        }
        c.esn = esn;
        c.replay_window = 64;
        EspSa::new(c).unwrap()
    }

    fn same(a: &[Result<Vec<u8>>], b: &[Result<Vec<u8>>]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            match (x, y) {
                (Ok(x), Ok(y)) => assert_eq!(x, y),
                (Err(x), Err(y)) => assert_eq!(x, y),
                _ => panic!("{x:?} vs {y:?}"),
            }
        }
    }

    #[test]
    fn esp_batches_equal_one_by_one() {
        for enc in ["aes-gcm-16", "aes-cbc"] {
            for esn in [false, true] {
                let mut tx = esp(enc, esn);
                let start = if esn { 0xffff_ff00 } else { 0 };
                tx.seq = start;
                let packets: Vec<Vec<u8>> = (0..400).map(|i| udp6(100 + i % 700, i as u8)).collect();
                let refs: Vec<&[u8]> = packets.iter().map(|p| p.as_slice()).collect();
                let batch = output_many_on(&mut tx, &refs, 4);
                let after = tx.seq;
                tx.seq = start;
                let single: Vec<_> = refs.iter().map(|p| tx.output(p, None)).collect();
                same(&batch, &single);
                assert_eq!(tx.seq, after);
                // input: reordered, duplicated, corrupted
                let mut wire: Vec<Vec<u8>> = batch.into_iter().map(|r| r.unwrap()).collect();
                for i in (0..wire.len()).step_by(7) {
                    let j = (i + 5).min(wire.len() - 1);
                    wire.swap(i, j);
                }
                let dup = wire[10].clone();
                wire.insert(200, dup);
                let mut bad = wire[50].clone();
                let l = bad.len() - 1;
                bad[l] ^= 1;
                wire.insert(20, bad);
                let refs: Vec<&[u8]> = wire.iter().map(|p| p.as_slice()).collect();
                let (mut a, mut b) = (esp(enc, esn), esp(enc, esn));
                if esn {
                    a.replay.reset(start);
                    b.replay.reset(start);
                }
                let batch = input_many_on(&mut a, &refs, 4);
                let single: Vec<_> = refs.iter().map(|p| b.input(p)).collect();
                same(&batch, &single);
                assert_eq!(a.replay.top(), b.replay.top());
                assert_eq!(a.stats, b.stats);
            }
        }
    }

    /// The results of a batch written into one buffer, as separate packets.
    fn unspan(buf: &[u8], spans: Vec<Span>) -> Vec<Result<Vec<u8>>> {
        spans.into_iter().map(|s| s.map(|(a, b)| buf[a..b].to_vec())).collect()
    }

    #[test]
    fn spans_equal_one_by_one() {
        use crate::ipsec::Mode;
        for enc in ["aes-gcm-16", "aes-cbc"] {
            for tunnel in [false, true] {
                let mk = || {
                    let mut s = esp(enc, false);
                    if tunnel {
                        s.mode = Mode::tunnel(&[0xaa; 16], &[0xbb; 16]).unwrap();
                    }
                    s
                };
                // one SA, its sequence number set back: the CBC IVs come
                // from a random per-SA key
                let mut tx = mk();
                let mut packets: Vec<Vec<u8>> = (0..200).map(|i| udp6(i * 7 % 1500, i as u8)).collect();
                packets.insert(5, vec![0x60, 0, 0]);
                let refs: Vec<&[u8]> = packets.iter().map(|p| p.as_slice()).collect();
                // a buffer that already holds octets: they stay
                let (mut buf, mut spans) = (vec![1, 2, 3], Vec::new());
                output_spans(&mut tx, &refs, &mut buf, &mut spans);
                assert_eq!(&buf[..3], &[1, 2, 3]);
                let batch = unspan(&buf, spans);
                let (seq, sent, octets) = (tx.seq, tx.stats.out_packets, tx.stats.out_bytes);
                tx.seq = 0;
                let single: Vec<_> = refs.iter().map(|p| tx.output(p, None)).collect();
                same(&batch, &single);
                assert_eq!((tx.seq, tx.stats.out_packets, tx.stats.out_bytes), (seq, 2 * sent, 2 * octets));
                assert_eq!(sent, 200);
                let mut wire: Vec<Vec<u8>> = batch.into_iter().filter_map(|r| r.ok()).collect();
                wire.swap(3, 9);
                let dup = wire[7].clone();
                wire.insert(30, dup);
                let mut bad = wire[40].clone();
                let l = bad.len() - 1;
                bad[l] ^= 1;
                wire.insert(41, bad);
                let refs: Vec<&[u8]> = wire.iter().map(|p| p.as_slice()).collect();
                let (mut a, mut b) = (mk(), mk());
                let (mut buf, mut spans) = (Vec::new(), Vec::new());
                input_spans(&mut a, &refs, &mut buf, &mut spans);
                let batch = unspan(&buf, spans);
                let single: Vec<_> = refs.iter().map(|p| b.input(p)).collect();
                same(&batch, &single);
                assert!(batch[30].is_err() && batch[41].is_err());
                assert_eq!(a.replay.top(), b.replay.top());
                assert_eq!(a.stats, b.stats);
            }
        }
        let cfg = AhConfig::new(0x2000, AuthSpec::parse("hmac-sha256", false).unwrap(), &[5; 32]);
        let (mut a, mut b) = (AhSa::new(cfg.clone()).unwrap(), AhSa::new(cfg.clone()).unwrap());
        let packets: Vec<Vec<u8>> = (0..100).map(|i| udp6(i * 13, i as u8)).collect();
        let refs: Vec<&[u8]> = packets.iter().map(|p| p.as_slice()).collect();
        let (mut buf, mut spans) = (Vec::new(), Vec::new());
        output_spans(&mut a, &refs, &mut buf, &mut spans);
        let batch = unspan(&buf, spans);
        let single: Vec<_> = refs.iter().map(|p| b.output(p)).collect();
        same(&batch, &single);
        let mut wire: Vec<Vec<u8>> = batch.into_iter().map(|r| r.unwrap()).collect();
        let mut bad = wire[20].clone();
        let l = bad.len() - 1;
        bad[l] ^= 1;
        wire[20] = bad;
        wire.push(wire[3].clone());
        let refs: Vec<&[u8]> = wire.iter().map(|p| p.as_slice()).collect();
        let (mut a, mut b) = (AhSa::new(cfg.clone()).unwrap(), AhSa::new(cfg).unwrap());
        let (mut buf, mut spans) = (Vec::new(), Vec::new());
        input_spans(&mut a, &refs, &mut buf, &mut spans);
        let batch = unspan(&buf, spans);
        let single: Vec<_> = refs.iter().map(|p| b.input(p)).collect();
        same(&batch, &single);
        assert!(batch[20].is_err() && batch[100].is_err());
        assert_eq!(a.stats, b.stats);
    }

    /// Output and input into an arena, on one thread and on several, give
    /// the packets, errors, sequence numbers, windows and counters of one
    /// call per packet.
    struct Calls<S> {
        output: fn(&mut S, &[u8]) -> Result<Vec<u8>>,
        input: fn(&mut S, &[u8]) -> Result<Vec<u8>>,
        /// the sequence number set back to 0
        rewind: fn(&mut S),
        /// (out_packets, out_bytes, in_packets, in_bytes, replay_drops, icv_failures, other_errors)
        stats: fn(&S) -> [u64; 7],
    }

    fn arena_equals_one_by_one<S: ArenaSa>(mk: &dyn Fn() -> S, c: Calls<S>) {
        let mut packets: Vec<Vec<u8>> = (0..300).map(|i| udp6(i * 11 % 1500, i as u8)).collect();
        packets.insert(5, vec![0x60, 0, 0]);
        let refs: Vec<&[u8]> = packets.iter().map(|p| p.as_slice()).collect();
        for threads in [1, 3] {
            // one SA, its sequence number set back (the CBC IVs come from
            // a random per-SA key)
            let mut tx = mk();
            let single: Vec<_> = refs.iter().map(|p| (c.output)(&mut tx, p)).collect();
            let [op, ob, ..] = (c.stats)(&tx);
            (c.rewind)(&mut tx);
            let (mut buf, mut spans) = (vec![9; 5], Vec::new());
            output_arena(&mut tx, &refs, threads, &mut buf, &mut spans);
            assert_eq!(&buf[..5], &[9; 5]);
            let [op2, ob2, ..] = (c.stats)(&tx);
            assert_eq!((op2, ob2), (2 * op, 2 * ob));
            let batch = unspan(&buf, spans);
            same(&batch, &single);
            assert!(batch[5].is_err());
            let mut wire: Vec<Vec<u8>> = batch.into_iter().filter_map(|r| r.ok()).collect();
            wire.swap(3, 9);
            let dup = wire[7].clone();
            wire.insert(30, dup);
            let mut bad = wire[40].clone();
            let l = bad.len() - 1;
            bad[l] ^= 1;
            wire.insert(41, bad);
            wire.insert(60, vec![0x60, 0, 0, 0, 0, 8, 50, 64]);
            let refs_in: Vec<&[u8]> = wire.iter().map(|p| p.as_slice()).collect();
            let (mut a, mut b) = (mk(), mk());
            let (mut buf, mut spans) = (Vec::new(), Vec::new());
            input_arena(&mut a, &refs_in, threads, &mut buf, &mut spans);
            let got = unspan(&buf, spans);
            let want: Vec<_> = refs_in.iter().map(|p| (c.input)(&mut b, p)).collect();
            same(&got, &want);
            assert!(got[30].is_err() && got[41].is_err() && got[60].is_err());
            assert_eq!((c.stats)(&a), (c.stats)(&b));
            // the packets given back are the packets sent
            let mut sent: Vec<&[u8]> = refs.iter().copied().filter(|p| p.len() > 3).collect();
            sent.swap(3, 9);
            let back: Vec<Vec<u8>> = got.into_iter().filter_map(|r| r.ok()).collect();
            assert_eq!(back.len(), sent.len());
            assert!(back.iter().zip(&sent).all(|(x, y)| x.as_slice() == *y));
        }
    }

    fn stats7(s: &crate::ipsec::SaStats) -> [u64; 7] {
        [s.out_packets, s.out_bytes, s.in_packets, s.in_bytes, s.replay_drops, s.icv_failures, s.other_errors]
    }

    #[test]
    fn arenas_equal_one_by_one() {
        use crate::ipsec::Mode;
        for enc in ["aes-gcm-16", "aes-cbc", "null"] {
            for tunnel in [false, true] {
                let mk = move || {
                    let mut s = esp(enc, false);
                    if tunnel {
                        s.mode = Mode::tunnel(&[0xaa; 16], &[0xbb; 16]).unwrap();
                    }
                    s
                };
                arena_equals_one_by_one(
                    &mk,
                    Calls { output: |s, p| s.output(p, None), input: |s, p| s.input(p), rewind: |s| s.seq = 0, stats: |s| stats7(&s.stats) },
                );
            }
        }
        for tunnel in [false, true] {
            let mk = move || {
                let mut cfg = AhConfig::new(0x2000, AuthSpec::parse("hmac-sha256", false).unwrap(), &[5; 32]);
                if tunnel {
                    cfg.mode = Mode::tunnel(&[0xaa; 16], &[0xbb; 16]).unwrap();
                }
                AhSa::new(cfg).unwrap()
            };
            arena_equals_one_by_one(
                &mk,
                Calls { output: |s, p| s.output(p), input: |s, p| s.input(p), rewind: |s| s.seq = 0, stats: |s| stats7(&s.stats) },
            );
        }
    }

    #[test]
    fn the_arena_is_not_moved_in_a_batch() {
        use crate::ipsec::Mode;
        // the most padding, a tunnel's outer header, a 32-octet ICV
        let mut tx = esp("aes-cbc", false);
        tx.mode = Mode::tunnel(&[0xaa; 16], &[0xbb; 16]).unwrap();
        tx.randpad = 1 << 16;
        let packets: Vec<Vec<u8>> = (0..300).map(|i| udp6(i % 5, i as u8)).collect();
        let refs: Vec<&[u8]> = packets.iter().map(|p| p.as_slice()).collect();
        for threads in [1, 2] {
            let mut buf = Vec::with_capacity(output_room(&tx, &refs));
            let at = buf.as_ptr();
            let mut spans = Vec::new();
            output_arena(&mut tx, &refs, threads, &mut buf, &mut spans);
            assert_eq!(buf.as_ptr(), at);
            assert!(spans.iter().all(|s| s.is_ok()));
        }
    }

    #[test]
    fn work_is_spread_over_threads_in_order() {
        // 100 packets of 1 ms each: the other threads start well before
        // the end
        let packets: Vec<Vec<u8>> = (0..100u8).map(|i| vec![i; 2000]).collect();
        let refs: Vec<&[u8]> = packets.iter().map(|p| p.as_slice()).collect();
        let mut order = 0usize;
        let mut emitted = Vec::new();
        let mut threads = Vec::new();
        pipelined(
            &mut order,
            &refs,
            4,
            |n, p| {
                // prepare runs in order on the calling thread
                *n += 1;
                (*n, p[0])
            },
            |_, p, (n, tag)| {
                std::thread::sleep(std::time::Duration::from_millis(1));
                (n, tag, p[0], std::thread::current().id())
            },
            |_, _, m| {
                let (n, tag, first, id) = m.ok_or_else(internal)?;
                threads.push(id);
                Ok(vec![n as u8, tag, first])
            },
            &mut |r| emitted.push(r),
        );
        // runs of RUN_WORK, in order, every packet once
        assert!(emitted.len() > 1);
        let all: Vec<Vec<u8>> = emitted.into_iter().flatten().map(|r: Result<Vec<u8>>| r.unwrap()).collect();
        assert_eq!(all.len(), 100);
        assert!(all.iter().enumerate().all(|(i, v)| v == &vec![i as u8 + 1, i as u8, i as u8]));
        let ids: std::collections::HashSet<_> = threads.iter().collect();
        // the calling thread and at least one worker (which ones take how
        // much depends on the scheduler)
        assert!(ids.len() >= 2 || std::thread::available_parallelism().map_or(1, |c| c.get()) == 1);
        assert_eq!(threads_for(3, 1500), 1);
        assert!(threads_for(10_000, 5_000_000) <= MAX_THREADS);
    }

    #[test]
    fn ah_batches_equal_one_by_one() {
        let cfg = AhConfig::new(0x2000, AuthSpec::parse("hmac-sha256", false).unwrap(), &[5; 32]);
        let mut tx = AhSa::new(cfg.clone()).unwrap();
        let packets: Vec<Vec<u8>> = (0..300).map(|i| udp6(500, i as u8)).collect();
        let mut refs: Vec<&[u8]> = packets.iter().map(|p| p.as_slice()).collect();
        refs.insert(3, &[0x60, 0]);
        let batch = output_many_on(&mut tx, &refs, 3);
        tx.seq = 0;
        let single: Vec<_> = refs.iter().map(|p| tx.output(p)).collect();
        same(&batch, &single);
        let mut wire: Vec<Vec<u8>> = batch.into_iter().filter_map(|r| r.ok()).collect();
        wire.reverse();
        let d = wire[0].clone();
        wire.push(d);
        let refs: Vec<&[u8]> = wire.iter().map(|p| p.as_slice()).collect();
        let (mut a, mut b) = (AhSa::new(cfg.clone()).unwrap(), AhSa::new(cfg).unwrap());
        let batch = input_many_on(&mut a, &refs, 3);
        let single: Vec<_> = refs.iter().map(|p| b.input(p)).collect();
        same(&batch, &single);
        assert_eq!(a.replay.top(), b.replay.top());
        assert_eq!(a.stats, b.stats);
    }
}
