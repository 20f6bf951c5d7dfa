//! The histograms inside a run file: written as base64 of the HDR V2
//! compressed format, read back under a memory bound.
//!
//! hdrhistogram trusts the sizes in a serialized header: it allocates a
//! payload buffer of whatever length the header claims (up to 4 GiB) and a
//! counts array sized by the claimed precision (tens of MB at five
//! significant digits). A run file is edited by hand and passed between
//! machines, so [`decode_histogram`] inflates and checks the header itself
//! first and hands hdrhistogram only what fits within a few hundred KiB.

use std::io::Read;

use base64::Engine;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;

/// The HDR V2 cookies (format version 2, word size 8).
const V2_COOKIE: u32 = 0x1c84_9313;
const V2_COMPRESSED_COOKIE: u32 = 0x1c84_9314;
/// Cookie, payload length, normalizing offset, digits, lowest, highest, ratio.
const V2_HEADER_LEN: usize = 40;
/// The most significant digits read back: what the recorder keeps. At 3
/// digits even a 64-bit range needs under half a MiB of counts.
const MAX_DIGITS: u32 = 3;
/// The largest inflated histogram read back. Every count takes at most 9
/// bytes and a 3-digit, 64-bit histogram has under 56k of them.
const MAX_INFLATED: usize = 512 * 1024;

/// A histogram as base64 of its V2 compressed serialization.
pub fn encode_histogram(histogram: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    // Serializing into memory can fail only on a histogram this crate
    // never builds (more than 2^31 buckets); an empty string then reads
    // back as "missing" rather than wrong.
    if V2DeflateSerializer::new()
        .serialize(histogram, &mut bytes)
        .is_err()
    {
        return String::new();
    }
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Reads a histogram written by [`encode_histogram`], refusing one whose
/// header asks for more memory than a histogram opmon writes can need.
pub fn decode_histogram(text: &str) -> Result<Histogram<u64>, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| format!("not base64: {e}"))?;
    let plain = inflate(&bytes)?;
    check_header(&plain)?;
    Deserializer::new()
        .deserialize(&mut plain.as_slice())
        .map_err(|e| format!("not an HDR histogram: {e:?}"))
}

fn word(bytes: &[u8], at: usize) -> u32 {
    let mut four = [0; 4];
    four.copy_from_slice(&bytes[at..at + 4]);
    u32::from_be_bytes(four)
}

/// The uncompressed V2 encoding inside a compressed one, at most
/// [`MAX_INFLATED`] bytes.
fn inflate(bytes: &[u8]) -> Result<Vec<u8>, String> {
    if bytes.len() < 8 || word(bytes, 0) != V2_COMPRESSED_COOKIE {
        return Err("not an HDR histogram: no compressed V2 header".to_owned());
    }
    let mut plain = Vec::new();
    flate2::read::ZlibDecoder::new(&bytes[8..])
        .take(MAX_INFLATED as u64 + 1)
        .read_to_end(&mut plain)
        .map_err(|e| format!("not an HDR histogram: {e}"))?;
    if plain.len() > MAX_INFLATED {
        return Err(format!(
            "not an HDR histogram opmon writes: it inflates past {} KiB",
            MAX_INFLATED / 1024
        ));
    }
    Ok(plain)
}

/// Refuses a V2 header whose payload length disagrees with the bytes
/// present or whose precision would need a large counts array.
fn check_header(plain: &[u8]) -> Result<(), String> {
    if plain.len() < V2_HEADER_LEN || word(plain, 0) != V2_COOKIE {
        return Err("not an HDR histogram: no V2 header inside".to_owned());
    }
    let payload = word(plain, 4) as usize;
    if payload != plain.len() - V2_HEADER_LEN {
        return Err(format!(
            "not an HDR histogram: its header claims {payload} bytes of counts, {} follow",
            plain.len() - V2_HEADER_LEN
        ));
    }
    let digits = word(plain, 12);
    if digits > MAX_DIGITS {
        return Err(format!(
            "not an HDR histogram opmon writes: {digits} significant digits, at most {MAX_DIGITS}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_survive_the_round_trip() {
        let mut histogram = crate::load::new_histogram();
        for us in [120, 450, 450, 9_000, 2_500_000] {
            histogram.record(us).unwrap();
        }
        let back = decode_histogram(&encode_histogram(&histogram)).unwrap();
        assert_eq!(back.len(), 5);
        assert_eq!(back.max(), histogram.max());
        assert_eq!(
            back.value_at_quantile(0.5),
            histogram.value_at_quantile(0.5)
        );
        assert!(decode_histogram("not base64!").is_err());
        assert!(decode_histogram("aGVsbG8=").is_err());
    }

    /// A header that claims 4 GiB of counts or five significant digits is
    /// refused before hdrhistogram allocates for it.
    #[test]
    fn oversized_headers_are_refused() {
        let five_digits = Histogram::<u64>::new_with_bounds(1, u64::MAX / 2, 5).unwrap();
        let error = decode_histogram(&encode_histogram(&five_digits)).unwrap_err();
        assert!(error.contains("5 significant digits"), "{error}");

        let mut plain = Vec::new();
        plain.extend(V2_COOKIE.to_be_bytes());
        plain.extend(u32::MAX.to_be_bytes());
        plain.extend([0; 4]);
        plain.extend(3u32.to_be_bytes());
        plain.extend(1u64.to_be_bytes());
        plain.extend(1000u64.to_be_bytes());
        plain.extend(1f64.to_be_bytes());
        let mut compressed = Vec::new();
        flate2::read::ZlibEncoder::new(plain.as_slice(), flate2::Compression::fast())
            .read_to_end(&mut compressed)
            .unwrap();
        let mut bytes = V2_COMPRESSED_COOKIE.to_be_bytes().to_vec();
        bytes.extend((compressed.len() as u32).to_be_bytes());
        bytes.extend(compressed);
        let text = base64::engine::general_purpose::STANDARD.encode(bytes);
        let error = decode_histogram(&text).unwrap_err();
        assert!(error.contains("claims 4294967295 bytes"), "{error}");
    }
}
