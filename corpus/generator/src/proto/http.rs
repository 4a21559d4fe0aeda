//! HTTP/1.1 (RFC 9110, RFC 9112) requests and responses.

use crate::rng::Rng;

/// A GET request with the headers a desktop browser or curl sends.
pub fn get(host: &str, path: &str, user_agent: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\n\
         Host: {host}\r\n\
         User-Agent: {user_agent}\r\n\
         Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n\
         Accept-Language: en-US,en;q=0.5\r\n\
         Accept-Encoding: gzip, deflate\r\n\
         Connection: keep-alive\r\n\
         \r\n"
    )
    .into_bytes()
}

/// A `200 OK` response carrying `body`.
pub fn ok(server: &str, date: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 200 OK\r\n\
         Date: {date}\r\n\
         Server: {server}\r\n\
         Content-Type: {content_type}\r\n\
         Content-Length: {}\r\n\
         Cache-Control: max-age=3600\r\n\
         Connection: keep-alive\r\n\
         \r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// An HTML page of roughly `size` bytes with a title and filler paragraphs.
pub fn html_page(rng: &mut Rng, title: &str, size: usize) -> Vec<u8> {
    let mut page = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{title}</title>\n<link rel=\"stylesheet\" href=\"/static/site.css\">\n\
         </head>\n<body>\n<h1>{title}</h1>\n"
    );
    const WORDS: [&str; 12] = [
        "packet",
        "flow",
        "network",
        "protocol",
        "sample",
        "capture",
        "traffic",
        "header",
        "payload",
        "example",
        "documentation",
        "address",
    ];
    while page.len() + 30 < size {
        page.push_str("<p>");
        for _ in 0..12 {
            page.push_str(WORDS[(rng.next_u64() % WORDS.len() as u64) as usize]);
            page.push(' ');
        }
        page.push_str("</p>\n");
    }
    page.push_str("</body>\n</html>\n");
    page.into_bytes()
}
