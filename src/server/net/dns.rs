//! Just enough of the DNS wire format (RFC 1035) for the grant resolver:
//! the question a query asks, a refusal to send back, and the addresses an
//! answer gives. Queries come from a sandbox and answers from a resolver,
//! so every read is bounds-checked and a malformed message is an error,
//! never a panic.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const HEADER: usize = 12;
/// Record types whose addresses a grant lets the sandbox connect to.
pub const TYPE_A: u16 = 1;
pub const TYPE_AAAA: u16 = 28;
const CLASS_IN: u16 = 1;
/// Longest name on the wire (RFC 1035 §2.3.4).
const MAX_NAME: usize = 255;
/// Compression pointers followed while skipping one name; a loop ends here.
const MAX_POINTERS: usize = 16;

/// Response codes the resolver answers with itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rcode {
    FormErr = 1,
    ServFail = 2,
    NxDomain = 3,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    #[error("message cut short")]
    Short,
    #[error("not a standard query with one question")]
    NotAQuery,
    #[error("not an answer to the query sent")]
    NotTheAnswer,
    #[error("malformed name")]
    BadName,
}

/// The one question of a standard query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub id: u16,
    /// Lower case, without the final dot; empty for the root.
    pub name: String,
    pub qtype: u16,
    /// Where the question ends in the message (answers copy it).
    question_end: usize,
}

fn u16_at(msg: &[u8], at: usize) -> Result<u16, DnsError> {
    match msg.get(at..at + 2) {
        Some(b) => Ok(u16::from_be_bytes([b[0], b[1]])),
        None => Err(DnsError::Short),
    }
}

/// Parse a query as a stub resolver sends it: not a response, opcode
/// QUERY, exactly one question of class IN, its name written out in full
/// (a pointer in the first name could only point into the header).
pub fn parse_query(msg: &[u8]) -> Result<Query, DnsError> {
    let id = u16_at(msg, 0)?;
    let flags = u16_at(msg, 2)?;
    let is_response = flags & 0x8000 != 0;
    let opcode = (flags >> 11) & 0xf;
    if is_response || opcode != 0 || u16_at(msg, 4)? != 1 {
        return Err(DnsError::NotAQuery);
    }
    let mut at = HEADER;
    let mut labels: Vec<String> = Vec::new();
    let mut wire_len = 1;
    loop {
        let len = *msg.get(at).ok_or(DnsError::Short)? as usize;
        at += 1;
        if len == 0 {
            break;
        }
        if len > 63 {
            return Err(DnsError::BadName);
        }
        wire_len += len + 1;
        if wire_len > MAX_NAME {
            return Err(DnsError::BadName);
        }
        let label = msg.get(at..at + len).ok_or(DnsError::Short)?;
        // Host names only: what a grant can name (letters, digits, '-',
        // and '_' as in service labels).
        if !label
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
        {
            return Err(DnsError::BadName);
        }
        labels.push(String::from_utf8_lossy(label).to_ascii_lowercase());
        at += len;
    }
    let qtype = u16_at(msg, at)?;
    if u16_at(msg, at + 2)? != CLASS_IN {
        return Err(DnsError::NotAQuery);
    }
    Ok(Query {
        id,
        name: labels.join("."),
        qtype,
        question_end: at + 4,
    })
}

/// The id of a message, if it has one, to refuse what cannot be parsed.
pub fn id_of(msg: &[u8]) -> Option<u16> {
    u16_at(msg, 0).ok()
}

/// An answer to `query` (as received) with no records and `rcode`.
pub fn refusal(msg: &[u8], query: &Query, rcode: Rcode) -> Vec<u8> {
    let mut out = Vec::with_capacity(query.question_end);
    out.extend_from_slice(&query.id.to_be_bytes());
    // QR, the query's RD, RA, and the code.
    let rd = msg.get(2).map_or(0, |b| b & 0x01);
    out.push(0x80 | rd);
    out.push(0x80 | rcode as u8);
    out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    out.extend_from_slice(msg.get(HEADER..query.question_end).unwrap_or_default());
    out
}

/// A header-only error answer for a message whose question is unreadable.
pub fn format_error(id: u16) -> Vec<u8> {
    let mut out = id.to_be_bytes().to_vec();
    out.extend_from_slice(&[0x80, 0x80 | Rcode::FormErr as u8, 0, 0, 0, 0, 0, 0, 0, 0]);
    out
}

/// Skip a (possibly compressed) name starting at `at`; where it ends.
fn skip_name(msg: &[u8], mut at: usize) -> Result<usize, DnsError> {
    let mut end = None;
    let mut pointers = 0;
    loop {
        let len = *msg.get(at).ok_or(DnsError::Short)?;
        match len {
            0 => return Ok(end.unwrap_or(at + 1)),
            l if l & 0xc0 == 0xc0 => {
                let target = (u16_at(msg, at)? & 0x3fff) as usize;
                end.get_or_insert(at + 2);
                pointers += 1;
                if pointers > MAX_POINTERS {
                    return Err(DnsError::BadName);
                }
                at = target;
            }
            l if l & 0xc0 != 0 => return Err(DnsError::BadName),
            l => at += 1 + l as usize,
        }
    }
}

/// The addresses (A and AAAA records) in the answer section of `msg`,
/// which must answer query `id`.
pub fn answer_addresses(msg: &[u8], id: u16) -> Result<Vec<IpAddr>, DnsError> {
    if u16_at(msg, 0)? != id || u16_at(msg, 2)? & 0x8000 == 0 {
        return Err(DnsError::NotTheAnswer);
    }
    let questions = u16_at(msg, 4)?;
    let answers = u16_at(msg, 6)?;
    let mut at = HEADER;
    for _ in 0..questions {
        at = skip_name(msg, at)? + 4;
    }
    let mut found = Vec::new();
    for _ in 0..answers {
        at = skip_name(msg, at)?;
        let rtype = u16_at(msg, at)?;
        let class = u16_at(msg, at + 2)?;
        let len = u16_at(msg, at + 8)? as usize;
        let data = msg.get(at + 10..at + 10 + len).ok_or(DnsError::Short)?;
        at += 10 + len;
        if class != CLASS_IN {
            continue;
        }
        match (rtype, data.len()) {
            (TYPE_A, 4) => found.push(IpAddr::V4(Ipv4Addr::new(
                data[0], data[1], data[2], data[3],
            ))),
            (TYPE_AAAA, 16) => {
                let mut b = [0u8; 16];
                b.copy_from_slice(data);
                found.push(IpAddr::V6(Ipv6Addr::from(b)));
            }
            _ => {}
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &str, qtype: u16) -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in name.split('.').filter(|l| !l.is_empty()) {
            m.push(label.len() as u8);
            m.extend_from_slice(label.as_bytes());
        }
        m.push(0);
        m.extend_from_slice(&qtype.to_be_bytes());
        m.extend_from_slice(&CLASS_IN.to_be_bytes());
        m
    }

    #[test]
    fn a_query_gives_its_name_in_lower_case() {
        let q = parse_query(&query("API.Example.com", TYPE_A)).unwrap();
        assert_eq!(q.id, 0x1234);
        assert_eq!(q.name, "api.example.com");
        assert_eq!(q.qtype, TYPE_A);
    }

    #[test]
    fn what_is_not_a_plain_query_is_refused() {
        let mut response = query("a.b", TYPE_A);
        response[2] |= 0x80;
        assert_eq!(parse_query(&response), Err(DnsError::NotAQuery));
        let mut two = query("a.b", TYPE_A);
        two[5] = 2;
        assert_eq!(parse_query(&two), Err(DnsError::NotAQuery));
        let mut pointer = query("a.b", TYPE_A);
        pointer[12] = 0xc0;
        assert_eq!(parse_query(&pointer), Err(DnsError::BadName));
        let mut odd = query("a.b", TYPE_A);
        odd[13] = b'.';
        assert_eq!(parse_query(&odd), Err(DnsError::BadName));
        assert_eq!(parse_query(&[0x12]), Err(DnsError::Short));
        // Every prefix of a good query is an error, never a panic.
        let good = query("api.example.com", TYPE_AAAA);
        for n in 0..good.len() {
            assert!(parse_query(&good[..n]).is_err(), "prefix {n}");
        }
    }

    #[test]
    fn a_refusal_answers_the_question_asked() {
        let m = query("x.example.net", TYPE_A);
        let q = parse_query(&m).unwrap();
        let r = refusal(&m, &q, Rcode::NxDomain);
        assert_eq!(&r[..2], &[0x12, 0x34]);
        assert_eq!(r[3] & 0x0f, 3);
        assert_ne!(r[2] & 0x80, 0);
        assert_eq!(&r[12..], &m[12..]);
        assert_eq!(answer_addresses(&r, 0x1234), Ok(vec![]));
    }

    /// An answer with a CNAME (compressed owner) then an A and an AAAA.
    fn answer() -> Vec<u8> {
        let mut m = query("www.example.com", TYPE_A);
        m[2] = 0x81;
        m[3] = 0x80;
        m[7] = 3;
        // CNAME www -> cdn.example.com (pointer to "example.com" at 16).
        m.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 6]);
        m.extend_from_slice(&[3, b'c', b'd', b'n', 0xc0, 16]);
        let cdn = m.len() - 6;
        m.extend_from_slice(&[0xc0, cdn as u8, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 1, 2, 3]);
        m.extend_from_slice(&[0xc0, cdn as u8, 0, 28, 0, 1, 0, 0, 0, 60, 0, 16]);
        m.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9]);
        m
    }

    #[test]
    fn an_answer_gives_its_addresses() {
        let got = answer_addresses(&answer(), 0x1234).unwrap();
        assert_eq!(
            got,
            vec![
                "10.1.2.3".parse::<IpAddr>().unwrap(),
                "fd00::9".parse::<IpAddr>().unwrap()
            ]
        );
        assert_eq!(
            answer_addresses(&answer(), 0x4321),
            Err(DnsError::NotTheAnswer)
        );
    }

    #[test]
    fn a_broken_answer_is_an_error() {
        let good = answer();
        for n in 12..good.len() {
            assert!(answer_addresses(&good[..n], 0x1234).is_err(), "prefix {n}");
        }
        // A pointer loop ends.
        let mut looped = good.clone();
        let first_rr = query("www.example.com", TYPE_A).len();
        looped[first_rr] = 0xc0;
        looped[first_rr + 1] = first_rr as u8;
        assert_eq!(answer_addresses(&looped, 0x1234), Err(DnsError::BadName));
    }
}
