//! Bytes to text: the declared charset (BOM, `Content-Type`, `<meta>`, XML declaration),
//! corrected when the declaration is evidently wrong.

use encoding_rs::Encoding;

/// Decodes a response body. Order: a byte-order mark; then valid UTF-8 with non-ASCII
/// bytes is UTF-8 whatever a legacy single-byte declaration claims (a page labelled
/// ISO-8859-1 that is really UTF-8 is common, the reverse is almost never valid UTF-8);
/// then the `Content-Type` charset; then a `<meta charset>` / `http-equiv` / XML
/// `encoding=` in the first 2 KB; else UTF-8 with replacement characters. Returns the
/// text and the encoding used.
pub fn decode(body: &[u8], content_type: Option<&str>) -> (String, &'static str) {
    if let Some((enc, bom)) = Encoding::for_bom(body) {
        let (text, _) = enc.decode_without_bom_handling(&body[bom..]);
        return (text.into_owned(), enc.name());
    }
    let declared = content_type.and_then(charset_param).or_else(|| sniff_declaration(body));
    let utf8_ok = std::str::from_utf8(body).is_ok();
    if utf8_ok && !body.is_ascii() && declared.is_none_or(|e| e != encoding_rs::UTF_8 && e.is_single_byte()) {
        return (String::from_utf8_lossy(body).into_owned(), "UTF-8");
    }
    let enc = declared.unwrap_or(encoding_rs::UTF_8);
    let (text, _, _) = enc.decode(body);
    (text.into_owned(), enc.name())
}

fn charset_param(content_type: &str) -> Option<&'static Encoding> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim().eq_ignore_ascii_case("charset").then(|| Encoding::for_label(v.trim().trim_matches('"').as_bytes()))?
    })
}

fn sniff_declaration(body: &[u8]) -> Option<&'static Encoding> {
    let head = String::from_utf8_lossy(&body[..body.len().min(2048)]).to_ascii_lowercase();
    for key in ["charset=", "encoding="] {
        let mut from = 0;
        while let Some(i) = head[from..].find(key).map(|i| i + from) {
            let rest = &head[i + key.len()..];
            let label: String = rest
                .trim_start_matches(['"', '\''])
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'))
                .collect();
            if let Some(enc) = Encoding::for_label(label.as_bytes()) {
                return Some(enc);
            }
            from = i + key.len();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declarations_boms_and_wrong_labels() {
        let latin1 = b"<meta charset=\"iso-8859-1\"><p>Caf\xe9 cr\xe8me</p>";
        assert_eq!(decode(latin1, None).0, "<meta charset=\"iso-8859-1\"><p>Café crème</p>");
        assert_eq!(decode(b"<p>Caf\xe9</p>", Some("text/html; charset=windows-1252")).0, "<p>Café</p>");
        let utf8_mislabelled = "<p>Café crème</p>".as_bytes();
        assert_eq!(
            decode(utf8_mislabelled, Some("text/html; charset=ISO-8859-1")),
            ("<p>Café crème</p>".into(), "UTF-8")
        );
        let mut bom = vec![0xef, 0xbb, 0xbf];
        bom.extend_from_slice("Grüße".as_bytes());
        assert_eq!(decode(&bom, Some("text/plain; charset=latin1")).0, "Grüße");
        let xml = "<?xml version=\"1.0\" encoding=\"windows-1251\"?><t>\u{f2}\u{e5}\u{ea}\u{f1}\u{f2}</t>";
        let cp1251: Vec<u8> = xml.chars().map(|c| c as u32 as u8).collect();
        assert_eq!(decode(&cp1251, None).0, "<?xml version=\"1.0\" encoding=\"windows-1251\"?><t>текст</t>");
        let (garbage, enc) = decode(&[0xff, 0xfe, 0x41], None);
        assert_eq!(enc, "UTF-16LE");
        assert_eq!(garbage, "\u{fffd}");
    }
}
