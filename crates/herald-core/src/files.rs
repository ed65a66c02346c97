//! The files service's rules: which files may be stored (names, an allow-list of content
//! types checked against the content's own signature) and how much an email may carry.
//!
//! A declared type must be on the allow-list, and where the content has a recognisable
//! signature (PDF, images, Office and OpenDocument files, DICOM, RTF) that signature must agree
//! with it: a `.pdf` that is really an HTML page is refused. Text types (plain text, CSV,
//! iCalendar) have no signature, so their content must be UTF-8 without NUL bytes and must not
//! look like another format (HTML, XML, a script); calendars must start with `BEGIN:VCALENDAR`.
//! Text types are stored with `; charset=utf-8`, which is what the check established. A part
//! without a type, or with `application/octet-stream`, takes the type its signature shows.
//! HTML, SVG and scripts are never accepted: a download must not run in a browser.

/// Most bytes the attachments of one email may add up to (the mail service's 15 MB, read as
/// 15 MiB = 15,728,640 bytes: base64 makes that about 21 MB on the wire, under the 25 MB most
/// mail servers accept).
pub const MAX_ATTACHMENTS_BYTES: u64 = 15 * 1024 * 1024;

/// Longest file name, in bytes.
pub const MAX_NAME_BYTES: usize = 255;

/// Content types a file may have.
pub const ALLOWED_TYPES: [&str; 22] = [
    "application/pdf",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/tiff",
    "image/bmp",
    "image/heif",
    "text/plain",
    "text/csv",
    "text/calendar",
    "application/rtf",
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
    "application/dicom",
];

/// Types with no signature of their own: their content is checked as UTF-8 text.
const TEXT_TYPES: [&str; 3] = ["text/plain", "text/csv", "text/calendar"];

/// Legacy Office files share one container (OLE2), whose signature alone does not tell a
/// document from a workbook.
const OLE_FAMILY: [&str; 4] =
    ["application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint", "application/x-ole-storage"];

/// Office Open XML and OpenDocument files are ZIP archives; the signature names the kind when
/// the archive's first entry shows it, and is plain ZIP otherwise.
const ZIP_FAMILY: [&str; 6] = [
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
];

/// Why content was refused; the message names the types, never the content.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ContentRefused {
    /// The type is not on the allow-list.
    #[error(
        "contentType: {0} is not accepted; accepted types are PDF, images, text, CSV, calendars, RTF, Office and OpenDocument files and DICOM"
    )]
    NotAllowed(String),
    /// The content is not what the declared type says.
    #[error("contentType: the content is not {declared} ({found})")]
    Mismatch {
        /// The declared type.
        declared: String,
        /// What the content looks like.
        found: String,
    },
    /// No type was declared and the content's signature shows none.
    #[error("contentType: the file's type cannot be recognised; declare it in the part's Content-Type")]
    Unknown,
}

/// Checks a file name: 1 to 255 bytes, no path separators or control characters. The name
/// is what recipients see as the attachment's file name.
pub fn check_name(name: &str) -> Result<(), crate::Invalid> {
    let invalid = |reason: &str| Err(crate::Invalid::new("name", reason));
    if name.trim().is_empty() {
        return invalid("is required (the file part's filename)");
    }
    if name.len() > MAX_NAME_BYTES {
        return invalid("must be at most 255 bytes");
    }
    if name.contains(['/', '\\']) || name.chars().any(char::is_control) || name == "." || name == ".." {
        return invalid("must be a plain file name, without path separators or control characters");
    }
    Ok(())
}

/// The type to store for `content` declared as `declared` (a `Content-Type` value, parameters
/// allowed), or why it is refused.
pub fn check_content(declared: Option<&str>, content: &[u8]) -> Result<String, ContentRefused> {
    let sniffed = infer::get(content).map(|kind| kind.mime_type());
    let declared = declared.map(essence).filter(|t| !t.is_empty() && t != "application/octet-stream");
    let declared = match (declared, sniffed) {
        (Some(declared), _) => declared,
        (None, Some(sniffed)) => sniffed.to_string(),
        (None, None) => return Err(ContentRefused::Unknown),
    };
    if !ALLOWED_TYPES.contains(&declared.as_str()) {
        return Err(ContentRefused::NotAllowed(declared));
    }
    let mismatch = |found: &str| ContentRefused::Mismatch { declared: declared.clone(), found: found.to_string() };
    if TEXT_TYPES.contains(&declared.as_str()) {
        if let Some(sniffed) = sniffed {
            return Err(mismatch(&format!("it looks like {sniffed}")));
        }
        let text = std::str::from_utf8(content).map_err(|_| mismatch("it is not UTF-8 text"))?;
        if text.contains('\0') {
            return Err(mismatch("it holds NUL bytes"));
        }
        if declared == "text/calendar" && !text.trim_start_matches('\u{feff}').trim_start().starts_with("BEGIN:VCALENDAR") {
            return Err(mismatch("it does not start with BEGIN:VCALENDAR"));
        }
        return Ok(format!("{declared}; charset=utf-8"));
    }
    let Some(sniffed) = sniffed else { return Err(mismatch("its signature is missing")) };
    let same_family = |family: &[&str], loose: &str| family.contains(&declared.as_str()) && (family.contains(&sniffed) || sniffed == loose);
    if sniffed == declared || same_family(&OLE_FAMILY, "application/x-ole-storage") || same_family(&ZIP_FAMILY, "application/zip") {
        Ok(declared)
    } else {
        Err(mismatch(&format!("it looks like {sniffed}")))
    }
}

/// A `Content-Type` value without its parameters, in lower case.
fn essence(content_type: &str) -> String {
    content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PDF: &[u8] = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n";
    const PNG: &[u8] = &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, b'I', b'H', b'D', b'R'];

    #[test]
    fn accepts_allowed_types_whose_content_agrees() {
        assert_eq!(check_content(Some("application/pdf"), PDF).unwrap(), "application/pdf");
        assert_eq!(check_content(Some("Image/PNG; name=x"), PNG).unwrap(), "image/png");
        assert_eq!(check_content(None, PDF).unwrap(), "application/pdf", "the signature names an undeclared type");
        assert_eq!(check_content(Some("application/octet-stream"), PNG).unwrap(), "image/png");
        assert_eq!(check_content(Some("text/plain"), "Ciao, à domani\n".as_bytes()).unwrap(), "text/plain; charset=utf-8");
        assert_eq!(check_content(Some("text/csv"), b"a,b\n1,2\n").unwrap(), "text/csv; charset=utf-8");
        let calendar = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n";
        assert_eq!(check_content(Some("text/calendar"), calendar).unwrap(), "text/calendar; charset=utf-8");
        let ole = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0, 0, 0, 0];
        assert_eq!(check_content(Some("application/vnd.ms-excel"), &ole).unwrap(), "application/vnd.ms-excel");
        let zip =
            b"PK\x03\x04\x14\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x05\x00\x00\x00other";
        let docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
        assert_eq!(check_content(Some(docx), zip).unwrap(), docx, "a ZIP container may hold an Office document");
    }

    #[test]
    fn refuses_types_off_the_list_and_content_that_disagrees() {
        let refused = |declared: Option<&str>, content: &[u8]| check_content(declared, content).unwrap_err();
        assert_eq!(refused(Some("text/html"), b"<p>hi</p>"), ContentRefused::NotAllowed("text/html".into()));
        assert_eq!(refused(Some("image/svg+xml"), b"<svg/>"), ContentRefused::NotAllowed("image/svg+xml".into()));
        assert!(matches!(refused(Some("application/pdf"), PNG), ContentRefused::Mismatch { found, .. } if found.contains("image/png")));
        assert!(matches!(refused(Some("application/pdf"), b"just text"), ContentRefused::Mismatch { .. }));
        assert!(matches!(refused(Some("text/plain"), PDF), ContentRefused::Mismatch { .. }));
        assert!(matches!(refused(Some("text/plain"), b"<html><body>x</body></html>"), ContentRefused::Mismatch { .. }));
        assert!(matches!(refused(Some("text/plain"), &[0xff, 0xfe, 0x00]), ContentRefused::Mismatch { .. }));
        assert!(matches!(refused(Some("text/calendar"), b"hello"), ContentRefused::Mismatch { .. }));
        assert!(matches!(refused(Some("application/msword"), PDF), ContentRefused::Mismatch { .. }));
        assert_eq!(refused(None, b"plain words"), ContentRefused::Unknown);
        let zip = b"PK\x03\x04\x14\x00\x00\x00\x08\x00";
        assert!(matches!(refused(Some("application/zip"), zip), ContentRefused::NotAllowed(_)));
    }

    #[test]
    fn names_are_plain_file_names() {
        assert!(check_name("referto esami.pdf").is_ok());
        for bad in ["", "  ", "../etc/passwd", "a\\b.pdf", "line\nbreak.pdf", "..", &"x".repeat(256)] {
            assert_eq!(check_name(bad).unwrap_err().field, "name", "{bad:?}");
        }
    }
}
