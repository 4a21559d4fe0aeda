//! The C ABI called from Rust as a C program would: events through an
//! `extern "C"` callback, NULL pointers refused with a status, errors
//! written into the caller's buffer and cut to fit.

use std::ffi::{c_char, c_void, CStr};
use std::ptr;

use dpi::*;
use dpi_core::testing::{tcp_ipv4_frame, udp_ipv4_frame};

/// What the callback saw: (kind, protocol, end reason).
type Seen = Vec<(DpiEventKind, String, Option<String>)>;

extern "C" fn record(event: *const DpiEvent, user: *mut c_void) {
    // SAFETY: the library hands a valid event for the call; `user` is the
    // `Seen` the test passed.
    let (e, seen) = unsafe { (&*event, &mut *user.cast::<Seen>()) };
    // SAFETY: the event's strings are NUL-terminated while the call lasts.
    let text = |p: *const c_char| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
    let end = (!e.end_reason.is_null()).then(|| text(e.end_reason));
    seen.push((e.kind, text(e.protocol), end));
}

#[test]
fn an_http_exchange_and_a_dns_query_through_the_callback() {
    let c = dpi_classifier_builtin();
    assert!(!c.is_null());
    // SAFETY: `c` is a live classifier.
    let m = unsafe { dpi_meter_new(c) };
    // SAFETY: freed once; the meter keeps its share.
    unsafe { dpi_classifier_free(c) };
    let (cl, sv) = ([10, 0, 0, 1], [10, 0, 0, 2]);
    let req = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
    let frames = [
        tcp_ipv4_frame(cl, 40000, sv, 80, 1, 1, 0x18, req),
        tcp_ipv4_frame(sv, 80, cl, 40000, 1, 40, 0x11, b""),
        tcp_ipv4_frame(cl, 40000, sv, 80, 40, 2, 0x11, b""),
        udp_ipv4_frame(
            cl,
            5353,
            [10, 0, 0, 53],
            53,
            b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x03com\x00\x00\x01\x00\x01",
        ),
    ];
    let mut seen: Seen = Vec::new();
    let user = (&mut seen as *mut Seen).cast::<c_void>();
    for (i, f) in frames.iter().enumerate() {
        // SAFETY: a live meter, `f` readable for its length.
        let status = unsafe {
            dpi_meter_push(
                m,
                DPI_LINK_ETHERNET,
                i as u64 * 1_000,
                f.as_ptr(),
                f.len(),
                f.len() as u32,
                Some(record),
                user,
            )
        };
        assert_eq!(status, DPI_OK);
    }
    // SAFETY: a live meter.
    assert_eq!(unsafe { dpi_meter_live_flows(m) }, 2);
    // Three seconds on: the closed TCP flow's linger has passed.
    // SAFETY: a live meter.
    assert_eq!(
        unsafe { dpi_meter_expire(m, 3_000_000_000, Some(record), user) },
        DPI_OK
    );
    // SAFETY: a live meter.
    assert_eq!(unsafe { dpi_meter_flush(m, Some(record), user) }, DPI_OK);
    // SAFETY: a live meter.
    assert_eq!(unsafe { dpi_meter_live_flows(m) }, 0);
    // SAFETY: freed once.
    unsafe { dpi_meter_free(m) };
    let ev = |k, p: &str, e: Option<&str>| (k, p.to_string(), e.map(str::to_string));
    use DpiEventKind::{Ended, Labelled};
    assert_eq!(
        seen,
        [
            // The request decides HTTP at once; the closed flow ends
            // after its linger.
            ev(Labelled, "HTTP", None),
            ev(Ended, "HTTP", Some("closed")),
            // A lone query waits for more (its answer could change the
            // label): labelled when it ends.
            ev(Labelled, "DNS", None),
            ev(Ended, "DNS", Some("flushed")),
        ]
    );
}

#[test]
fn null_pointers_are_refused() {
    // SAFETY: every call is made with NULL where the library allows it.
    unsafe {
        assert!(dpi_meter_new(ptr::null()).is_null());
        let frame = [0u8; 4];
        let status = dpi_meter_push(
            ptr::null_mut(),
            1,
            0,
            frame.as_ptr(),
            4,
            4,
            None,
            ptr::null_mut(),
        );
        assert_eq!(status, DPI_ERR_ARGUMENT);
        assert_eq!(
            dpi_meter_flush(ptr::null_mut(), None, ptr::null_mut()),
            DPI_ERR_ARGUMENT
        );
        assert_eq!(
            dpi_meter_expire(ptr::null_mut(), 0, None, ptr::null_mut()),
            DPI_ERR_ARGUMENT
        );
        assert_eq!(dpi_meter_live_flows(ptr::null()), 0);
        dpi_meter_free(ptr::null_mut());
        dpi_classifier_free(ptr::null_mut());
        let c = dpi_classifier_builtin();
        let m = dpi_meter_new(c);
        dpi_classifier_free(c);
        let status = dpi_meter_push(m, 1, 0, ptr::null(), 10, 10, None, ptr::null_mut());
        assert_eq!(status, DPI_ERR_ARGUMENT);
        // No data at all is a frame too short to decode, not an error.
        let status = dpi_meter_push(m, 1, 0, ptr::null(), 0, 0, None, ptr::null_mut());
        assert_eq!(status, DPI_OK);
        dpi_meter_free(m);
        let v = CStr::from_ptr(dpi_version()).to_str().unwrap();
        assert_eq!(v, env!("CARGO_PKG_VERSION"));
    }
}

#[test]
fn signature_file_errors_name_the_file_and_fit_the_buffer() {
    let dir = std::env::temp_dir().join(format!("dpi-capi-abi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.sig");
    std::fs::write(&bad, "Service: x tcp port 80 n = 1 src = \"zz\"\n").unwrap();
    let path = std::ffi::CString::new(bad.to_str().unwrap()).unwrap();
    let paths = [path.as_ptr()];
    let mut error = [0x55 as c_char; 256];
    // SAFETY: one valid path; `error` is writable for its length.
    let c =
        unsafe { dpi_classifier_from_files(paths.as_ptr(), 1, error.as_mut_ptr(), error.len()) };
    assert!(c.is_null());
    // SAFETY: the library NUL-terminated it.
    let text = unsafe { CStr::from_ptr(error.as_ptr()) }
        .to_string_lossy()
        .into_owned();
    assert!(text.contains("bad.sig:1:"), "{text}");
    let mut small = [0x55 as c_char; 8];
    // SAFETY: as above, with a buffer too small for the message.
    let c =
        unsafe { dpi_classifier_from_files(paths.as_ptr(), 1, small.as_mut_ptr(), small.len()) };
    assert!(c.is_null());
    assert_eq!(small[7], 0);
    // SAFETY: NUL-terminated within its 8 bytes.
    assert_eq!(
        unsafe { CStr::from_ptr(small.as_ptr()) }.to_bytes().len(),
        7
    );
    // No file, a NULL path, a NULL error buffer.
    // SAFETY: NULL and zero counts are allowed.
    unsafe {
        assert!(
            dpi_classifier_from_files(ptr::null(), 0, error.as_mut_ptr(), error.len()).is_null()
        );
        assert_eq!(
            CStr::from_ptr(error.as_ptr()).to_str().unwrap(),
            "no signature file given"
        );
        let null_path = [ptr::null::<c_char>()];
        assert!(dpi_classifier_from_files(null_path.as_ptr(), 1, ptr::null_mut(), 0).is_null());
    }
    let good = dir.join("good.sig");
    std::fs::write(&good, "Service: http tcp port 80 n = 1 src = \"474554\"\n").unwrap();
    let path = std::ffi::CString::new(good.to_str().unwrap()).unwrap();
    let paths = [path.as_ptr()];
    // SAFETY: one valid path, no error buffer.
    let c = unsafe { dpi_classifier_from_files(paths.as_ptr(), 1, ptr::null_mut(), 0) };
    assert!(!c.is_null());
    // SAFETY: freed once.
    unsafe { dpi_classifier_free(c) };
    std::fs::remove_dir_all(&dir).unwrap();
}
