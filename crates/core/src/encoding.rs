//! The one bincode configuration of the project, for every structure it encodes: consensus
//! message headers, the runtime's request headers, the transport's hello and a stream's
//! metadata file. The layout is bincode 1's original one (what its `serialize` writes):
//! integers fixed-width little endian, sequences, strings and byte vectors prefixed by a u64
//! length, bools and `Option` tags one byte, enum variants a u32. Decoding refuses input
//! longer than the caller's limit and trailing bytes: a header is exactly one value.

use bincode::Options;
use serde::{Deserialize, Serialize};

pub use bincode::Error;

fn options() -> impl Options {
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .with_little_endian()
        .reject_trailing_bytes()
}

/// The encoded bytes of `value`.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    // Writing plain integers, bools, strings and vectors into a Vec cannot fail.
    options().serialize(value).unwrap_or_default()
}

/// Decodes exactly one value from `bytes`, refusing more than `limit` bytes. (bincode
/// ignores a configured limit when it reads a slice, as the slice bounds every length prefix
/// and no allocation exceeds it; the limit is therefore checked here.)
pub fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8], limit: u64) -> Result<T, Error> {
    if bytes.len() as u64 > limit {
        return Err(Box::new(bincode::ErrorKind::SizeLimit));
    }
    options().deserialize(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    enum Shape {
        A,
        B(u32),
        C { s: String, o: Option<u64> },
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Sample {
        a: u8,
        b: u16,
        c: u32,
        d: u64,
        e: bool,
        f: Vec<u8>,
        g: Option<Vec<u8>>,
        h: Shape,
    }

    #[test]
    fn layout_is_bincode_1_fixed_width() {
        let v = Sample {
            a: 1,
            b: 2,
            c: 3,
            d: 4,
            e: true,
            f: vec![9, 8],
            g: None,
            h: Shape::B(5),
        };
        let want: Vec<u8> = [
            &[1][..],
            &[2, 0],
            &[3, 0, 0, 0],
            &[4, 0, 0, 0, 0, 0, 0, 0],
            &[1],
            &[2, 0, 0, 0, 0, 0, 0, 0, 9, 8],
            &[0],
            &[1, 0, 0, 0, 5, 0, 0, 0],
        ]
        .concat();
        assert_eq!(encode(&v), want);
        assert_eq!(decode::<Sample>(&want, 1024).unwrap(), v);
    }

    #[test]
    fn trailing_bytes_and_the_limit_are_refused() {
        let mut b = encode(&7u64);
        assert!(decode::<u64>(&b, 8).is_ok());
        assert!(decode::<u64>(&b, 7).is_err());
        b.push(0);
        assert!(decode::<u64>(&b, 64).is_err());
        // A length prefix beyond the bytes is refused, not allocated.
        let huge = encode(&u64::MAX);
        assert!(decode::<Vec<u8>>(&huge, 1 << 20).is_err());
        assert!(decode::<Vec<u64>>(&huge, 1 << 20).is_err());
    }

    fn shape() -> impl Strategy<Value = Shape> {
        prop_oneof![
            Just(Shape::A),
            any::<u32>().prop_map(Shape::B),
            (".{0,20}", any::<Option<u64>>()).prop_map(|(s, o)| Shape::C { s, o }),
        ]
    }

    proptest! {
        /// The same bytes as bincode 1's legacy `serialize`, which wrote every header and
        /// metadata file released so far.
        #[test]
        fn same_bytes_as_the_legacy_api(a: u8, b: u16, c: u32, d: u64, e: bool,
                                        f in proptest::collection::vec(any::<u8>(), 0..40),
                                        g in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)),
                                        h in shape()) {
            let v = Sample { a, b, c, d, e, f, g, h };
            let bytes = encode(&v);
            prop_assert_eq!(&bytes, &bincode::serialize(&v).unwrap());
            prop_assert_eq!(decode::<Sample>(&bytes, bytes.len() as u64).unwrap(), v);
        }
    }
}
