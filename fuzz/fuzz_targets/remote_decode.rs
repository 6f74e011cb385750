#![no_main]
//! The remote_write receiver's decoder and store append on arbitrary bodies:
//! nothing may panic; a decoded request re-encodes to a body that decodes to
//! the same request; a request answered with anything but 204 leaves the store
//! exactly as it was.
//!
//! Input: byte 0's low bit says whether the rest is the HTTP body as is
//! (exercising snappy) or protobuf bytes to snappy-compress first (exercising
//! the protobuf decoder and label checks).
//!
//! Run from fuzz/: `RUSTC_BOOTSTRAP=1 cargo fuzz run remote_decode -- -max_total_time=600`
use libfuzzer_sys::fuzz_target;
use promlite::model::{Labels, MatchOp, Matcher, Queryable};
use promlite::store::{Store, StoreConfig};
use promlite_remote::proto::compress;
use promlite_remote::{decode_write_request, encode_write_request, handle_write};
use prost::Message;

fn dump(store: &Store) -> Vec<(Labels, Vec<(i64, u64)>)> {
    let all = Matcher::new(MatchOp::RegexMatch, "__name__", ".*").unwrap();
    let mut v: Vec<_> = store
        .select(&[all], i64::MIN, i64::MAX)
        .unwrap()
        .into_iter()
        .map(|s| (s.labels, s.samples.iter().map(|x| (x.t, x.v.to_bits())).collect()))
        .collect();
    v.sort();
    v
}

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, rest)) = data.split_first() else {
        return;
    };
    let body = if ctl & 1 == 1 { compress(rest) } else { rest.to_vec() };
    let Ok(d) = decode_write_request(&body) else {
        // Undecodable: refused before the store is touched (an empty store,
        // shared between runs, must stay empty).
        static EMPTY: std::sync::OnceLock<Store> = std::sync::OnceLock::new();
        let store = EMPTY.get_or_init(|| Store::new(StoreConfig::default()));
        let r = handle_write(store, &body, Some("snappy"), Some("application/x-protobuf"));
        assert!(r.status >= 400 && !r.body.is_empty());
        assert_eq!(store.stats().series, 0);
        return;
    };
    let again =
        decode_write_request(&encode_write_request(&d.request)).expect("re-encoded body decodes");
    assert_eq!(again.request.encode_to_vec(), d.request.encode_to_vec());
    let store = Store::new(StoreConfig::default());
    // Something already there, so a conflicting sample can be refused.
    store
        .append_batch([(Labels::from_pairs([("__name__", "a")]), 1, 1.0)])
        .unwrap();
    let before = dump(&store);
    let r = handle_write(&store, &body, Some("snappy"), Some("application/x-protobuf"));
    if r.status != 204 {
        assert!(!r.body.is_empty());
        assert_eq!(dump(&store), before);
    }
});
