//! Counting the messages of a response as its bytes pass.
//!
//! gRPC frames each message as a 5-byte prefix (a compression flag and a
//! big-endian length) followed by that many bytes, and HTTP/2 cuts the
//! stream into DATA frames without regard to those boundaries. The
//! counter follows the prefixes across frames, so a server stream's
//! message count is exact without decoding anything.

const PREFIX: usize = 5;

/// Messages seen so far in one response body.
#[derive(Debug, Default)]
pub(crate) struct MessageCounter {
    prefix: [u8; PREFIX],
    prefix_len: usize,
    /// Bytes of the current message still to come.
    remaining: u64,
    count: u64,
}

impl MessageCounter {
    /// Follows `bytes`, the next stretch of the body.
    pub(crate) fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if self.remaining > 0 {
                let skip = bytes
                    .len()
                    .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
                bytes = &bytes[skip..];
                self.remaining -= skip as u64;
                continue;
            }
            let take = (PREFIX - self.prefix_len).min(bytes.len());
            self.prefix[self.prefix_len..self.prefix_len + take].copy_from_slice(&bytes[..take]);
            self.prefix_len += take;
            bytes = &bytes[take..];
            if self.prefix_len == PREFIX {
                let [_, a, b, c, d] = self.prefix;
                self.remaining = u64::from(u32::from_be_bytes([a, b, c, d]));
                self.prefix_len = 0;
                self.count += 1;
            }
        }
    }

    /// Messages whose prefix has arrived.
    pub(crate) fn count(&self) -> u64 {
        self.count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(len: u32) -> Vec<u8> {
        let mut bytes = vec![0];
        bytes.extend_from_slice(&len.to_be_bytes());
        bytes.extend(std::iter::repeat_n(7, len as usize));
        bytes
    }

    #[test]
    fn counts_messages_however_the_body_is_cut() {
        let body: Vec<u8> = [message(3), message(0), message(300), message(1)].concat();
        for cut in [1, 2, 4, 5, 6, 64, body.len()] {
            let mut counter = MessageCounter::default();
            for piece in body.chunks(cut) {
                counter.feed(piece);
            }
            assert_eq!(counter.count(), 4, "pieces of {cut} bytes");
        }
    }
}
