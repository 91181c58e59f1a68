//! How records are delimited on the wire (RFC 6587, RFC 5425, RFC 5426).

/// How one record is delimited from the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `LEN SP MSG`: mandatory on TLS (RFC 5425), default on TCP. A value with a raw LF cannot
    /// end the record early.
    OctetCounting,
    /// `MSG LF`: on TCP for receivers that want it, and for files and stdout. Safe only because
    /// the encoders never let a raw LF into a record.
    Lf,
    /// One record per datagram (UDP, the local syslog socket).
    Datagram,
}

impl Framing {
    /// Bytes the framing adds around a record of at most `max` bytes (an upper bound).
    pub fn overhead(self, max: usize) -> usize {
        match self {
            Framing::OctetCounting => decimal_digits(max) + 1,
            Framing::Lf => 1,
            Framing::Datagram => 0,
        }
    }
}

pub(crate) fn decimal_digits(mut n: usize) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

/// Appends `record` to `out` framed as `framing`.
pub fn write_framed(framing: Framing, record: &[u8], out: &mut Vec<u8>) {
    match framing {
        Framing::OctetCounting => {
            let mut digits = [0u8; 20];
            let mut n = record.len();
            let mut i = digits.len();
            loop {
                i -= 1;
                digits[i] = b'0' + (n % 10) as u8;
                n /= 10;
                if n == 0 {
                    break;
                }
            }
            out.extend_from_slice(&digits[i..]);
            out.push(b' ');
            out.extend_from_slice(record);
        }
        Framing::Lf => {
            out.extend_from_slice(record);
            out.push(b'\n');
        }
        Framing::Datagram => out.extend_from_slice(record),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octet_counting_prefixes_the_byte_length() {
        let mut out = Vec::new();
        write_framed(Framing::OctetCounting, "é\nx".as_bytes(), &mut out);
        assert_eq!(out, b"4 \xc3\xa9\nx");
        out.clear();
        write_framed(Framing::OctetCounting, &[b'a'; 10], &mut out);
        assert_eq!(&out[..3], b"10 ");
    }

    #[test]
    fn overhead_bounds_the_prefix() {
        assert_eq!(Framing::OctetCounting.overhead(8192), 5);
        assert_eq!(Framing::OctetCounting.overhead(9), 2);
        assert_eq!(Framing::Lf.overhead(8192), 1);
        assert_eq!(Framing::Datagram.overhead(2048), 0);
        for len in [0usize, 9, 10, 99, 100, 8192] {
            let mut out = Vec::new();
            write_framed(Framing::OctetCounting, &vec![b'x'; len], &mut out);
            assert!(out.len() - len <= Framing::OctetCounting.overhead(len.max(1)));
        }
    }
}
