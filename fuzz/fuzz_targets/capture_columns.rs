#![no_main]
//! The column builder of `kame.capture` on any capture bytes: never
//! panics; every column holds exactly one entry per row and its offsets
//! are monotonic and within the values (what pyarrow would validate);
//! cutting batches at any size gives the same rows as one batch; the
//! lean path gives the same columns as the general dissection; and the
//! resynchronisation of a byte range, from any offset, answers an offset
//! inside the window (or none) without panicking.
use kame_core::capture::{pcap_resync, Bitmap, Builder, Column, Columns};
use kame_core::wire::capfile::Reader;
use kame_core::wire::dissect::Settings;
use libfuzzer_sys::fuzz_target;

fn check_bitmap(b: &Bitmap, rows: usize) {
    assert_eq!(b.len, rows);
    assert_eq!(b.bits.len(), rows.div_ceil(8));
    assert!(b.zeros <= rows);
}

fn check(c: &Columns) {
    for (name, col) in c.each() {
        match col {
            Column::Fixed(data, valid) => {
                check_bitmap(valid, c.rows);
                assert_eq!(data.len() % c.rows.max(1), 0, "{name}");
            }
            Column::Var(data, offsets, valid) => {
                check_bitmap(valid, c.rows);
                assert_eq!(offsets.len(), 4 * (c.rows + 1), "{name}");
                let offs: Vec<i32> = offsets.chunks_exact(4).map(|o| i32::from_ne_bytes(o.try_into().unwrap())).collect();
                assert_eq!(offs.first(), Some(&0));
                assert!(offs.windows(2).all(|w| w[0] <= w[1]), "{name}");
                assert_eq!(*offs.last().unwrap() as usize, data.len(), "{name}");
            }
            Column::Bool(values, valid) => {
                check_bitmap(values, c.rows);
                check_bitmap(valid, c.rows);
            }
        }
    }
}

/// Rows built in batches of `batch` rows (by the general dissection
/// alone unless `lean`).
fn build(file: &[u8], batch: usize, verify: bool, lean: bool) -> Vec<Columns> {
    let mut r = Reader::new(4096);
    let mut b = Builder::new(Settings { hdrnestlimit: 50, verify_cksum: verify });
    b.lean = lean;
    let mut out = Vec::new();
    let mut pos = 0;
    while let Ok(Some(rec)) = r.next(file, &mut pos, true) {
        if b.full(batch) {
            out.push(b.take());
        }
        b.push(&rec);
    }
    out.push(b.take());
    for c in &out {
        assert!(c.rows <= batch);
        check(c);
    }
    out
}

fn concat(cs: &[Columns]) -> Vec<(Vec<u8>, Vec<u8>)> {
    // Per column: the values of fixed columns and the validity bits, row by row.
    let mut out = Vec::new();
    for i in 0..Columns::NAMES.len() {
        let mut vals = Vec::new();
        let mut valid = Vec::new();
        for c in cs {
            let (_, col) = c.each()[i];
            let bits = match col {
                Column::Fixed(d, v) => {
                    vals.extend_from_slice(d);
                    v
                }
                Column::Var(d, _, v) => {
                    vals.extend_from_slice(d);
                    v
                }
                Column::Bool(_, v) => v,
            };
            valid.extend((0..bits.len).map(|r| bits.bits[r / 8] >> (r % 8) & 1));
        }
        out.push((vals, valid));
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, file)) = data.split_first() else { return };
    let verify = sel & 0x80 != 0;
    let whole = build(file, usize::MAX, verify, true);
    let cut = build(file, usize::from(sel & 0x7f) + 1, verify, true);
    assert_eq!(concat(&whole), concat(&cut));
    // The lean path gives what the general dissection gives.
    assert_eq!(whole, build(file, usize::MAX, verify, false));
    // Resynchronisation from an offset chosen by the input, on a pcap.
    if file.len() > 40 && kame_core::wire::capfile::Reader::default().next(file, &mut 0, true).is_ok() {
        let start = 24 + usize::from(sel) * 7 % (file.len() - 24);
        let first_sec = u32::from_le_bytes(file[24..28].try_into().unwrap());
        let first_sec = if file[0] == 0xa1 { first_sec.swap_bytes() } else { first_sec };
        if let Some(at) = pcap_resync(&file[..24], first_sec, &file[start..], true) {
            assert!(start + at <= file.len());
        }
    }
});
