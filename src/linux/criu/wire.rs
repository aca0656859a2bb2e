//! The protobuf wire format, as far as CRIU's RPC needs it: varints and
//! length-delimited fields (strings and nested messages). Twenty-odd
//! fields do not justify a protobuf code generator.

/// A message being encoded.
#[derive(Default)]
pub struct Encoder(Vec<u8>);

const VARINT: u64 = 0;
const LEN: u64 = 2;

impl Encoder {
    fn key(&mut self, field: u32, wire: u64) {
        varint(&mut self.0, ((field as u64) << 3) | wire);
    }

    /// int32, uint32, bool and enum fields: a negative int32 is sign
    /// extended to ten bytes, as protobuf does.
    pub fn int(&mut self, field: u32, v: i64) -> &mut Self {
        self.key(field, VARINT);
        varint(&mut self.0, v as u64);
        self
    }

    pub fn bool(&mut self, field: u32, v: bool) -> &mut Self {
        self.int(field, v as i64)
    }

    pub fn bytes(&mut self, field: u32, v: &[u8]) -> &mut Self {
        self.key(field, LEN);
        varint(&mut self.0, v.len() as u64);
        self.0.extend_from_slice(v);
        self
    }

    pub fn str(&mut self, field: u32, v: &str) -> &mut Self {
        self.bytes(field, v.as_bytes())
    }

    pub fn message(&mut self, field: u32, m: &Encoder) -> &mut Self {
        self.bytes(field, &m.0)
    }

    pub fn finish(self) -> Vec<u8> {
        self.0
    }
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// One field of a decoded message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    Int(u64),
    Bytes(&'a [u8]),
}

/// The fields of `buf` in order: `(field number, value)`. Fixed-width
/// fields (which CRIU's answers do not use) end the decoding with an error
/// as surely as a truncated message.
pub fn fields(mut buf: &[u8]) -> Result<Vec<(u32, Value<'_>)>, &'static str> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let key = read_varint(&mut buf)?;
        let field = (key >> 3) as u32;
        match key & 7 {
            VARINT => out.push((field, Value::Int(read_varint(&mut buf)?))),
            LEN => {
                let n = read_varint(&mut buf)? as usize;
                if n > buf.len() {
                    return Err("truncated field");
                }
                let (v, rest) = buf.split_at(n);
                out.push((field, Value::Bytes(v)));
                buf = rest;
            }
            _ => return Err("unexpected wire type"),
        }
    }
    Ok(out)
}

fn read_varint(buf: &mut &[u8]) -> Result<u64, &'static str> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = buf.split_first().ok_or("truncated varint")?;
        *buf = rest;
        v |= ((b & 0x7f) as u64) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err("varint too long")
}

/// The last integer value of `field` (protobuf: the last one wins).
pub fn int(fields: &[(u32, Value)], field: u32) -> Option<u64> {
    fields.iter().rev().find_map(|(f, v)| match v {
        Value::Int(i) if *f == field => Some(*i),
        _ => None,
    })
}

pub fn bytes<'a>(fields: &[(u32, Value<'a>)], field: u32) -> Option<&'a [u8]> {
    fields.iter().rev().find_map(|(f, v)| match v {
        Value::Bytes(b) if *f == field => Some(*b),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_encoded_decodes_back() {
        let mut inner = Encoder::default();
        inner.str(1, "/a").int(2, 300);
        let mut m = Encoder::default();
        m.int(1, 2).bool(3, true).message(4, &inner).int(5, -1);
        let buf = m.finish();
        // Field 1, varint 2: the bytes protobuf itself writes.
        assert_eq!(&buf[..2], &[0x08, 0x02]);
        let f = fields(&buf).unwrap();
        assert_eq!(int(&f, 1), Some(2));
        assert_eq!(int(&f, 3), Some(1));
        assert_eq!(int(&f, 5), Some(u64::MAX));
        let inner = fields(bytes(&f, 4).unwrap()).unwrap();
        assert_eq!(bytes(&inner, 1), Some(&b"/a"[..]));
        assert_eq!(int(&inner, 2), Some(300));
        assert!(fields(&[0x0a, 0x05, b'x']).is_err());
    }
}
