//! FTP control channel (RFC 959) with passive mode.

use super::{text_dialogue, Dialogue, From};

/// A login, a passive-mode LIST announcing `data_port` on `server_ip`, and QUIT.
pub fn session(server_ip: [u8; 4], data_port: u16) -> Dialogue {
    let pasv = format!(
        "227 Entering Passive Mode ({},{},{},{},{},{}).",
        server_ip[0],
        server_ip[1],
        server_ip[2],
        server_ip[3],
        data_port >> 8,
        data_port & 0xff
    );
    text_dialogue(&[
        (From::Server, &["220 (vsFTPd 3.0.3)"]),
        (From::Client, &["USER anonymous"]),
        (From::Server, &["331 Please specify the password."]),
        (From::Client, &["PASS anonymous@"]),
        (From::Server, &["230 Login successful."]),
        (From::Client, &["SYST"]),
        (From::Server, &["215 UNIX Type: L8"]),
        (From::Client, &["PWD"]),
        (From::Server, &["257 \"/\" is the current directory"]),
        (From::Client, &["TYPE I"]),
        (From::Server, &["200 Switching to Binary mode."]),
        (From::Client, &["PASV"]),
        (From::Server, &[&pasv]),
        (From::Client, &["LIST"]),
        (From::Server, &["150 Here comes the directory listing."]),
        (From::Server, &["226 Directory send OK."]),
        (From::Client, &["QUIT"]),
        (From::Server, &["221 Goodbye."]),
    ])
}

/// The directory listing sent on the data connection.
pub fn listing() -> Vec<u8> {
    super::crlf_lines(&[
        "drwxr-xr-x    2 0        0            4096 Dec 12 09:14 pub",
        "-rw-r--r--    1 0        0           22528 Dec 12 09:13 README",
        "-rw-r--r--    1 0        0        10485760 Dec 12 09:13 test-10M.bin",
    ])
}
