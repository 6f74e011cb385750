//! Byte encoding shared by the snapshot and the log: LEB128 varints, zigzag
//! integers, length-prefixed strings, and a bounds-checked reader that reports
//! the offset of the first byte it could not read.

/// Appends to a byte buffer.
#[derive(Debug, Default)]
pub(crate) struct Enc {
    pub(crate) buf: Vec<u8>,
}

impl Enc {
    pub(crate) fn u8(&mut self, x: u8) {
        self.buf.push(x);
    }

    pub(crate) fn uvar(&mut self, mut x: u64) {
        while x >= 0x80 {
            self.buf.push((x as u8) | 0x80);
            x >>= 7;
        }
        self.buf.push(x as u8);
    }

    pub(crate) fn ivar(&mut self, x: i64) {
        self.uvar(((x << 1) ^ (x >> 63)) as u64);
    }

    pub(crate) fn f64(&mut self, x: f64) {
        self.buf.extend_from_slice(&x.to_bits().to_le_bytes());
    }

    pub(crate) fn bytes(&mut self, b: &[u8]) {
        self.uvar(b.len() as u64);
        self.buf.extend_from_slice(b);
    }

    pub(crate) fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }

    pub(crate) fn opt_str(&mut self, s: Option<&str>) {
        match s {
            None => self.u8(0),
            Some(s) => {
                self.u8(1);
                self.str(s);
            }
        }
    }
}

/// Why a [`Dec`] read failed: what it was reading, at which offset of the
/// buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DecErr {
    pub(crate) at: usize,
    pub(crate) what: &'static str,
}

/// Reads from a byte slice; every read is bounds-checked.
#[derive(Debug)]
pub(crate) struct Dec<'a> {
    pub(crate) b: &'a [u8],
    pub(crate) pos: usize,
}

impl<'a> Dec<'a> {
    pub(crate) fn new(b: &'a [u8]) -> Self {
        Dec { b, pos: 0 }
    }

    pub(crate) fn err(&self, what: &'static str) -> DecErr {
        DecErr { at: self.pos, what }
    }

    pub(crate) fn done(&self) -> bool {
        self.pos >= self.b.len()
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, DecErr> {
        let x = *self.b.get(self.pos).ok_or_else(|| self.err(what))?;
        self.pos += 1;
        Ok(x)
    }

    pub(crate) fn uvar(&mut self, what: &'static str) -> Result<u64, DecErr> {
        let start = self.pos;
        let mut x = 0u64;
        for shift in (0..64).step_by(7) {
            let Some(&byte) = self.b.get(self.pos) else {
                self.pos = start;
                return Err(self.err(what));
            };
            self.pos += 1;
            x |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(x);
            }
        }
        self.pos = start;
        Err(self.err(what))
    }

    /// A varint that must fit `usize` and be at most `max`.
    pub(crate) fn len(&mut self, max: usize, what: &'static str) -> Result<usize, DecErr> {
        let at = self.pos;
        let x = self.uvar(what)?;
        usize::try_from(x)
            .ok()
            .filter(|&n| n <= max)
            .ok_or(DecErr { at, what })
    }

    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, DecErr> {
        let at = self.pos;
        u32::try_from(self.uvar(what)?).map_err(|_| DecErr { at, what })
    }

    pub(crate) fn ivar(&mut self, what: &'static str) -> Result<i64, DecErr> {
        let u = self.uvar(what)?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }

    pub(crate) fn fixed(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecErr> {
        let s = self
            .b
            .get(self.pos..self.pos.saturating_add(n))
            .ok_or_else(|| self.err(what))?;
        self.pos += n;
        Ok(s)
    }

    pub(crate) fn f64(&mut self, what: &'static str) -> Result<f64, DecErr> {
        let s = self.fixed(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        Ok(f64::from_bits(u64::from_le_bytes(a)))
    }

    pub(crate) fn bytes(&mut self, what: &'static str) -> Result<&'a [u8], DecErr> {
        let n = self.len(self.b.len() - self.pos.min(self.b.len()), what)?;
        self.fixed(n, what)
    }

    pub(crate) fn str(&mut self, what: &'static str) -> Result<&'a str, DecErr> {
        let at = self.pos;
        std::str::from_utf8(self.bytes(what)?).map_err(|_| DecErr { at, what })
    }

    pub(crate) fn opt_str(&mut self, what: &'static str) -> Result<Option<&'a str>, DecErr> {
        match self.u8(what)? {
            0 => Ok(None),
            1 => self.str(what).map(Some),
            _ => Err(DecErr {
                at: self.pos - 1,
                what,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_and_truncation_is_an_error() {
        let mut e = Enc::default();
        for x in [0u64, 1, 127, 128, 300, u64::MAX] {
            e.uvar(x);
        }
        for x in [0i64, -1, 1, i64::MIN, i64::MAX] {
            e.ivar(x);
        }
        let mut d = Dec::new(&e.buf);
        for x in [0u64, 1, 127, 128, 300, u64::MAX] {
            assert_eq!(d.uvar("u").unwrap(), x);
        }
        for x in [0i64, -1, 1, i64::MIN, i64::MAX] {
            assert_eq!(d.ivar("i").unwrap(), x);
        }
        assert!(d.done());
        // u64::MAX takes 10 bytes; cut after 9 of them.
        let mut e = Enc::default();
        e.uvar(u64::MAX);
        let mut d = Dec::new(&e.buf[..9]);
        assert_eq!(d.uvar("x"), Err(DecErr { at: 0, what: "x" }));
        // An overlong length is refused, not allocated.
        let mut e = Enc::default();
        e.uvar(1 << 40);
        assert!(Dec::new(&e.buf).bytes("b").is_err());
    }
}
