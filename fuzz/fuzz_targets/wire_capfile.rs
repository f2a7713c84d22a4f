#![no_main]
//! The pcap/pcapng reader of `kame dissect` on any bytes, fed in chunks of
//! any size: never panics, never reads past a record, and yields the same
//! records (or the same error) whatever the chunking: byte at a time, a
//! size from the input, or the whole file at once.
use kame_core::wire::capfile::Reader;
use libfuzzer_sys::fuzz_target;

type Recs = Vec<(i128, Vec<u8>, u32, u32)>;

fn read(data: &[u8], chunk: usize) -> (Recs, Option<kame_core::error::Error>) {
    let mut r = Reader::new(4096);
    let mut buf = Vec::new();
    let mut out = Vec::new();
    let mut fed = 0;
    loop {
        let eof = fed >= data.len();
        let mut pos = 0;
        loop {
            match r.next(&buf, &mut pos, eof) {
                Ok(Some(rec)) => {
                    assert!(rec.frame.len() <= 4096);
                    out.push((rec.ts_ns, rec.frame.to_vec(), rec.orig_len, rec.linktype));
                }
                Ok(None) => break,
                Err(e) => return (out, Some(e)),
            }
        }
        assert!(pos <= buf.len());
        if eof {
            return (out, None);
        }
        buf.drain(..pos);
        r.consumed(pos);
        let end = (fed + chunk).min(data.len());
        buf.extend_from_slice(&data[fed..end]);
        fed = end;
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, file)) = data.split_first() else { return };
    let whole = read(file, file.len().max(1));
    assert_eq!(read(file, 1), whole);
    assert_eq!(read(file, usize::from(sel) + 1), whole);
});
