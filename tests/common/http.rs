//! A plain HTTP/1.0 exchange over a std TcpStream, for servers reached
//! through a forward: the request as given, the whole answer back.
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Sends `request` to `addr` and reads until the server closes. A relay
/// that never ends fails the test (a 30 s read timeout) instead of hanging it.
pub fn exchange(addr: &str, request: &[u8]) -> String {
    let mut s = super::ok(TcpStream::connect(addr), "connect to the forward");
    super::ok(
        s.set_read_timeout(Some(Duration::from_secs(30))),
        "read timeout",
    );
    super::ok(s.write_all(request), "send request");
    let mut body = Vec::new();
    super::ok(s.read_to_end(&mut body), "read answer");
    String::from_utf8_lossy(&body).into_owned()
}
