//! A plain HTTP/1.0 exchange over a std TcpStream, for servers reached
//! through a forward: the request as given, the whole answer back.
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Sends `request` to `addr` and reads until the server closes. A relay
/// that never ends fails the test (a 30 s read timeout) instead of hanging it.
pub fn exchange(addr: &str, request: &[u8]) -> String {
    super::ok(
        try_exchange(addr, request),
        "HTTP exchange through the forward",
    )
}

/// The same, with a failure (refused, reset) as an error to poll on.
pub fn try_exchange(addr: &str, request: &[u8]) -> std::io::Result<String> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    s.write_all(request)?;
    let mut body = Vec::new();
    s.read_to_end(&mut body)?;
    Ok(String::from_utf8_lossy(&body).into_owned())
}
