//! SIP over UDP (RFC 3261) with SDP bodies (RFC 4566).

/// The parties of one dialog.
#[derive(Debug, Clone)]
pub struct Dialog {
    /// Caller user@host.
    pub from_uri: String,
    /// Callee user@host.
    pub to_uri: String,
    /// Caller's contact address (ip:port).
    pub caller_addr: String,
    /// Call-ID.
    pub call_id: String,
    /// From tag.
    pub from_tag: String,
    /// To tag (set by the callee).
    pub to_tag: String,
    /// Via branch.
    pub branch: String,
}

fn message(start: &str, headers: &[String], body: &str, content_type: Option<&str>) -> Vec<u8> {
    let mut out = String::new();
    out.push_str(start);
    out.push_str("\r\n");
    for h in headers {
        out.push_str(h);
        out.push_str("\r\n");
    }
    if let Some(ct) = content_type {
        out.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    out.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    out.push_str(body);
    out.into_bytes()
}

impl Dialog {
    fn common(&self, method: &str, cseq: u32, with_to_tag: bool) -> Vec<String> {
        let to_tag = if with_to_tag {
            format!(";tag={}", self.to_tag)
        } else {
            String::new()
        };
        vec![
            format!(
                "Via: SIP/2.0/UDP {};rport;branch={}",
                self.caller_addr, self.branch
            ),
            format!("From: <sip:{}>;tag={}", self.from_uri, self.from_tag),
            format!("To: <sip:{}>{to_tag}", self.to_uri),
            format!("Call-ID: {}", self.call_id),
            format!("CSeq: {cseq} {method}"),
        ]
    }

    /// An OPTIONS keep-alive / capability query.
    pub fn options(&self) -> Vec<u8> {
        let mut h = self.common("OPTIONS", 1, false);
        h.insert(1, "Max-Forwards: 70".into());
        h.push(format!("Contact: <sip:{}>", self.caller_addr));
        h.push("Accept: application/sdp".into());
        h.push("User-Agent: Linphone/5.2.0 (belle-sip/5.2.0)".into());
        message(
            &format!("OPTIONS sip:{} SIP/2.0", self.to_uri),
            &h,
            "",
            None,
        )
    }

    /// An INVITE offering `sdp`.
    pub fn invite(&self, sdp: &str) -> Vec<u8> {
        let mut h = self.common("INVITE", 20, false);
        h.insert(1, "Max-Forwards: 70".into());
        h.push(format!("Contact: <sip:{}>", self.caller_addr));
        h.push("Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, MESSAGE, SUBSCRIBE, INFO, UPDATE".into());
        h.push("User-Agent: Linphone/5.2.0 (belle-sip/5.2.0)".into());
        message(
            &format!("INVITE sip:{} SIP/2.0", self.to_uri),
            &h,
            sdp,
            Some("application/sdp"),
        )
    }

    /// A response to `method` (CSeq `cseq`), with an optional SDP answer.
    pub fn response(
        &self,
        code: u16,
        reason: &str,
        method: &str,
        cseq: u32,
        contact: &str,
        sdp: Option<&str>,
    ) -> Vec<u8> {
        let mut h = self.common(method, cseq, code != 100);
        if code != 100 {
            h.push(format!("Contact: <sip:{contact}>"));
            h.push("Server: Asterisk PBX 20.5.0".into());
        }
        match sdp {
            Some(body) => message(
                &format!("SIP/2.0 {code} {reason}"),
                &h,
                body,
                Some("application/sdp"),
            ),
            None => message(&format!("SIP/2.0 {code} {reason}"), &h, "", None),
        }
    }

    /// The ACK for a 2xx to the INVITE.
    pub fn ack(&self) -> Vec<u8> {
        let mut h = self.common("ACK", 20, true);
        h.insert(1, "Max-Forwards: 70".into());
        message(&format!("ACK sip:{} SIP/2.0", self.to_uri), &h, "", None)
    }

    /// A BYE ending the call.
    pub fn bye(&self) -> Vec<u8> {
        let mut h = self.common("BYE", 21, true);
        h.insert(1, "Max-Forwards: 70".into());
        message(&format!("BYE sip:{} SIP/2.0", self.to_uri), &h, "", None)
    }
}

/// An SDP audio offer/answer for PCMU/PCMA and telephone events at `ip:port`.
pub fn sdp_audio(user: &str, session_id: u64, ip: &str, port: u16) -> String {
    format!(
        "v=0\r\n\
         o={user} {session_id} {session_id} IN IP4 {ip}\r\n\
         s=Talk\r\n\
         c=IN IP4 {ip}\r\n\
         t=0 0\r\n\
         m=audio {port} RTP/AVP 0 8 101\r\n\
         a=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:8 PCMA/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\n\
         a=fmtp:101 0-15\r\n\
         a=sendrecv\r\n"
    )
}
